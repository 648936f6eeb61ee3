"""Crash test (issue 5, Done when 2): ``kedge controller`` is killed with SIGKILL 20 times at
random points while it applies, and restarted. Afterwards every stack converges to its last
file, no command is left RUNNING, and there is no duplicate or orphan container (counted by
label).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kedge.specs.commands import CommandStatus
from kedge.store import SqliteStore
from tests.conftest import remove_stack_objects
from tests.integration.controller_process import (
    ControllerProcess,
    containers_of,
    running_healthy,
    spec_text,
    wait_for,
    write_atomically,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

KILLS = 20


@pytest.fixture
def stacks(docker_client: Any) -> Iterator[list[str]]:
    names = [f"kt{uuid.uuid4().hex[:8]}{i}" for i in range(4)]
    yield names
    for name in names:
        remove_stack_objects(docker_client, name)


def _settled(store: SqliteStore) -> bool:
    for status in (CommandStatus.RUNNING, CommandStatus.PENDING):
        if store.commands.list(status=status, limit=1).items:
            return False
    return True


def test_sigkill_at_random_points_loses_nothing(
    tmp_path: Path, docker_client: Any, test_image: str, stacks: list[str]
) -> None:
    rng = random.Random(20)  # a fixed seed: the same kill points on every run
    specs, db = tmp_path / "specs", tmp_path / "kedge.db"
    specs.mkdir()
    revision = dict.fromkeys(stacks, 0)
    for name in stacks:
        write_atomically(specs / f"{name}.yaml", spec_text(name, image=test_image))
    killed_running = 0
    for kill in range(KILLS):
        ctl = ControllerProcess(specs, db, resync=30).start()
        for name in rng.sample(stacks, 2):  # two stacks change while this controller runs
            revision[name] += 1
            write_atomically(
                specs / f"{name}.yaml", spec_text(name, image=test_image, rev=str(revision[name]))
            )
        time.sleep(rng.uniform(0.2, 2.5))
        peek = SqliteStore.open(db)
        killed_running += bool(peek.commands.list(status=CommandStatus.RUNNING).items)
        peek.close()
        ctl.kill()
        assert ctl.proc is not None
        assert ctl.proc.returncode == -9, f"kill {kill}"

    ctl = ControllerProcess(specs, db, resync=30).start()
    store = SqliteStore.open(db)
    try:
        for name in stacks:

            def converged(n: str = name) -> bool:
                found = running_healthy(docker_client, n)
                status = store.stacks.get(n)
                return (
                    bool(found)
                    and f"REV={revision[n]}" in found["web"].attrs["Config"]["Env"]
                    and status.applied_version == status.desired_version
                )

            wait_for(converged, timeout=180, what=f"{name} converged", every=0.5)
        wait_for(lambda: _settled(store), timeout=60, what="no command PENDING or RUNNING")
        for name in stacks:
            status = store.stacks.get(name)
            assert status.applied_version == status.desired_version, name
            web = running_healthy(docker_client, name)
            assert web is not None
            assert f"REV={revision[name]}" in web["web"].attrs["Config"]["Env"], name
            by_service: dict[str, int] = {}
            for container in containers_of(docker_client, name):
                service = container.labels["kedge.service"]
                by_service[service] = by_service.get(service, 0) + 1
            assert by_service == {"db": 1, "web": 1}, f"duplicate or orphan in {name}"
        assert not store.commands.list(status=CommandStatus.RUNNING).items
    except BaseException:
        print(ctl.log()[-30000:])  # shown by pytest with the failure
        raise
    finally:
        store.close()
        code = ctl.terminate()
    assert code == 0
    assert killed_running > 0, "no kill happened during a running pass"
