"""Actions and plans: what the planner decides and the executor carries out (DESIGN.md, *plan*).

The planner (``planning.planner``) returns a ``Plan``: a DAG of actions. Each action names the
actions it comes after (``after``, their ``id``s), and the executor (``reconcilers``) starts
each one as soon as those are done, dispatching it by its kind; compose's ``PlanNode.DependsOn``
is the same idea. Each action maps to exactly one Docker call (``wait`` is the one exception: a
health or completion gate, no call) and carries a ``cause`` that says why it is there. Its
``level`` (1 + the deepest level it comes after) is what ``Plan.render()`` shows first.

Actions are referential: a ``create_container`` names the service, the replica number, the
container name and the config hash to stamp; the executor builds the Docker configuration
from the ``StackSpec`` itself. Targets read ``<kind>:<name>``: ``container:shop-web-1``,
``network:shop_default``, ``volume:shop_data``, ``image:shop-web``, ``service:db`` (a wait on
every container of a service).

What each kind asks of the executor (fields of ``Action``):

- ``build_image`` / ``pull_image``: ``name`` is the image reference, ``service`` the service
  whose ``build`` section it is built from;
- ``create_network`` / ``create_volume``: ``name``, ``key`` (its config in the spec) and the
  ``config_hash`` label to stamp; ``remove_network``: ``object_id`` (and ``name``);
  ``remove_volume``: ``name``;
- ``create_container``: ``service``, ``number``, ``name``, ``config_hash``; the container also
  carries ``kedge.container-number`` and ``kedge.depends-on`` (``desired.depends_on_label``);
- ``resume_container``: ``object_id`` of a paused container, unpaused (Docker's word);
- ``start_container``: ``object_id`` for an existing container, else ``name`` (one created
  earlier in the same plan); ``stop_container`` / ``remove_container``: ``object_id``;
  ``rename_container``: ``object_id`` and ``new_name``;
- ``wait``: ``condition`` and ``required``; on ``service:<name>`` every container of that
  service (by label: replica numbers need not be 1..n), on ``container:<name>`` that one.

Images: an image reference that is not present locally becomes ``build_image`` when the
service has ``build`` and ``pull_image`` otherwise. Kedge plans the pull rather than failing
the plan: the planner cannot know whether a registry answers, and where none does the pull
fails at execute time with the engine's error naming the image.

Refusals: where the desired state cannot be reached without a consent the command did not
give (a volume whose config changed, without ``allow_data_loss``) or a precondition that
does not hold (a missing external network), the planner raises ``PlanRefused``; it carries
the plan with its ``refusals`` so that ``kedge plan`` can still show it. A refused plan is
never executed: raising makes that impossible to forget.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from kedge.errors import PlanError

__all__ = [
    "Action",
    "ActionKind",
    "Plan",
    "PlanOptions",
    "PlanRefused",
    "Refusal",
    "WaitFor",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ActionKind(StrEnum):
    """What an action does; one Docker call each, except ``wait``."""

    BUILD_IMAGE = "build_image"
    PULL_IMAGE = "pull_image"
    CREATE_NETWORK = "create_network"
    REMOVE_NETWORK = "remove_network"
    CREATE_VOLUME = "create_volume"
    REMOVE_VOLUME = "remove_volume"
    CREATE_CONTAINER = "create_container"
    START_CONTAINER = "start_container"
    RESUME_CONTAINER = "resume_container"  # Docker's unpause
    STOP_CONTAINER = "stop_container"
    REMOVE_CONTAINER = "remove_container"
    RENAME_CONTAINER = "rename_container"
    WAIT = "wait"


class WaitFor(StrEnum):
    """The state a ``wait`` action waits for, after compose's depends_on conditions."""

    STARTED = "started"  # service_started: running
    HEALTHY = "healthy"  # service_healthy: healthy (unhealthy fails)
    COMPLETED = "completed"  # service_completed_successfully: exited 0
    READY = "ready"  # --wait: healthy, running without a healthcheck, or a one-shot that exited 0


class Action(BaseModel):
    """One step of a plan.

    ``id`` numbers the actions of a plan from 1 in their order; ``after`` holds the ids of the
    actions that must be done before this one starts (none: it may start at once), each
    smaller than its own; ``level`` is 1 + the highest level among them (1 without any).

    Fields beyond ``kind``, ``target``, ``cause`` and the three above are set where the kind
    needs them:

    - ``service``/``number``: the service and replica number of a container action, the
      service of a ``wait`` or of an image action;
    - ``name``: the Docker name of the object (container, network, volume) or the image
      reference for ``build_image``/``pull_image``;
    - ``key``: the compose key of a network or volume (``default``, ``data``), so that the
      executor finds its config in the ``StackSpec``;
    - ``object_id``: the id of the existing container or network acted upon;
    - ``config_hash``: the ``kedge.config-hash`` label a ``create_*`` stamps, and the
      ``kedge.build-hash`` label a ``build_image`` stamps on the image;
    - ``new_name``: the name a ``rename_container`` gives;
    - ``condition``/``required``: what a ``wait`` waits for, and whether its failure fails
      the pass (``required: false`` in depends_on makes it a warning);
    - ``inherit``: the anonymous volumes (target, volume name) of the container a
      ``create_container`` replaces, which the new one mounts again where it would get fresh
      ones (the spec's ``- /path`` and the image's ``VOLUME``s), as compose does;
    - ``anonymous_volumes``: the anonymous volumes a ``remove_container`` removes after the
      container (a delete with its volumes), those a recreate carried over included, which
      ``docker compose down --volumes`` leaves behind.
    """

    model_config = _FROZEN

    kind: ActionKind
    target: str
    cause: str
    id: int = 0
    after: tuple[int, ...] = ()
    level: int = 0
    service: str | None = None
    number: int | None = None
    name: str = ""
    key: str | None = None
    object_id: str | None = None
    config_hash: str | None = None
    new_name: str | None = None
    condition: WaitFor | None = None
    required: bool = True
    inherit: tuple[tuple[str, str], ...] = ()
    anonymous_volumes: tuple[str, ...] = ()

    def render(self) -> str:
        kind = self.kind.value
        if self.condition is not None:
            kind += f":{self.condition.value}"
        return f"{self.level:<3}{kind:<17}{self.target}: {self.cause}"

    def render_edge(self) -> str:
        """One line of ``Plan.render_graph()``: ``[1,2] -> #3 start_container container:…``."""
        kind = self.kind.value
        if self.condition is not None:
            kind += f":{self.condition.value}"
        after = ",".join(str(n) for n in self.after)
        return f"[{after}] -> #{self.id} {kind} {self.target}: {self.cause}"


class Refusal(BaseModel):
    """A part of the desired state the planner will not reach, and why."""

    model_config = _FROZEN

    target: str
    cause: str
    #: it may clear without a new version: what is missing can appear (an image loaded, an
    #: external network created); a refusal to lose data cannot
    clears: bool = False

    def render(self) -> str:
        return f"!! refused         {self.target}: {self.cause}"


class Plan(BaseModel):
    """The actions that turn observed into desired, as a DAG (``Action.after``).

    ``actions`` is in a topological order: sorted by level, and within a level in the
    planner's deterministic order, with ids 1, 2, … in that order. ``render()`` is one line
    per action (its level first), then one per refusal; an empty plan renders as the empty
    string. ``render_graph()`` shows the edges themselves, as compose's ``Plan.String()``.
    """

    model_config = _FROZEN

    stack: str
    actions: tuple[Action, ...] = ()
    refusals: tuple[Refusal, ...] = ()

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def is_empty(self) -> bool:
        return not self.actions and not self.refusals

    @property
    def is_refused(self) -> bool:
        return bool(self.refusals)

    def render(self) -> str:
        lines = [a.render() for a in self.actions] + [r.render() for r in self.refusals]
        return "\n".join(lines)

    def render_graph(self) -> str:
        """One line per action with the ids it comes after, then one per refusal."""
        lines = [a.render_edge() for a in self.actions] + [r.render() for r in self.refusals]
        return "\n".join(lines)

    def summary(self) -> str:
        """One line for logs: how many actions of each kind."""
        counts: dict[str, int] = {}
        for action in self.actions:
            counts[action.kind.value] = counts.get(action.kind.value, 0) + 1
        if not counts:
            return "nothing to do"
        return ", ".join(f"{counts[k]} {k}" for k in sorted(counts))


class PlanOptions(BaseModel):
    """What a command allows the planner to do beyond the safe default."""

    model_config = _FROZEN

    #: recreate a volume whose config changed, losing its data
    allow_data_loss: bool = False
    #: on delete, remove the stack's volumes too (``kedge down --volumes``)
    remove_volumes: bool = False
    #: carry out ``pull_policy: always`` / ``build``: pull or build again though the image is
    #: present. True for an apply or a rollback (compose's ``up``); a drift repair or resync
    #: leaves it False, so a controller does not pull at every resync.
    refresh_images: bool = False

    @classmethod
    def from_command(
        cls, options: Mapping[str, Any], *, refresh_images: bool = False
    ) -> PlanOptions:
        """Read the options a ``Command`` carries; keys the planner does not use are ignored."""
        return cls(
            allow_data_loss=bool(options.get("allow_data_loss", False)),
            remove_volumes=bool(options.get("remove_volumes", options.get("volumes", False))),
            refresh_images=refresh_images,
        )


class PlanRefused(PlanError):
    """The planner refused part of the desired state; ``plan`` holds the plan and its refusals."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        #: retried (``KedgeError.temporary``) only when every refusal may clear by itself
        self.temporary = bool(plan.refusals) and all(r.clears for r in plan.refusals)
        causes = "; ".join(f"{r.target}: {r.cause}" for r in plan.refusals)
        super().__init__(f"plan refused for stack {plan.stack}: {causes}")
