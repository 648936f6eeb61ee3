"""What the routes depend on: the store, the engine and the controller of one app.

``create_app`` puts a ``Services`` on ``app.state.kedge``; routes take it with
``Depends(services)``. The engine and the controller are narrowed to the few methods the API
calls, so the app can be built without Docker (``engine=None``: stack details then say
Docker was not asked, and ``/readyz`` reports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Depends, Request

from kedge.reconcilers.engine import Engine
from kedge.specs.policy import Policy
from kedge.store.protocol import Store

__all__ = ["Controller", "Engine", "Services", "ServicesDep", "Store", "services"]


class Controller(Protocol):
    """The in-process controller of ``kedge serve``, as far as the API uses it."""

    def wake(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Services:
    store: Store
    engine: Engine | None
    controller: Controller | None = None
    #: the operator's host-safety policy, spec root and allowed variables (restricted)
    policy: Policy = field(default_factory=Policy)

    def wake_controller(self) -> None:
        """Tell an in-process controller that a command is waiting (it polls otherwise)."""
        if self.controller is not None:
            self.controller.wake()


def services(request: Request) -> Services:
    found = request.app.state.kedge
    assert isinstance(found, Services)
    return found


ServicesDep = Annotated[Services, Depends(services)]
