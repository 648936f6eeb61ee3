"""The remote verbs against a live server over a real store (no Docker needed here): get in
every output format, history, describe, cancel, logs of a command, diff and apply errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kedge.cli import get, remote
from kedge.specs.commands import CommandStatus, CommandType
from kedge.store import RetryPolicy
from tests.api.conftest import Seed
from tests.cli.conftest import Kedge, LiveServer, free_port


@pytest.fixture
def two_stacks(seed: Seed) -> Seed:
    v1 = seed.version("shop", by="alice")
    seed.version("shop", image="busybox:2", by="bob")
    seed.command("shop", version=v1, lines=2)
    seed.applied("shop", v1)
    seed.version("blog")
    return seed


def test_get_stacks_table(kedge: Kedge, two_stacks: Seed) -> None:
    result = kedge("get", "stacks")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["NAME", "VERSION", "DESIRED", "SYNC", "HEALTH"]
    assert lines[1].split()[0] == "blog"
    assert lines[2].split()[:5] == ["shop", "1", "1", "Synced", "Healthy"]
    assert "\x1b[" not in result.output  # no colour when not on a terminal


def test_get_stacks_wide_has_more_columns(kedge: Kedge, two_stacks: Seed) -> None:
    wide = kedge("get", "stacks", "-o", "wide").output
    assert "LAST COMMAND" in wide
    assert "APPLY DONE" in wide


def test_get_stacks_json_and_yaml_are_the_api_objects(kedge: Kedge, two_stacks: Seed) -> None:
    as_json = json.loads(kedge("get", "stacks", "-o", "json").output)
    assert as_json["kind"] == "StackList"
    assert [s["name"] for s in as_json["items"]] == ["blog", "shop"]
    as_yaml = YAML(typ="safe").load(kedge("get", "stacks", "-o", "yaml").output)
    assert as_yaml == as_json


def test_get_stacks_names(kedge: Kedge, two_stacks: Seed) -> None:
    assert kedge("get", "stacks", "-o", "name").output.split() == ["stack/blog", "stack/shop"]


def test_get_nothing_says_so(kedge: Kedge) -> None:
    result = kedge("get", "stacks")
    assert result.exit_code == 0
    assert "No resources found." in result.output


@pytest.mark.parametrize("fmt", ["table", "wide", "json", "yaml", "name"], ids=str)
def test_get_versions_and_commands_in_every_format(
    kedge: Kedge, two_stacks: Seed, fmt: str
) -> None:
    versions = kedge("get", "versions", "shop", "-o", fmt)
    commands = kedge("get", "commands", "--stack", "shop", "-o", fmt)
    assert versions.exit_code == 0, versions.output
    assert commands.exit_code == 0, commands.output
    if fmt == "name":
        assert versions.output.split() == ["version/shop.2", "version/shop.1"]
        assert commands.output.split() == ["command/1"]
    elif fmt == "json":
        assert [v["number"] for v in json.loads(versions.output)["items"]] == [2, 1]
        assert json.loads(commands.output)["items"][0]["status"] == "DONE"
    else:
        assert "shop" in commands.output
        assert "bob" in versions.output or fmt == "yaml"


def test_get_commands_filters(kedge: Kedge, two_stacks: Seed) -> None:
    two_stacks.command("blog", type=CommandType.DELETE, end=CommandStatus.PENDING)
    pending = kedge("get", "commands", "--status", "pending", "-o", "name").output.split()
    assert pending == ["command/2"]
    deletes = kedge("get", "commands", "--type", "DELETE", "-o", "json").output
    assert [c["stack"] for c in json.loads(deletes)["items"]] == ["blog"]


def test_history(kedge: Kedge, two_stacks: Seed) -> None:
    result = kedge("history", "shop")
    assert result.exit_code == 0
    rows = result.output.splitlines()
    assert rows[0].split()[:3] == ["VERSION", "CREATED", "BY"]
    assert rows[1].split()[0] == "2"
    assert "bob" in rows[1]
    assert "/specs/shop.yaml" in rows[2]
    assert rows[2].rstrip().endswith("DONE")


def test_describe_stack(kedge: Kedge, two_stacks: Seed) -> None:
    result = kedge("describe", "stack", "shop")
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.index("Versions:") < text.index("Services:") < text.index("Commands:")
    assert text.index("Commands:") < text.index("Events:")
    assert "line 2" in text.split("Events:")[1]
    assert "Health:           Healthy" in text


def test_cancel(kedge: Kedge, two_stacks: Seed) -> None:
    pending = two_stacks.command("blog", type=CommandType.DELETE, end=CommandStatus.PENDING)
    result = kedge("cancel", str(pending.id))
    assert result.exit_code == 0
    assert f"command #{pending.id} CANCELLED" in result.output
    again = kedge("cancel", str(pending.id))
    assert again.exit_code == 2
    assert "conflict" in again.output.lower() or "final" in again.output.lower()


def test_logs_of_a_command(kedge: Kedge, two_stacks: Seed) -> None:
    result = kedge("logs", "--command", "1")
    assert result.exit_code == 0
    assert [line.split()[-2:] for line in result.output.splitlines()] == [
        ["line", "1"],
        ["line", "2"],
    ]
    followed = kedge("logs", "--command", "1", "-f")
    assert followed.exit_code == 0
    assert "line 2" in followed.output


def test_unknown_stack_exits_2_with_the_problem(kedge: Kedge) -> None:
    result = kedge("history", "nobody")
    assert result.exit_code == 2
    assert "Not found" in result.output


def test_no_server_says_how_to_start_one() -> None:
    result = Kedge(f"http://127.0.0.1:{free_port()}")("get", "stacks")
    assert result.exit_code == 2
    assert "kedge serve" in result.output


def test_apply_invalid_spec_shows_where(kedge: Kedge, tmp_path: object) -> None:
    result = kedge("apply", "-f", "-", stdin="name: shop\nservices:\n  web:\n    imagee: x\n")
    assert result.exit_code == 2
    assert "stdin:4" in result.output


def test_apply_creates_a_version_and_command(kedge: Kedge) -> None:
    spec = "name: shop\nservices:\n  web:\n    image: busybox:1\n"
    result = kedge("apply", "-f", "-", stdin=spec)
    assert result.exit_code == 0, result.output
    assert "stack/shop version 1 created; command #1 APPLY PENDING" in result.output
    again = kedge("apply", "-f", "-", stdin=spec)
    assert "version 1 unchanged" in again.output


def test_diff_without_docker_is_an_error(kedge: Kedge) -> None:
    result = kedge("diff", "-f", "-", stdin="name: shop\nservices:\n  web:\n    image: b:1\n")
    assert result.exit_code == 2
    assert "Docker" in result.output


def test_apply_a_folder_interpolates_as_compose_does(
    kedge: Kedge, tmp_path: Path, live: LiveServer
) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / ".env").write_text("WEB_IMAGE=busybox:7\n")
    (folder / "shop.yaml").write_text("services:\n  web:\n    image: ${WEB_IMAGE}\n")
    (folder / "blog.yml").write_text("services:\n  web:\n    image: busybox:1\n")
    (folder / ".hidden.yaml").write_text("not: [a spec\n")
    result = kedge("apply", "-f", str(folder))
    assert result.exit_code == 0, result.output
    assert result.output.count("created") == 2
    version = live.store.versions.get("shop", 1)
    assert version.document["services"]["web"]["image"] == "busybox:7"
    assert version.source == str(folder / "shop.yaml")


def test_get_watch_prints_changed_rows(
    kedge: Kedge, two_stacks: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Ticks:
        """The watch loop's clock: the stack changes at the first tick, Ctrl-C at the third."""

        calls = 0

        def sleep(self, seconds: float) -> None:
            self.calls += 1
            if self.calls == 1:
                two_stacks.store.stacks.set_status("shop", health="Degraded")
            if self.calls == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(get, "time", Ticks())
    result = kedge("get", "stacks", "-w")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("NAME")
    assert "Healthy" in lines[2]
    assert lines[3].split()[0] == "shop"
    assert "Degraded" in lines[3]
    assert len(lines) == 4


def test_apply_wait_gives_up_after_the_timeout(kedge: Kedge) -> None:
    spec = "name: shop\nservices:\n  web:\n    image: busybox:1\n"
    result = kedge("apply", "-f", "-", "--wait", "--timeout", "1.5", stdin=spec)
    assert result.exit_code == 3, result.output  # nobody runs commands on this server
    assert "has not ended after 1.5s" in result.output


def test_describe_and_status_show_the_next_retry_and_its_cause(
    kedge: Kedge, two_stacks: Seed
) -> None:
    """Issue 13: a stack whose pass failed for a reason that may clear by itself says when
    it is tried again and why."""
    store = two_stacks.store
    command = two_stacks.command("blog", version=1, end=CommandStatus.RUNNING)
    store.commands.finish(
        command.id,
        token=command.token,
        status=CommandStatus.FAILED,
        error="pull image blog:1: not found",
        retry=RetryPolicy(max_attempts=None),
    )
    store.stacks.set_status("blog", last_error="pull image blog:1: not found")
    text = kedge("describe", "stack", "blog").output
    assert "Next retry:       due (attempt 2), command #" in text
    assert "cause: pull image blog:1: not found" in text
    assert "Next retry" not in kedge("describe", "stack", "shop").output
    wide = kedge("get", "stacks", "-o", "wide").output.splitlines()
    assert "NEXT RETRY" in wide[0]
    assert "due (attempt 2)" in wide[1]


@pytest.mark.parametrize(
    ("retry", "shown"),
    [
        pytest.param(None, "-", id="none"),
        pytest.param({"attempt": 3, "at": "2026-01-01T12:00:40Z"}, "in 40s (attempt 3)", id="in"),
        pytest.param({"attempt": 3, "at": "2026-01-01T11:59:00Z"}, "due (attempt 3)", id="due"),
        pytest.param({"attempt": 2, "at": None}, "due (attempt 2)", id="at-once"),
    ],
)
def test_render_retry(retry: dict[str, object] | None, shown: str) -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert get.render_retry({"next_retry": retry}, now=now) == shown


def test_the_age_of_a_stack_is_since_it_was_created() -> None:
    """AGE is the stack's age, as kubectl's: a later status write does not reset it."""
    row = {"created_at": "2026-01-01T00:00:00Z", "updated_at": "2999-01-01T00:00:00Z"}
    for columns in (get.STACK_COLUMNS, remote.STATUS_COLUMNS):
        [age] = [c for c in columns if c.header == "age"]
        assert age.render(row).endswith("d")  # days since creation, not "0s"
