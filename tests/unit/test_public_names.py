"""Each package's public face, pinned (as httpx's ``test_exported_members.py`` does).

A name added to or dropped from a face is a change of what other layers and other code may
use, so it is made here on purpose, beside the code. The packages without a face of their own
(``api``, ``cli``, ``planning``, ``reconcilers``, ``specs``) are used through their modules.
And every module keeps STYLE.md's rule: an ``__all__`` whose names all exist.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import kedge

FACES: dict[str, list[str]] = {
    "kedge": ["__version__"],
    "kedge.controller": ["Controller", "ControllerSettings"],
    "kedge.errors": [
        "CancelledError",
        "ConflictError",
        "EndpointsActive",
        "EngineConflict",
        "EngineError",
        "EngineNotFound",
        "EngineRejected",
        "EngineUnavailable",
        "FencingError",
        "HealthError",
        "KedgeError",
        "Location",
        "NotFoundError",
        "PlanError",
        "QueryError",
        "RemovalInProgress",
        "SpecError",
        "SpecErrors",
        "StoreError",
    ],
    "kedge.observability": ["Metrics", "bind_command", "configure_logging", "render_metrics"],
    "kedge.reconcilers.preview": [
        "APPLYING",
        "SAFE",
        "Planned",
        "observe_for",
        "plan_stack",
        "preview",
    ],
    "kedge.runtime": ["Local", "Runtime", "open_engine", "open_local", "open_runtime"],
    "kedge.store": [
        "KEEP",
        "SUPERSEDING",
        "AuditEntry",  # issue #16: the audit trail
        "AuditStore",
        "CheckReport",
        "Clock",
        "CommandStore",
        "Durability",
        "Finished",
        "Keep",
        "LogLine",
        "MadeToken",  # issue #16: Kedge's own tokens
        "Page",
        "Pruned",
        "Recorded",
        "RetentionPolicy",
        "RetryPolicy",
        "SqliteStore",
        "StackStatus",
        "StackStore",
        "Store",
        "TokenInfo",  # issue #16
        "TokenStore",  # issue #16
        "VersionStore",
        "open_store",
        "utc_now",
    ],
}
WITHOUT_A_FACE = ["kedge.api", "kedge.cli", "kedge.planning", "kedge.reconcilers", "kedge.specs"]


@pytest.mark.parametrize("name", sorted(FACES))
def test_a_package_shows_the_names_it_means_to(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(FACES[name])
    for public in module.__all__:
        assert getattr(module, public) is not None, f"{name}.{public}"


@pytest.mark.parametrize("name", WITHOUT_A_FACE)
def test_a_package_without_a_face_exports_nothing(name: str) -> None:
    module = importlib.import_module(name)
    assert getattr(module, "__all__", []) == []


def _modules() -> list[str]:
    found = pkgutil.walk_packages(kedge.__path__, prefix="kedge.")
    return sorted(m.name for m in found if m.name != "kedge.__main__")


@pytest.mark.parametrize("name", _modules())
def test_every_module_says_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    if name in WITHOUT_A_FACE:
        return
    assert names is not None, f"{name} has no __all__"
    missing = [n for n in names if not hasattr(module, n)]  # a lazy face imports them here
    assert missing == [], f"{name}.__all__ names what it lacks"
    assert len(set(names)) == len(names), f"{name}.__all__ names one twice"
