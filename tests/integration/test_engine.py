"""The engine adapter, observe and the event-driven health gates against the real daemon."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kedge import errors
from kedge.planning.actions import Action, ActionKind, WaitFor
from kedge.reconcilers import networks, observe, retrying
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import Deadlines, Engine
from kedge.reconcilers.health import HealthWatch
from kedge.specs import labels

pytestmark = pytest.mark.docker

NS = 1_000_000_000


@pytest.fixture
def engine() -> Any:
    engine = Engine.from_env()
    yield engine
    engine.close()


def _labels(stack: str, service: str, number: int = 1) -> dict[str, str]:
    return {
        labels.MANAGED: "true",
        labels.STACK: stack,
        labels.SERVICE: service,
        labels.NUMBER: str(number),
        labels.CONFIG_HASH: f"hash-{service}",
        labels.VERSION: "3",
    }


def _create(engine: Engine, name: str, *, image: str, labels_: dict[str, str], **extra: Any) -> str:
    body = {"Image": image, "Cmd": ["sleep", "300"], "Labels": labels_, **extra}
    return engine.create_container(name, body)


def test_errors_are_translated_at_the_adapter(engine: Engine, test_image: str, stack_name: str):
    with pytest.raises(errors.EngineNotFound, match="no-such-container"):
        engine.remove_container(f"{stack_name}-no-such-container")
    _create(engine, f"{stack_name}-a-1", image=test_image, labels_=_labels(stack_name, "a"))
    with pytest.raises(errors.EngineConflict):
        _create(engine, f"{stack_name}-a-1", image=test_image, labels_=_labels(stack_name, "a"))
    with pytest.raises(errors.EngineRejected):
        engine.create_container(f"{stack_name}-bad-1", {"Image": test_image, "Cmd": 42})
    assert engine.inspect_image(f"{stack_name}/missing:1") is None


def test_a_failed_pull_may_clear_by_itself_and_a_bad_reference_does_not(
    engine: Engine, stack_name: str
):
    """Issue 13: an image the registry does not have yet, or a registry that does not answer
    (none does here), is retried by the controller; a malformed reference is not."""
    with pytest.raises(errors.EngineNotFound, match=f"pull image {stack_name}/missing:1") as e:
        engine.pull_image(f"{stack_name}/missing:1")
    assert e.value.temporary
    with pytest.raises(errors.EngineRejected) as bad:
        engine.pull_image("UPPER/Case:1")
    assert not bad.value.temporary


def test_a_network_a_running_container_holds_is_refused_at_once_naming_it(
    engine: Engine, test_image: str, stack_name: str
):
    # Docker answers 403 "has active endpoints": a conflict, not a bad request, and of its own
    # class (EndpointsActive, an EngineConflict), so no caller reads the message
    network = f"{stack_name}_back"
    engine.create_network(network, {"Labels": {labels.MANAGED: "true", labels.STACK: stack_name}})
    name = f"{stack_name}-web-1"
    host = {"NetworkMode": network}
    engine.start_container(
        _create(engine, name, image=test_image, labels_=_labels(stack_name, "web"), HostConfig=host)
    )
    with pytest.raises(errors.EndpointsActive, match="has active endpoints"):
        engine.remove_network(network)
    action = Action(
        kind=ActionKind.REMOVE_NETWORK, target=f"network:{network}", cause="t", name=network
    )
    started = time.monotonic()
    with pytest.raises(errors.EngineConflict, match=rf"active endpoints \(attached: {name}\)"):
        networks.remove_network(engine, action, desired=Desired(stack_name))
    assert time.monotonic() - started < networks.PATIENCE  # no waiting for a live container
    engine.remove_container(name, force=True)
    # through the retrier, as the executor runs it: the daemon may still be freeing the removed
    # container's endpoint, and the action no longer waits for that itself
    retrying.attempt(lambda: networks.remove_network(engine, action, desired=Desired(stack_name)))
    assert not engine.list_networks({"name": [network]})


def test_an_unreachable_daemon_is_unavailable():
    with pytest.raises(errors.EngineUnavailable):
        Engine(
            {"base_url": "unix:///nonexistent/docker.sock", "version": "1.41"},
            deadlines=Deadlines(read=2),
        ).ping()


def test_observe_finds_the_stack_by_label_in_constant_calls(
    engine: Engine, test_image: str, stack_name: str, docker_client: Any
):
    other = f"{stack_name}x"
    vol = f"{stack_name}_data"
    engine.create_volume(vol, {"Labels": {labels.MANAGED: "true", labels.STACK: stack_name}})
    engine.create_network(
        f"{stack_name}_default", {"Labels": {labels.MANAGED: "true", labels.STACK: stack_name}}
    )
    web = _create(
        engine,
        f"{stack_name}-web-1",
        image=test_image,
        labels_=_labels(stack_name, "web"),
        HostConfig={"Binds": [f"{vol}:/data"], "NetworkMode": f"{stack_name}_default"},
    )
    _create(engine, f"{stack_name}-web-2", image=test_image, labels_=_labels(stack_name, "web", 2))
    engine.start_container(web)
    stranger = _create(engine, f"{other}-db-1", image=test_image, labels_=_labels(other, "db"))
    unlabelled = docker_client.containers.create(
        test_image, ["true"], labels={labels.STACK: stack_name}
    )
    try:
        before = engine.api_calls
        found = observe.observe_stack(engine, stack_name, images=[test_image])
        assert engine.api_calls - before == 4  # containers, networks, volumes, images
    finally:
        engine.remove_container(stranger, force=True)
        unlabelled.remove(force=True)

    assert [(c.name, c.service, c.number, c.state) for c in found.containers] == [
        (f"{stack_name}-web-1", "web", 1, "running"),
        (f"{stack_name}-web-2", "web", 2, "created"),
    ]
    running = found.containers[0]
    assert running.config_hash == "hash-web"
    assert running.version == 3
    assert running.networks == (f"{stack_name}_default",)
    assert running.volumes == (vol,)
    assert running.image_id.startswith("sha256:")
    assert found.images[test_image] == running.image_id
    assert [n.name for n in found.networks] == [f"{stack_name}_default"]
    assert [v.name for v in found.volumes] == [vol]


def _checked(test: list[str], *, retries: int = 1) -> dict[str, Any]:
    return {"Test": test, "Interval": NS // 5, "Timeout": NS, "Retries": retries}


@pytest.mark.parametrize(
    ("check", "outcome"),
    [
        pytest.param(["CMD", "true"], None, id="healthy"),
        pytest.param(
            ["CMD-SHELL", "echo broken; exit 1"],
            "is unhealthy; its last check said:\n  | broken",
            id="unhealthy",
        ),
        pytest.param(None, "has no healthcheck", id="no-healthcheck"),
    ],
)
def test_wait_healthy_follows_events(
    engine: Engine, test_image: str, stack_name: str, check: list[str] | None, outcome: str | None
):
    extra = {"Healthcheck": _checked(check)} if check else {}
    cid = _create(
        engine, f"{stack_name}-db-1", image=test_image, labels_=_labels(stack_name, "db"), **extra
    )
    with HealthWatch(engine, stack_name) as watch:
        engine.start_container(cid)
        if outcome is None:
            watch.wait(cid, name="db", want=WaitFor.HEALTHY, timeout=30)
            assert engine.inspect_container(cid)["State"]["Health"]["Status"] == "healthy"
        else:
            with pytest.raises(errors.HealthError, match=outcome):
                watch.wait(cid, name="db", want=WaitFor.HEALTHY, timeout=30)


def test_wait_healthy_times_out(engine: Engine, test_image: str, stack_name: str):
    slow = _checked(["CMD", "false"], retries=1000)
    cid = _create(
        engine,
        f"{stack_name}-db-1",
        image=test_image,
        labels_=_labels(stack_name, "db"),
        Healthcheck=slow,
    )
    with HealthWatch(engine, stack_name) as watch:
        engine.start_container(cid)
        with pytest.raises(errors.HealthError, match="not healthy within 1 s: it is starting"):
            watch.wait(cid, name="db", want=WaitFor.HEALTHY, timeout=1)


@pytest.mark.parametrize(
    ("code", "outcome"), [(0, None), (3, "exited with code 3")], ids=["ok", "failed"]
)
def test_wait_completed_reads_the_exit_code(
    engine: Engine, test_image: str, stack_name: str, code: int, outcome: str | None
):
    cid = engine.create_container(
        f"{stack_name}-init-1",
        {
            "Image": test_image,
            "Cmd": ["sh", "-c", f"sleep 0.5; exit {code}"],
            "Labels": _labels(stack_name, "init"),
        },
    )
    with HealthWatch(engine, stack_name) as watch:
        engine.start_container(cid)
        if outcome is None:
            watch.wait(cid, name="init", want=WaitFor.COMPLETED, timeout=30)
        else:
            with pytest.raises(errors.HealthError, match=outcome):
                watch.wait(cid, name="init", want=WaitFor.COMPLETED, timeout=30)


@pytest.fixture
def docker_config(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A docker CLI config folder of its own, with a context ``via-link`` whose host is a
    symlink to the daemon's socket, and one ``nowhere`` whose socket does not exist."""
    from docker.context import ContextAPI

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "link.sock").symlink_to("/var/run/docker.sock")
    ContextAPI.create_context("via-link", host=f"unix://{tmp_path}/link.sock")
    ContextAPI.create_context("nowhere", host=f"unix://{tmp_path}/missing.sock")
    return tmp_path


def test_a_docker_context_is_followed_as_the_docker_cli_does(
    docker_config: Any, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DOCKER_CONTEXT", "via-link")
    engine = Engine.from_env(deadlines=Deadlines(read=5))
    try:
        engine.ping()  # through the symlink: "nowhere" below shows the context is what counts
    finally:
        engine.close()

    monkeypatch.setenv("DOCKER_CONTEXT", "nowhere")
    with pytest.raises(errors.EngineUnavailable):
        Engine.from_env(deadlines=Deadlines(read=5))

    monkeypatch.setenv("DOCKER_CONTEXT", "no-such-context")
    with pytest.raises(errors.EngineUnavailable, match="'no-such-context' does not exist"):
        Engine.from_env(deadlines=Deadlines(read=5))

    # docker context use nowhere: the config file's current context, unless DOCKER_CONTEXT
    # or DOCKER_HOST says otherwise
    monkeypatch.delenv("DOCKER_CONTEXT")
    (docker_config / "config.json").write_text('{"currentContext": "nowhere"}')
    with pytest.raises(errors.EngineUnavailable):
        Engine.from_env(deadlines=Deadlines(read=5))
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    Engine.from_env(deadlines=Deadlines(read=5)).close()
