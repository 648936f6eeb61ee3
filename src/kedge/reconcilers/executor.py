"""The executor: carries out a ``Plan``, a DAG of actions; it decides nothing.

Each action is dispatched by its kind to its reconciler (networks, volumes, containers,
images) or, for ``wait``, to a health gate (``reconcilers.health``). An action starts as soon
as the actions it comes after (``Action.after``) are done, as compose's ``ExecutePlan`` does:
a slow gate holds back the services that depend on it and nothing else. Of the ready
actions, those with the longest chain of actions after them start first (then plan order).

Parallelism is bounded: at most ``parallel`` actions talk to Docker at once, one per
connection of the engine's pool. A gate is not counted while it only waits for an event (it
takes a slot for each call it makes), so waiting gates never starve the creates and starts of
other services. After a failure nothing new starts; the actions already running (gates
included) finish, then the failure is raised — the first one in plan order if several failed
meanwhile. The dependents of a failed action are never started. A cancel check runs before
every action; a cancelled pass raises ``CancelledError`` after the actions already running
finish.

A ``wait`` on one container (``container:…``) is the settle step of a start-first update:
the new copy is created without its service's network aliases and gets them once the wait
is over (``containers.reveal_container``), so that clients never reach a copy that is not
ready yet.

Health gates are driven by Docker's events: when the plan has a gate, the events stream is
opened before the first action, so no health result can slip by. A gate waits on every
container of the service it names (``service:db``) or on one container (``container:…``,
start-first), up to the service's ``x-kedge.health_timeout`` (120 s by default). A gate of a
``required: false`` dependency that fails is a warning, not a failure.

The executor does not know the store: it reports each action and its outcome to the ``log``
callback, and returns an ``Outcome`` or raises the first failure with the action's target
and cause. While actions run, those that have taken longer than ``QUIET`` seconds are
reported to the ``progress`` callback ("waiting for shop-web-1 to stop (12 s)"), again every
``REPEAT`` seconds, so that nobody watches a silent pass; fast passes report nothing.
Callers: ``controller.passes.run_command`` and the local CLI verbs through it.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field

from kedge import errors
from kedge.planning.actions import Action, ActionKind, Plan, WaitFor
from kedge.reconcilers import containers, images, networks, retrying, volumes
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import POOL, Engine
from kedge.reconcilers.health import HealthWatch
from kedge.specs import labels

__all__ = ["DEFAULT_HEALTH_TIMEOUT", "PARALLEL", "Log", "Outcome", "execute"]

#: the actions that talk to Docker at once: one per connection of the engine's pool. The
#: daemon's own throughput bounds a pass; 16 against 8 took a 50-service cold apply (1 s
#: healthchecks, 2 cores) from 21.9 s to 18.9 s, the medians of four alternating runs each.
#: It is no longer what holds a cold apply back: on the 50-service chain stack (depends_on
#: depth 4) it holds back only the creates, in the first half second; from then on no ready
#: action waits for a slot, and no gate's inspect does. The starts themselves take 1-7 s each
#: in the daemon (networks, healthcheck execs of the containers already up), so 32 slots
#: gave the fan stack no gain (19.3 and 19.6 s against 24.3 and 18.5 s, alternating runs)
PARALLEL = POOL

#: the cause of the waits ``--wait`` adds after the last action (``planning.health``'s ready)
SETTLE = "--wait: healthy, running without a healthcheck, or a one-shot that exited 0"

#: the per-wait timeout when the service sets none, in seconds
DEFAULT_HEALTH_TIMEOUT = 120.0

#: ``log(level, message)``: one call when an action starts, one with its outcome
Log = Callable[[str, str], None]

#: ``progress(message)``: what the pass is still waiting for
Progress = Callable[[str], None]

#: an action running longer than this is reported as waited for, then every ``REPEAT`` s
QUIET = 3.0
REPEAT = 10.0

K = ActionKind
_RECONCILERS = {
    K.CREATE_NETWORK: networks.create_network,
    K.REMOVE_NETWORK: networks.remove_network,
    K.CREATE_VOLUME: volumes.create_volume,
    K.REMOVE_VOLUME: volumes.remove_volume,
    K.CREATE_CONTAINER: containers.create_container,
    K.START_CONTAINER: containers.start_container,
    K.RESUME_CONTAINER: containers.resume_container,
    K.STOP_CONTAINER: containers.stop_container,
    K.REMOVE_CONTAINER: containers.remove_container,
    K.RENAME_CONTAINER: containers.rename_container,
    K.BUILD_IMAGE: images.build_image,
    K.PULL_IMAGE: images.pull_image,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a pass did: how many actions ran, and the warnings of optional gates."""

    actions: int
    seconds: float
    warnings: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        text = f"{self.actions} action{'s' if self.actions != 1 else ''} in {self.seconds:.2f} s"
        return text + (f", {len(self.warnings)} warning(s)" if self.warnings else "")


def _quiet(level: str, message: str) -> None:
    """The default log: say nothing."""


def _never() -> bool:
    return False


def _silent(message: str) -> None:
    """The default progress: say nothing."""


def execute(
    engine: Engine,
    plan: Plan,
    *,
    desired: Desired,
    log: Log = _quiet,
    is_cancelled: Callable[[], bool] = _never,
    parallel: int = PARALLEL,
    settle: bool = False,
    progress: Progress = _silent,
) -> Outcome:
    """Carry out ``plan``; raise the first failure (a ``KedgeError``) with its action's cause.

    ``settle`` (``--wait`` of ``kedge up``, ``apply`` and ``rollback``) also waits, after
    every action of the plan, until every container the plan started is done by
    ``planning.health``'s ``ready`` rule: healthy, running without a healthcheck, or a
    one-shot that exited 0.
    """
    clock = time.monotonic()
    if plan.is_refused:
        raise errors.PlanError(f"a refused plan is never executed: {plan.render()}")
    withheld = frozenset(
        a.name for a in plan.actions if a.kind is K.WAIT and a.target.startswith("container:")
    )
    desired = dataclasses.replace(desired, withheld=withheld)
    nodes = graph(plan, settle=settle)
    gated = any(
        n.action.kind is K.WAIT and n.action.condition is not WaitFor.STARTED for n in nodes
    )
    slots = threading.BoundedSemaphore(max(1, parallel))
    watch = HealthWatch(engine, plan.stack, calls=slots) if gated else None
    run = _Run(engine, desired=desired, log=log, is_cancelled=is_cancelled, watch=watch)
    run.progress = progress
    run.slots = slots  # shared with the watch's inspects
    try:
        run.all(nodes, parallel=max(1, parallel))
    finally:
        if watch is not None:
            watch.close()
    return Outcome(len(plan), time.monotonic() - clock, tuple(run.warnings))


@dataclass(frozen=True, slots=True)
class Node:
    """An action to carry out, and the nodes (by index) it comes after."""

    action: Action
    after: tuple[int, ...] = ()


def graph(plan: Plan, *, settle: bool = False) -> list[Node]:
    """The plan's actions as nodes; with ``settle``, a ready wait per started container after
    every action of the plan. An ``after`` id the plan does not hold (a plan a caller cut
    down to some of its actions) is taken as done."""
    index = {a.id: n for n, a in enumerate(plan.actions) if a.id}
    nodes = [
        Node(a, tuple(sorted({index[i] for i in a.after if i in index}))) for a in plan.actions
    ]
    if settle:
        needed = {i for node in nodes for i in node.after}
        last = tuple(n for n in range(len(nodes)) if n not in needed)  # the DAG's sinks
        nodes += [Node(_settle(a), last) for a in plan.actions if a.kind is K.START_CONTAINER]
    return nodes


class _Run:
    """One execution of a plan: the state its actions share."""

    def __init__(
        self,
        engine: Engine,
        *,
        desired: Desired,
        log: Log,
        is_cancelled: Callable[[], bool],
        watch: HealthWatch | None,
    ) -> None:
        self.engine = engine
        self.desired = desired
        self.log = log
        self.is_cancelled = is_cancelled
        self.watch = watch
        self.warnings: list[str] = []
        self.progress: Progress = _silent
        self.slots = threading.BoundedSemaphore(PARALLEL)  # the calls to Docker at once
        self.running: dict[int, tuple[Action, float]] = {}  # by id(action): since when
        self.lock = threading.Lock()
        self.reported = 0.0  # when progress was last reported

    def all(self, nodes: Sequence[Node], *, parallel: int) -> None:
        """Run every node once the nodes it comes after are done, at most ``parallel`` of
        those that call Docker at once; after a failure start nothing new, let the running
        ones end, and raise the first failure in plan order."""
        schedule = _Schedule(nodes)
        running: dict[futures.Future[None], int] = {}
        failed: dict[int, BaseException] = {}
        with (
            futures.ThreadPoolExecutor(parallel, "kedge-act") as calls,
            futures.ThreadPoolExecutor(max(1, schedule.waits), "kedge-wait") as gates,
        ):
            while True:
                if not failed:
                    busy = sum(1 for n in running.values() if not schedule.is_wait(n))
                    for n in schedule.take(calls=parallel - busy):
                        pool = gates if schedule.is_wait(n) else calls
                        running[pool.submit(self.act, nodes[n].action)] = n
                if not running:
                    break
                done, _ = futures.wait(running, timeout=1.0, return_when=futures.FIRST_COMPLETED)
                self.report_waiting()
                for future in done:
                    n = running.pop(future)
                    if (failure := future.exception()) is not None:
                        failed[n] = failure
                    else:
                        schedule.done(n)
        if failed:
            raise failed[min(failed)]
        if schedule.left:  # only an ``after`` that loops can leave some never ready
            raise errors.PlanError(f"{schedule.left} actions never became ready: a cycle")

    def report_waiting(self) -> None:
        """Say what the pass waits for: the actions running longer than ``QUIET`` seconds."""
        now = time.monotonic()
        with self.lock:
            slow = [(a, now - t) for a, t in self.running.values() if now - t >= QUIET]
        if not slow or now - self.reported < REPEAT:
            return
        self.reported = now
        for line in render_waiting(slow):
            self.progress(line)

    def act(self, action: Action) -> None:
        if self.is_cancelled():
            raise errors.CancelledError(f"cancelled before {action.kind.value} {action.target}")
        self.log("info", f"{action.kind.value} {action.target}: {action.cause}")
        started = time.monotonic()
        with self.lock:
            self.running[id(action)] = (action, started)
        try:
            seen = self.carry_out(action)
        finally:
            with self.lock:
                del self.running[id(action)]
        took = time.monotonic() - started
        seen = f" ({seen})" if seen else ""
        self.log("info", f"{action.kind.value} {action.target} done in {took:.2f} s{seen}")

    def carry_out(self, action: Action) -> str:
        """Carry out one action; what a wait's gates found, or ""."""
        seen = ""
        try:
            if action.kind is K.WAIT:
                seen = self.wait(action)  # takes a slot for each of its calls
            else:
                reconciler = _RECONCILERS[action.kind]
                with self.slots:  # a retry's pause (retrying) holds the slot: it is short
                    retrying.attempt(lambda: reconciler(self.engine, action, desired=self.desired))
        except errors.KedgeError as exc:
            self.log("error", f"{action.kind.value} {action.target} failed: {exc}")
            raise _located(exc, action) from exc
        return seen

    def wait(self, action: Action) -> str:
        """Carry out a wait; what its gates found ("shop-db-1 is healthy"), or ""."""
        service = action.service or ""
        with self.slots:
            names = self.containers_of(action)
        seen = []
        if action.condition not in (None, WaitFor.STARTED):
            for name in names:
                seen.append(self.gate(action, name, timeout=self.timeout_of(service)))
        # only a start-first copy was created without its aliases (``withheld``); the plan's
        # own wait on it reveals it, the --wait settle step (READY) never: it used to
        # reconnect every container it waited for, four network calls each on two networks
        if action.target.startswith("container:") and action.condition is not WaitFor.READY:
            for name in (n for n in names if n in self.desired.withheld):
                with self.slots:
                    containers.reveal_container(
                        self.engine, name, desired=self.desired, service=service
                    )
        return "; ".join(filter(None, seen))

    def gate(self, action: Action, name: str, *, timeout: float) -> str:
        """Wait until one container is done (``planning.health``); optional gates only warn.
        Returns what it found done, "" after a warning."""
        assert self.watch is not None  # opened by execute() whenever the plan has a gate
        assert action.condition is not None  # a gate's wait names what it waits for
        try:
            verdict = self.watch.wait(name, name=name, want=action.condition, timeout=timeout)
        except errors.HealthError as exc:
            if action.required:
                raise
            warning = f"{action.target} (required: false): {exc}"
            self.warnings.append(warning)
            self.log("warning", warning)
            return ""
        return f"{name} {verdict.reason}"

    def containers_of(self, action: Action) -> list[str]:
        """The containers a wait is on: one (``container:…``) or every one of a service.

        A service's containers are listed by label when the gate opens (one call): replica
        numbers need not be 1..n, and by then the service's own actions, which the gate comes
        after, have settled them.
        """
        if not action.target.startswith("service:"):
            return [action.name or action.target.removeprefix("container:")]
        service = action.service or action.target.removeprefix("service:")
        found = self.engine.list_containers(
            {"label": [*labels.stack_filter(self.desired.stack), f"{labels.SERVICE}={service}"]}
        )
        return sorted(str((c.get("Names") or ["/"])[0]).lstrip("/") for c in found)

    def timeout_of(self, service: str) -> float:
        spec = self.desired.spec
        if spec is None or service not in spec.services:
            return DEFAULT_HEALTH_TIMEOUT
        return spec.services[service].x_kedge.health_timeout.total_seconds()


class _Schedule:
    """Which nodes may start: those whose nodes before are all done, the longest chain first.

    Of the ready nodes, the one with the most nodes still after it (its *height*) starts
    first, then plan order: a service's create and start, with gates and a whole depends_on
    chain behind them, go before the creates of leaves, which nothing waits for. (By plan order
    alone, the creates of every service went before the first start.)
    """

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = nodes
        self.waiting = [len(node.after) for node in nodes]
        self.dependents: list[list[int]] = [[] for _ in nodes]
        for n, node in enumerate(nodes):
            for before in node.after:
                self.dependents[before].append(n)
        self.height = [1] * len(nodes)
        for n in reversed(range(len(nodes))):  # nodes come after those they wait for
            self.height[n] += max((self.height[m] for m in self.dependents[n]), default=0)
        self.ready = [(-self.height[n], n) for n, count in enumerate(self.waiting) if not count]
        heapq.heapify(self.ready)
        self.waits = sum(1 for n in range(len(nodes)) if self.is_wait(n))
        self.left = len(nodes)  # not done yet

    def is_wait(self, n: int) -> bool:
        return self.nodes[n].action.kind is K.WAIT

    def take(self, *, calls: int) -> list[int]:
        """The ready nodes to start now: every wait, and calls up to ``calls`` of them."""
        taken, held = [], []
        while self.ready:
            entry = heapq.heappop(self.ready)
            if self.is_wait(entry[1]) or calls > 0:
                taken.append(entry[1])
                calls -= 0 if self.is_wait(entry[1]) else 1
            else:
                held.append(entry)
        for entry in held:
            heapq.heappush(self.ready, entry)
        return taken

    def done(self, n: int) -> None:
        self.left -= 1
        for later in self.dependents[n]:
            self.waiting[later] -= 1
            if self.waiting[later] == 0:
                heapq.heappush(self.ready, (-self.height[later], later))


_WAITING_FOR = {
    K.CREATE_NETWORK: "to be created",
    K.REMOVE_NETWORK: "to be removed",
    K.CREATE_VOLUME: "to be created",
    K.REMOVE_VOLUME: "to be removed",
    K.CREATE_CONTAINER: "to be created",
    K.START_CONTAINER: "to start",
    K.RESUME_CONTAINER: "to resume",
    K.STOP_CONTAINER: "to stop",
    K.REMOVE_CONTAINER: "to be removed",
    K.RENAME_CONTAINER: "to be renamed",
    K.BUILD_IMAGE: "to be built",
    K.PULL_IMAGE: "to be pulled",
}
_WAITING_FOR_GATE = {WaitFor.HEALTHY: "to be healthy", WaitFor.COMPLETED: "to complete"}


def render_waiting(slow: Sequence[tuple[Action, float]], *, most: int = 3) -> list[str]:
    """One line per kind of action waited for, the longest wait first: "waiting for
    shop-web-1 to stop (12 s)", or "waiting for 16 to stop (12 s): a-1, b-1, c-1 and 13 more"."""
    groups: dict[str, list[tuple[str, float]]] = {}
    for action, seconds in slow:
        if action.kind is K.WAIT:
            verb = _WAITING_FOR_GATE.get(action.condition or WaitFor.STARTED, "to start")
        else:
            verb = _WAITING_FOR.get(action.kind, "to be done")
        groups.setdefault(verb, []).append((action.name or action.target, seconds))
    lines = []
    for verb, found in sorted(groups.items(), key=lambda g: -max(s for _, s in g[1])):
        found.sort(key=lambda pair: (-pair[1], pair[0]))
        longest = f"({found[0][1]:.0f} s)"
        if len(found) == 1:
            lines.append(f"waiting for {found[0][0]} {verb} {longest}")
            continue
        names = ", ".join(name for name, _ in found[:most])
        more = f" and {len(found) - most} more" if len(found) > most else ""
        lines.append(f"waiting for {len(found)} {verb} {longest}: {names}{more}")
    return lines


_RELABELLED = (errors.EngineError, errors.HealthError, errors.CancelledError)


def _located(exc: errors.KedgeError, action: Action) -> errors.KedgeError:
    """The same kind of error, saying which action failed and why that action was there."""
    if type(exc) is errors.PlanError or isinstance(exc, _RELABELLED):
        return type(exc)(f"{action.target} ({action.cause}): {exc}")
    return exc


def _settle(start: Action) -> Action:
    """The settle step of ``--wait`` for a container the plan started."""
    return Action(
        kind=K.WAIT,
        target=start.target,
        cause=SETTLE,
        service=start.service,
        number=start.number,
        name=start.name,
        condition=WaitFor.READY,
    )
