"""Health and readiness: one rule for when a container is done, for every wait and every status.

A wait asks of one container's current run whether it is what it waits for (``WaitFor``):

- ``ready`` (``--wait`` of ``kedge up``, ``apply``, ``rollback``; ready counts and health
  in status): a running container is done when healthy, or running when it has no
  healthcheck; a container that exited 0 under ``restart: "no"`` or ``on-failure`` is done
  (it completed), whether or not another service waits for it; any other exit fails, with
  its exit code. Compose's ``up --wait`` fails a standalone job that succeeded; Kedge does
  not (README, *Compared with Docker Compose*).
- ``healthy`` (``depends_on: service_healthy``): healthy; a container with no healthcheck,
  an unhealthy one or one that exited fails, as in compose.
- ``completed`` (``service_completed_successfully``): exited 0; another exit code fails.
- ``started`` (``service_started``): started.

The answer is a ``Verdict``: done, waiting (ask again at the next health result or exit)
or failed, with a reason that completes "<container> …". Health statuses for the stack's
status are the same verdicts in gitops-engine's words, totally ordered from best to worst
so that combining is taking the worst one: ``Healthy < Progressing < Missing < Degraded <
Unknown``.

A stack's health (``stack_health``) is the worst of its desired services' healths; a
service with fewer containers than its replicas is Missing, or Progressing while an APPLY
or ROLLBACK is under way (``moving``: it is about to create them). Containers of services
the desired stack does not name are drift, which sync reports, not health.

Pure: callers pass what Docker said (``Run``, ``ObservedContainer``) and what is desired
(``DesiredStack``, ``planning.desired.desire``), never raw dicts. Callers:
``reconcilers.health`` (every wait of the executor), ``controller.assessor`` (the health
the controller records), ``api.monitoring`` and ``api.observing`` (live health and ready
counts of the API, the dashboard and ``kedge status``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from kedge.planning import desired
from kedge.planning.actions import WaitFor
from kedge.planning.desired import DesiredService, DesiredStack
from kedge.planning.observed import ObservedContainer, ObservedStack

__all__ = [
    "HEALTH_ORDER",
    "Health",
    "Readiness",
    "Run",
    "Verdict",
    "health_of",
    "is_ready",
    "is_worse",
    "judge",
    "ready_count",
    "render_failure",
    "run_of",
    "service_health",
    "stack_health",
    "worst",
]

#: how many of a failed container's last output lines a failure shows
LAST_LINES = 10


class Readiness(StrEnum):
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"


class Health(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"


#: best first; a status later in the tuple is worse
HEALTH_ORDER: tuple[Health, ...] = (
    Health.HEALTHY,
    Health.PROGRESSING,
    Health.MISSING,
    Health.DEGRADED,
    Health.UNKNOWN,
)

_HEALTH_OF = {
    Readiness.DONE: Health.HEALTHY,
    Readiness.WAITING: Health.PROGRESSING,
    Readiness.FAILED: Health.DEGRADED,
}


@dataclass(frozen=True, slots=True)
class Run:
    """What Docker says of one container's current run.

    ``state`` is Docker's ``State.Status``; ``health`` its health status, "none" without a
    healthcheck; ``exit_code`` the code of the last exit (read when the run is over);
    ``restart`` the restart policy's name (compose's or Docker's; ``on-failure:3`` and ""
    are understood).
    """

    state: str
    health: str = "none"
    exit_code: int | None = None
    restart: str = "no"

    @property
    def is_one_shot(self) -> bool:
        return desired.is_one_shot(self.restart)


@dataclass(frozen=True, slots=True)
class Verdict:
    readiness: Readiness
    reason: str  # completes "<container> …": "is healthy", "exited with code 3"
    exit_code: int | None = None  # set when the verdict is about an exit

    @property
    def is_done(self) -> bool:
        return self.readiness is Readiness.DONE

    @property
    def is_failed(self) -> bool:
        return self.readiness is Readiness.FAILED

    @property
    def health(self) -> Health:
        return _HEALTH_OF[self.readiness]


def judge(run: Run, want: WaitFor = WaitFor.READY) -> Verdict:
    """Whether one container's current run is what ``want`` waits for (see the docstring)."""
    if run.state in ("created", "removing"):
        return Verdict(Readiness.WAITING, f"is {run.state}")
    if want is WaitFor.STARTED:
        return Verdict(Readiness.DONE, "was started")
    if run.state in ("exited", "dead", "restarting"):
        return _judge_exit(run, want)
    if run.state == "paused":
        return Verdict(Readiness.FAILED, "is paused")
    if want is WaitFor.COMPLETED:
        return Verdict(Readiness.WAITING, "is still running")
    return _judge_running(run, needs_check=want is WaitFor.HEALTHY)


def _judge_running(run: Run, *, needs_check: bool) -> Verdict:
    if run.health == "healthy":
        return Verdict(Readiness.DONE, "is healthy")
    if run.health == "starting":
        return Verdict(Readiness.WAITING, "is starting (its healthcheck has not passed yet)")
    if run.health == "unhealthy":
        return Verdict(Readiness.FAILED, "is unhealthy")
    if needs_check:
        return Verdict(Readiness.FAILED, "has no healthcheck, so it can never be healthy")
    return Verdict(Readiness.DONE, "is running (it has no healthcheck)")


def _judge_exit(run: Run, want: WaitFor) -> Verdict:
    code = run.exit_code if run.exit_code is not None else -1
    exited = f"exited with code {code}"
    if run.state == "dead":
        return Verdict(Readiness.FAILED, f"is dead ({exited})", code)
    if want is WaitFor.HEALTHY:
        return Verdict(Readiness.FAILED, f"{exited} before it was healthy", code)
    if code != 0:
        return Verdict(Readiness.FAILED, exited, code)
    if want is WaitFor.COMPLETED or run.is_one_shot:
        return Verdict(Readiness.DONE, "completed (exited with code 0)", code)
    policy = run.restart.split(":", 1)[0]
    return Verdict(
        Readiness.FAILED,
        f"{exited}, but restart: {policy} starts it again; a service that runs once and"
        ' exits needs restart: "no" or on-failure',
        code,
    )


def render_failure(name: str, verdict: Verdict, *, output: Sequence[str] = ()) -> str:
    """The message of a failed wait: the container, why, and the last lines it printed."""
    text = f"{name} {verdict.reason}"
    lines = [line.rstrip() for line in output if line.strip()][-LAST_LINES:]
    if not lines:
        return text
    label = "its last lines" if verdict.exit_code is not None else "its last check said"
    return f"{text}; {label}:\n" + "\n".join(f"  | {line}" for line in lines)


def run_of(container: ObservedContainer, service: DesiredService | None) -> Run:
    """A container's current run; its restart policy is its desired service's ("no" for a
    container of a service the desired stack does not name)."""
    restart = service.restart if service is not None else "no"
    return Run(container.state, container.health, container.exit_code, restart)


def health_of(container: ObservedContainer, service: DesiredService | None) -> Health:
    """One container's health: its ``ready`` verdict in status words."""
    return judge(run_of(container, service)).health


def is_ready(container: ObservedContainer, service: DesiredService | None) -> bool:
    """Whether a container counts as ready: done by the ``ready`` rule."""
    return judge(run_of(container, service)).is_done


def ready_count(containers: Iterable[ObservedContainer], desired: DesiredStack) -> int:
    """How many of ``containers`` are ready, each by its desired service's restart policy."""
    return sum(is_ready(c, desired.services.get(c.service)) for c in containers)


def is_worse(first: Health, second: Health) -> bool:
    return HEALTH_ORDER.index(first) > HEALTH_ORDER.index(second)


def worst(healths: Iterable[Health]) -> Health:
    """The worst of ``healths``; Healthy when there are none."""
    return max(healths, key=HEALTH_ORDER.index, default=Health.HEALTHY)


def service_health(
    service: DesiredService | None,
    containers: Sequence[ObservedContainer],
    *,
    moving: bool = False,
) -> Health:
    """One service's health: its containers' healths and, when it has fewer than its desired
    replicas, Missing (Progressing while ``moving``: an apply under way creates them). A
    service the desired stack does not name (None) has only its containers' healths."""
    healths = [health_of(c, service) for c in containers]
    if service is not None and len(containers) < service.replicas:
        healths.append(Health.PROGRESSING if moving else Health.MISSING)
    return worst(healths)


def stack_health(desired: DesiredStack, observed: ObservedStack, *, moving: bool = False) -> Health:
    """The stack's health: the worst of its desired services' (see the docstring)."""
    return worst(
        service_health(service, observed.containers_of(name), moving=moving)
        for name, service in sorted(desired.services.items())
    )
