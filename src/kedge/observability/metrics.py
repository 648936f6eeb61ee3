"""Metrics: Kedge's Prometheus metrics, on a registry passed in (STYLE.md, *Do this* 7).

``Metrics(registry)`` creates every metric the controller reports; the controller and the
workers count through it, ``kedge controller --metrics-addr`` and the API's ``/metrics``
serve the same registry. Nothing here touches prometheus-client's global ``REGISTRY``, so
two controllers (or two tests) in one process never collide.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

__all__ = ["ENGINE_ERROR_KINDS", "PASS_BUCKETS", "Metrics", "render_metrics"]

#: the kinds of ``kedge_docker_api_errors_total`` (``kedge.errors``' EngineError subclasses)
ENGINE_ERROR_KINDS = (
    "EngineUnavailable",
    "EngineNotFound",
    "EngineConflict",
    "EndpointsActive",
    "RemovalInProgress",
    "EngineRejected",
    "EngineError",
)

#: reconcile passes last from a few milliseconds (no-op) to minutes (health waits)
PASS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """Every metric of issue 5, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.passes = Counter(
            "kedge_reconcile_passes",
            "Reconcile passes by command type and result (done, failed, cancelled).",
            ["type", "result"],
            registry=registry,
        )
        self.pass_seconds = Histogram(
            "kedge_reconcile_pass_duration_seconds",
            "Duration of reconcile passes, from claim to finish.",
            ["type"],
            buckets=PASS_BUCKETS,
            registry=registry,
        )
        self.commands = Counter(
            "kedge_commands",
            "Commands by type and the status they reached (PENDING when enqueued).",
            ["type", "status"],
            registry=registry,
        )
        self.retries = Counter(
            "kedge_retries",
            "Retries enqueued after a pass failed for a reason that may clear by itself.",
            ["type"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "kedge_queue_depth", "Commands waiting in the queue (PENDING).", registry=registry
        )
        self.oldest_pending_age = Gauge(
            "kedge_queue_oldest_pending_age_seconds",
            "Age of the oldest PENDING command (0 when none is waiting).",
            registry=registry,
        )
        self.drift = Counter(
            "kedge_drift_detected",
            "Times observed state differed from desired, by stack and drift mode.",
            ["stack", "mode"],
            registry=registry,
        )
        self.spec_errors = Counter(
            "kedge_spec_errors",
            "Spec files that failed to parse or validate, by stack.",
            ["stack"],
            registry=registry,
        )
        self.stack_info = Gauge(
            "kedge_stack_info",
            "Always 1: one series per stack with its applied version, sync and health.",
            ["stack", "version", "sync", "health"],
            registry=registry,
        )
        self.docker_errors = Counter(
            "kedge_docker_api_errors",
            "Errors of the Docker engine, by kind (the EngineError subclass).",
            ["kind"],
            registry=registry,
        )
        for kind in ENGINE_ERROR_KINDS:  # present at 0 from the start, so rates work
            self.docker_errors.labels(kind=kind)
        self.events = Counter(
            "kedge_docker_events",
            "Docker events about managed containers that led to a RECONCILE, by action.",
            ["action"],
            registry=registry,
        )
        self._info_lock = threading.Lock()
        self._info_labels: dict[str, tuple[str, str, str, str]] = {}

    def set_stack_info(self, stack: str, *, version: int | None, sync: str, health: str) -> None:
        """Replace the stack's info series so that exactly one exists per stack."""
        labels = (stack, "" if version is None else str(version), sync, health)
        with self._info_lock:
            previous = self._info_labels.get(stack)
            if previous == labels:
                return
            if previous is not None:
                self.stack_info.remove(*previous)
            self.stack_info.labels(*labels).set(1)
            self._info_labels[stack] = labels

    def forget_stack(self, stack: str) -> None:
        """Drop the info series of a deleted stack."""
        with self._info_lock:
            previous = self._info_labels.pop(stack, None)
            if previous is not None:
                self.stack_info.remove(*previous)

    def set_queue(self, *, depth: int, oldest_age: float) -> None:
        self.queue_depth.set(depth)
        self.oldest_pending_age.set(max(oldest_age, 0.0))


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus' text format, as ``/metrics`` serves it."""
    return generate_latest(registry)
