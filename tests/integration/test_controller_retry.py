"""Issue 13, Done when 2: the controller keeps converging toward a desired version.

``kedge controller`` runs as a subprocess on a folder with two stacks: one names an image
that does not exist yet (no registry answers here, so its pull fails), the other is refused
by validation. The first is retried with capped backoff; the image is then made (the test
image tagged with the missing name, as a later ``docker build`` or push would) and the stack
converges with no change to its file — across a restart of the controller, since the retry
is a command in the store. The refused one is never retried: it waits for a new version.
A stack whose health gate failed is retried as well, and converges once its container runs
healthy.

Compose has no verdict here: ``docker compose up`` fails once and does not try again.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import SqliteStore
from tests.conftest import remove_stack_objects
from tests.integration.controller_process import (
    ControllerProcess,
    running_healthy,
    sample,
    spec_text,
    wait_for,
    write_atomically,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

#: short backoff so that the test sees several retries in a few seconds
FAST_RETRIES = ("--retry-base", "0.5", "--retry-cap", "2")


@pytest.fixture
def stacks(docker_client: Any) -> Iterator[tuple[str, str]]:
    names = (f"kt{uuid.uuid4().hex[:8]}r", f"kt{uuid.uuid4().hex[:8]}v")
    yield names
    for name in names:
        remove_stack_objects(docker_client, name)


@pytest.fixture
def missing_image(docker_client: Any) -> Iterator[str]:
    """A unique image name that no registry has; untagged after the test."""
    import docker

    name = f"kedge-test/not-yet-{uuid.uuid4().hex[:8]}:1"
    yield name
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.images.remove(name)


def _commands(store: SqliteStore, stack: str) -> list[Any]:
    return list(reversed(store.commands.list(stack=stack, limit=200).items))


def _waiting_retry(store: SqliteStore, stack: str) -> Any:
    """The stack's PENDING retry once no pass of it runs, else None."""
    commands = _commands(store, stack)
    if any(c.status is CommandStatus.RUNNING for c in commands):
        return None
    pending = [c for c in commands if c.status is CommandStatus.PENDING]
    return pending[-1] if pending and pending[-1].reason is CommandReason.RETRY else None


def test_a_stack_converges_once_its_missing_image_exists(
    tmp_path: Path,
    docker_client: Any,
    test_image: str,
    missing_image: str,
    stacks: tuple[str, str],
) -> None:
    waiting, invalid = stacks
    specs, db = tmp_path / "specs", tmp_path / "kedge.db"
    specs.mkdir()
    text = spec_text(waiting, image=missing_image, services=("web",))
    write_atomically(specs / f"{waiting}.yaml", text)
    write_atomically(
        specs / f"{invalid}.yaml",
        f"name: {invalid}\nservices:\n  web:\n    image: {test_image}\n    imagee: typo\n",
    )
    ctl = ControllerProcess(specs, db, resync=60, extra=FAST_RETRIES).start()
    store = SqliteStore.open(db)
    restarted: ControllerProcess | None = None
    try:
        # -- the missing image fails the apply; it is retried, backing off --------------------
        def retried_twice() -> Any:
            retry = _waiting_retry(store, waiting)
            return retry if retry is not None and retry.attempt >= 3 else None

        retry = wait_for(retried_twice, timeout=60, what="a third attempt of the apply waiting")
        failed = store.commands.get(retry.retry_of)
        assert failed.status is CommandStatus.FAILED
        assert failed.type is CommandType.APPLY
        assert f"pull image {missing_image}" in (failed.error or "")
        assert retry.not_before is not None
        assert retry.not_before > failed.finished_at  # backed off, not at once
        status = store.stacks.get(waiting)
        assert (status.desired_version, status.applied_version) == (1, None)
        assert f"pull image {missing_image}" in (status.last_error or "")
        assert sample(ctl.scrape(), "kedge_retries_total", type="APPLY") >= 2

        # -- the spec refused by validation is not retried: it waits for a new version --------
        [refused] = _commands(store, invalid)
        assert refused.status is CommandStatus.FAILED
        assert "imagee" in (refused.error or "")

        # -- a restart loses nothing: the retry is a command in the store --------------------
        assert ctl.terminate() == 0
        docker_client.images.get(test_image).tag(*missing_image.rsplit(":", 1))
        restarted = ControllerProcess(specs, db, resync=60, extra=FAST_RETRIES).start()
        wait_for(
            lambda: running_healthy(docker_client, waiting, services=1),
            timeout=90,
            what="the stack running healthy once its image exists",
        )
        wait_for(
            lambda: store.stacks.get(waiting).applied_version == 1,
            timeout=30,
            what="version 1 applied",
        )
        done = [c for c in _commands(store, waiting) if c.status is CommandStatus.DONE]
        assert done[0].type is CommandType.APPLY
        assert done[0].reason is CommandReason.RETRY
        assert done[0].version == 1
        assert store.stacks.get(waiting).last_error is None
        assert (specs / f"{waiting}.yaml").read_text() == text  # no change to the file
        assert [v.number for v in store.versions.list(waiting).items] == [1]
        time.sleep(2.0)  # several retry periods: the refused spec is still not retried
        seen = _commands(store, invalid)  # each controller's start reads the folder once
        assert [(c.reason, c.status, c.retry_of) for c in seen] == [
            (CommandReason.FILE, CommandStatus.FAILED, None)
        ] * 2
        assert not _waiting_retry(store, waiting)
    except BaseException:
        print(ctl.log()[-20000:])
        if restarted is not None:
            print(restarted.log()[-20000:])
        raise
    finally:
        store.close()
        ctl.terminate()
        if restarted is not None:
            assert restarted.terminate() == 0, restarted.log()[-3000:]


RECOVERS = """name: {name}
services:
  web:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 1s
      retries: 1
    x-kedge:
      health_timeout: 5s
"""


def test_a_stack_that_did_not_get_healthy_converges_once_it_recovers(
    tmp_path: Path, docker_client: Any, test_image: str, stack_name: str
) -> None:
    """A health gate that failed is retried too; the retry finds nothing to change, so it is
    done only once the container runs healthy (here: once what it checks appears)."""
    specs, db = tmp_path / "specs", tmp_path / "kedge.db"
    specs.mkdir()
    write_atomically(
        specs / f"{stack_name}.yaml", RECOVERS.format(name=stack_name, image=test_image)
    )
    ctl = ControllerProcess(specs, db, resync=60, extra=FAST_RETRIES).start()
    store = SqliteStore.open(db)
    try:
        wait_for(
            lambda: (r := _waiting_retry(store, stack_name)) is not None and r.attempt >= 3 and r,
            timeout=90,
            what="a third attempt waiting after failed health gates",
        )
        first, second = _commands(store, stack_name)[:2]
        assert f"{stack_name}-web-1 is unhealthy" in (first.error or "")
        assert second.retry_of == first.id
        assert "is Degraded and a retry has nothing to change" in (second.error or "")
        assert store.stacks.get(stack_name).applied_version is None
        flt = {"label": f"kedge.stack={stack_name}"}
        [web] = docker_client.containers.list(filters=flt)
        web.exec_run(["touch", "/tmp/ok"])
        wait_for(
            lambda: store.stacks.get(stack_name).applied_version == 1,
            timeout=60,
            what="version 1 applied once the container is healthy",
        )
        done = [c for c in _commands(store, stack_name) if c.status is CommandStatus.DONE]
        assert (done[0].reason, done[0].actions) == (CommandReason.RETRY, 0)
        web.reload()
        assert web.attrs["State"]["Health"]["Status"] == "healthy"
        assert not _waiting_retry(store, stack_name)
    except BaseException:
        print(ctl.log()[-20000:])
        raise
    finally:
        store.close()
        assert ctl.terminate() == 0
