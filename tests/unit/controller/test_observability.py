"""Metrics scraped and parsed with prometheus-client's parser; logs captured as data."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from kedge.controller.resync import count_enqueued, newest_command_id, refresh_queue_metrics
from kedge.observability import Metrics, bind_command, configure_logging, render_metrics
from kedge.specs.commands import CommandReason, CommandType
from kedge.store import SqliteStore


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render_metrics(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_registries_do_not_collide() -> None:
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    first.passes.labels(type="APPLY", result="done").inc()
    assert (
        scrape(second.registry).get(
            ("kedge_reconcile_passes_total", (("result", "done"), ("type", "APPLY")))
        )
        is None
    )
    assert (
        scrape(first.registry)[
            ("kedge_reconcile_passes_total", (("result", "done"), ("type", "APPLY")))
        ]
        == 1.0
    )


def test_every_metric_of_issue_5_is_exposed() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.passes.labels(type="APPLY", result="failed").inc()
    metrics.pass_seconds.labels(type="APPLY").observe(0.3)
    metrics.commands.labels(type="APPLY", status="DONE").inc()
    metrics.set_queue(depth=3, oldest_age=1.5)
    metrics.drift.labels(stack="shop", mode="heal").inc()
    metrics.spec_errors.labels(stack="shop").inc()
    metrics.set_stack_info("shop", version=2, sync="Synced", health="Healthy")
    metrics.docker_errors.labels(kind="EngineUnavailable").inc()
    samples = scrape(metrics.registry)
    names = {name for name, _ in samples}
    assert {
        "kedge_reconcile_passes_total",
        "kedge_reconcile_pass_duration_seconds_bucket",
        "kedge_reconcile_pass_duration_seconds_count",
        "kedge_commands_total",
        "kedge_queue_depth",
        "kedge_queue_oldest_pending_age_seconds",
        "kedge_drift_detected_total",
        "kedge_spec_errors_total",
        "kedge_stack_info",
        "kedge_docker_api_errors_total",
    } <= names
    assert samples[("kedge_queue_depth", ())] == 3
    assert samples[("kedge_queue_oldest_pending_age_seconds", ())] == 1.5
    assert samples[("kedge_reconcile_pass_duration_seconds_count", (("type", "APPLY"),))] == 1


def test_stack_info_keeps_one_series_per_stack() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.set_stack_info("shop", version=1, sync="OutOfSync", health="Progressing")
    metrics.set_stack_info("shop", version=2, sync="Synced", health="Healthy")
    info = {k: v for k, v in scrape(metrics.registry).items() if k[0] == "kedge_stack_info"}
    assert info == {
        (
            "kedge_stack_info",
            (("health", "Healthy"), ("stack", "shop"), ("sync", "Synced"), ("version", "2")),
        ): 1.0
    }
    metrics.forget_stack("shop")
    assert not [k for k in scrape(metrics.registry) if k[0] == "kedge_stack_info"]


def test_log_lines_carry_the_bound_command() -> None:
    merge = [structlog.contextvars.merge_contextvars]
    with structlog.testing.capture_logs(processors=merge) as logs, bind_command("shop", 7):
        structlog.get_logger().info("planned", actions=2)
    assert logs == [
        {"event": "planned", "actions": 2, "log_level": "info", "stack": "shop", "command_id": 7}
    ]


@pytest.mark.parametrize(
    ("as_json", "is_json"),
    [(None, True), (True, True), (False, False)],
    ids=["not-a-tty-means-json", "forced-json", "forced-console"],
)
def test_configure_logging_renders_json_off_a_terminal(as_json: bool | None, is_json: bool) -> None:
    out = io.StringIO()
    configure_logging(json=as_json, stream=out)
    try:
        with bind_command("shop", 3):
            structlog.get_logger().info("pass finished", result="done")
    finally:
        structlog.reset_defaults()
    line = out.getvalue().strip()
    if is_json:
        record = json.loads(line)
        assert record["stack"] == "shop"
        assert record["command_id"] == 3
        assert record["event"] == "pass finished"
    else:
        assert "pass finished" in line
        assert "command_id=3" in line
        assert "stack_name=shop" in line


def test_a_retry_waiting_for_its_backoff_is_not_an_old_pending_command(tmp_path: Path) -> None:
    """The oldest-pending age counts from when a command may run (its not-before)."""
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    store = SqliteStore.open(tmp_path / "kedge.db", clock=lambda: now)
    try:
        store.commands.enqueue(
            "shop",
            CommandType.DELETE,
            reason=CommandReason.RETRY,
            not_before=now + timedelta(minutes=5),
        )
        store.commands.enqueue("blog", CommandType.DELETE, reason=CommandReason.API)
        metrics = Metrics(CollectorRegistry())
        refresh_queue_metrics(store, metrics, now=now + timedelta(seconds=30))
        samples = scrape(metrics.registry)
        assert samples[("kedge_queue_depth", ())] == 2
        assert samples[("kedge_queue_oldest_pending_age_seconds", ())] == 30  # blog's
        refresh_queue_metrics(store, metrics, now=now + timedelta(minutes=6))
        assert scrape(metrics.registry)[("kedge_queue_oldest_pending_age_seconds", ())] == 360
    finally:
        store.close()


def test_every_command_written_is_counted_once_as_enqueued(tmp_path: Path) -> None:
    """Commands are counted from the queue, so those the API writes count as the
    controller's own do, and each is counted once however often the count runs."""
    store = SqliteStore.open(tmp_path / "kedge.db")
    try:
        store.commands.enqueue("old", CommandType.DELETE, reason=CommandReason.API)
        start = newest_command_id(store)  # what was there before the controller started
        metrics = Metrics(CollectorRegistry())
        for n in range(45):  # more than one page
            store.commands.enqueue(f"s{n}", CommandType.DELETE, reason=CommandReason.API)
        mark = count_enqueued(store, metrics, after=start)
        store.commands.enqueue("late", CommandType.DELETE, reason=CommandReason.PRUNE)
        mark = count_enqueued(store, metrics, after=mark)
        assert count_enqueued(store, metrics, after=mark) == mark
        pending = (("status", "PENDING"), ("type", "DELETE"))
        assert scrape(metrics.registry)[("kedge_commands_total", pending)] == 46
    finally:
        store.close()
