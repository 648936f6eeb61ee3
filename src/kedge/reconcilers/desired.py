"""What one pass acts toward: the desired ``StackSpec`` and the version and command it belongs to.

The reconcilers read their Docker configuration from the spec (actions are referential, see
``planning.actions``) and stamp ``kedge.version`` and ``kedge.command`` from here. A delete has
no desired spec. Built by the caller of ``reconcilers.executor.execute``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kedge.errors import PlanError
from kedge.reconcilers import parameters
from kedge.specs.stack import StackSpec

__all__ = ["Desired"]


@dataclass(frozen=True, slots=True)
class Desired:
    """The desired state of one pass (``spec`` is None when the stack is deleted)."""

    stack: str
    spec: StackSpec | None = None
    version: int | None = None
    command: int | None = None
    #: containers that join their service's network aliases only once healthy: the new
    #: copies of start-first updates (the executor finds them in the plan)
    withheld: frozenset[str] = frozenset()

    def must_spec(self, what: str) -> StackSpec:
        if self.spec is None:
            raise PlanError(f"{what} needs a desired stack version, and this pass has none")
        return self.spec

    def labels(self, config_hash: str | None) -> dict[str, str]:
        """Kedge's labels for an object of this pass."""
        return parameters.object_labels(
            self.stack, version=self.version, command=self.command, config_hash=config_hash
        )
