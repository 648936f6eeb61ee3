"""The composition root (``kedge.runtime``): what ``kedge serve``, ``kedge controller`` and
the local verbs are wired from, against the real daemon and a store under ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from kedge import errors, runtime
from kedge.specs.commands import CommandReason


def test_a_serving_runtime_publishes_the_store_and_serves_the_api(tmp_path: Path) -> None:
    kedge = runtime.open_runtime(tmp_path / "kedge.db", workers=1, retry_base=2.0)
    try:
        assert kedge.hub is not None
        assert kedge.controller.settings.workers == 1
        assert kedge.controller.settings.converge.backoff.total_seconds() == 2.0
        app = kedge.api(policy=kedge.controller.settings.policy, host="127.0.0.1")
        assert app.state.events is kedge.hub
        # the store the controller and the API share is the published one
        recorded = kedge.store.versions.record(
            "shop", {"v": 1}, digest="a", source="api", apply=CommandReason.API, desired=True
        )
        assert recorded.command is not None
        assert kedge.store.stacks.get("shop").desired_version == 1
        kinds = [event.kind for event in kedge.hub.recent(10, stack="shop")]
        assert kinds == ["version.created", "command.queued", "stack.status"]
    finally:
        assert kedge.close(grace=1.0)


def test_metrics_auth_reaches_the_edge(tmp_path: Path) -> None:
    """``kedge serve --metrics-auth`` is wired through the runtime to the edge (issue #16)."""
    kedge = runtime.open_runtime(tmp_path / "kedge.db", workers=1, events=False)
    try:
        policy = kedge.controller.settings.policy
        assert not kedge.api(policy=policy, host="127.0.0.1").state.edge.metrics_auth
        app = kedge.api(policy=policy, host="127.0.0.1", metrics_auth=True)
        assert app.state.edge.metrics_auth
        assert app.state.identities.metrics_auth
    finally:
        assert kedge.close(grace=1.0)


def test_a_controller_runtime_has_no_hub(tmp_path: Path) -> None:
    kedge = runtime.open_runtime(tmp_path / "kedge.db", workers=2, events=False, resync=5.0)
    try:
        assert kedge.hub is None
        assert kedge.controller.settings.resync == 5.0
    finally:
        assert kedge.close(grace=1.0)


def test_no_daemon_is_said_at_open_and_opens_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    with pytest.raises(errors.EngineError):
        runtime.open_runtime(tmp_path / "kedge.db", workers=1)
    assert not (tmp_path / "kedge.db").exists()


def test_the_local_verbs_open_the_store_and_the_engine(tmp_path: Path) -> None:
    with runtime.open_local(tmp_path / "kedge.db") as local:
        assert local.store.versions.latest("shop") is None
    assert (tmp_path / "kedge.db").exists()
