"""``kedge controller`` as a subprocess on a temporary folder and database, against the real
daemon (issue 5, Done when 1 and 3).

One controller runs through the whole story in order — a new file converges; an edit applies
a new version and recreates only what changed; a broken edit keeps the last good version
running with the error in status, command and metrics; removing a file removes its stack; a
container removed by hand is repaired; a failed health gate rolls back; emptying the folder
deletes nothing — and then its ``/metrics`` are parsed and checked against the store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kedge.specs.commands import CommandStatus, CommandType
from kedge.store import SqliteStore
from tests.conftest import remove_stack_objects
from tests.integration.controller_process import (
    ControllerProcess,
    containers_of,
    running_healthy,
    sample,
    spec_text,
    wait_for,
    write_atomically,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def stacks(docker_client: Any) -> Iterator[list[str]]:
    names = [f"kt{uuid.uuid4().hex[:8]}{i}" for i in "abcd"]
    yield names
    for name in names:
        remove_stack_objects(docker_client, name)


def _commands(store: SqliteStore, stack: str) -> list[Any]:
    return list(store.commands.list(stack=stack, limit=200).items)


def test_the_controller_keeps_a_folder_converged(
    tmp_path: Path, docker_client: Any, test_image: str, stacks: list[str]
) -> None:
    a, b, c, d = stacks
    specs, db = tmp_path / "specs", tmp_path / "kedge.db"
    specs.mkdir()
    for name in (a, b, c):
        write_atomically(specs / f"{name}.yaml", spec_text(name, image=test_image))
    (specs / "notes.md").write_text("not a spec")
    (specs / f".{a}.yaml.swp").write_text("half a swap file: [")
    ctl = ControllerProcess(specs, db, resync=5).start()
    store = SqliteStore.open(db)
    try:
        # -- a new file converges to healthy -------------------------------------------------
        for name in (a, b, c):
            wait_for(
                lambda n=name: running_healthy(docker_client, n),
                timeout=90,
                what=f"{name} running and healthy",
            )
        wait_for(lambda: store.stacks.get(a).health == "Healthy", timeout=30, what="a Healthy")
        status = store.stacks.get(a)
        assert (status.sync, status.applied_version, status.desired_version) == ("Synced", 1, 1)

        # -- an edit applies a new version and recreates only what changed -------------------
        before = running_healthy(docker_client, a)
        assert before is not None
        write_atomically(specs / f"{a}.yaml", spec_text(a, image=test_image, rev="2"))

        def edited() -> dict[str, Any] | None:
            now = running_healthy(docker_client, a)
            return now if now and now["web"].labels["kedge.version"] == "2" else None

        after = wait_for(edited, timeout=60, what="a's web at version 2")
        assert after["db"].id == before["db"].id
        assert after["web"].id != before["web"].id
        wait_for(lambda: store.stacks.get(a).applied_version == 2, timeout=30, what="a applied 2")

        # -- a broken edit keeps the last good version running -------------------------------
        write_atomically(specs / f"{a}.yaml", f"name: {a}\nservices:\n  web:\n    image: [\n")
        error = wait_for(lambda: store.stacks.get(a).last_error, timeout=30, what="a's error")
        assert f"{a}.yaml:" in error
        failed = wait_for(
            lambda: [x for x in _commands(store, a) if x.status is CommandStatus.FAILED],
            timeout=30,
            what="a FAILED command with the spec error",
        )
        assert f"{a}.yaml:" in (failed[0].error or "")
        time.sleep(1.0)
        kept = running_healthy(docker_client, a)
        assert kept is not None
        assert kept["web"].id == after["web"].id
        assert store.stacks.get(a).applied_version == 2
        assert sample(ctl.scrape(), "kedge_spec_errors_total", stack=a) == 1

        # -- removing a file removes its stack -----------------------------------------------
        (specs / f"{c}.yaml").unlink()
        wait_for(
            lambda: (
                not containers_of(docker_client, c)
                and not docker_client.networks.list(filters={"label": [f"kedge.stack={c}"]})
            ),
            timeout=60,
            what="c's containers and network removed",
        )

        # -- a container removed by hand is repaired with no file change ---------------------
        gone = running_healthy(docker_client, b)
        assert gone is not None
        gone["web"].remove(force=True)

        def repaired() -> bool:
            now = running_healthy(docker_client, b)
            return bool(now) and now["web"].id != gone["web"].id and now["db"].id == gone["db"].id

        wait_for(repaired, timeout=60, what="b's web repaired")

        # -- a failed health gate rolls back to the last good version ------------------------
        write_atomically(specs / f"{d}.yaml", spec_text(d, image=test_image, on_failure="rollback"))
        wait_for(lambda: running_healthy(docker_client, d), timeout=90, what="d healthy")
        write_atomically(
            specs / f"{d}.yaml",
            spec_text(d, image=test_image, rev="2", healthy=False, on_failure="rollback"),
        )

        def rolled_back() -> list[Any]:
            return [
                x
                for x in _commands(store, d)
                if x.type is CommandType.ROLLBACK and x.status is CommandStatus.DONE
            ]

        rollback = wait_for(rolled_back, timeout=90, what="d's auto-rollback done")[0]
        assert rollback.version == 1
        back = wait_for(lambda: running_healthy(docker_client, d), timeout=60, what="d healthy")
        assert back["web"].labels["kedge.version"] == "1"
        wait_for(lambda: store.stacks.get(d).applied_version == 1, timeout=30, what="d applied 1")
        status = store.stacks.get(d)
        assert status.desired_version == 2
        assert status.last_error is None or "unhealthy" in status.last_error

        # -- emptying the folder deletes nothing ---------------------------------------------
        for name in (a, b, d):
            (specs / f"{name}.yaml").unlink()
        time.sleep(4.0)
        for name in (a, b, d):
            assert running_healthy(docker_client, name), f"{name} was deleted"
        deletes = list(store.commands.list(type=CommandType.DELETE, limit=50).items)
        assert {x.stack for x in deletes} == {c}
        assert "prune refused" in ctl.log()

        # -- metrics match what happened (Done when 3) ---------------------------------------
        wait_for(
            lambda: sample(ctl.scrape(), "kedge_queue_depth") == 0,
            timeout=30,
            what="an empty queue",
        )
        _check_metrics(ctl.scrape(), store, stacks=(a, b, c, d))
    except BaseException:
        print(ctl.log()[-30000:])  # shown by pytest with the failure
        raise
    finally:
        store.close()
        code = ctl.terminate()
    assert code == 0, ctl.log()[-3000:]
    assert "controller stopped" in ctl.log()


def _check_metrics(
    samples: dict[Any, float], store: SqliteStore, *, stacks: tuple[str, ...]
) -> None:
    a, b, c, d = stacks
    names = {name for name, _ in samples}
    for name in (
        "kedge_reconcile_passes_total",
        "kedge_reconcile_pass_duration_seconds_count",
        "kedge_commands_total",
        "kedge_queue_depth",
        "kedge_queue_oldest_pending_age_seconds",
        "kedge_drift_detected_total",
        "kedge_spec_errors_total",
        "kedge_stack_info",
        "kedge_docker_api_errors_total",
    ):
        assert name in names, name
    finished: dict[tuple[str, str], int] = {}
    for stack in stacks:
        for command in store.commands.list(stack=stack, limit=200).items:
            if command.status in (CommandStatus.DONE, CommandStatus.FAILED):
                key = (command.type.value, command.status.value.lower())
                finished[key] = finished.get(key, 0) + 1
    for (kind, result), count in finished.items():
        assert sample(samples, "kedge_reconcile_passes_total", type=kind, result=result) == count, (
            kind,
            result,
        )
    assert sample(samples, "kedge_reconcile_pass_duration_seconds_count", type="APPLY") == sum(
        n for (kind, _), n in finished.items() if kind == "APPLY"
    )
    assert finished[("APPLY", "failed")] >= 2  # the broken file of a, the unhealthy web of d
    assert sample(samples, "kedge_commands_total", type="ROLLBACK", status="DONE") == 1
    assert sample(samples, "kedge_commands_total", type="DELETE", status="DONE") == 1
    assert sample(samples, "kedge_spec_errors_total", stack=a) == 1
    assert sample(samples, "kedge_drift_detected_total", stack=b, mode="heal") >= 1
    assert sample(samples, "kedge_queue_oldest_pending_age_seconds") == 0
    info = {
        dict(labels)["stack"]: dict(labels)
        for (name, labels), value in samples.items()
        if name == "kedge_stack_info" and value == 1
    }
    assert info[b] == {"stack": b, "version": "1", "sync": "Synced", "health": "Healthy"}
    assert info[d]["version"] == "1"
    assert info[d]["sync"] == "OutOfSync"  # runs 1, while 2 is desired
    assert c not in info
    assert sample(samples, "kedge_docker_api_errors_total", kind="EngineUnavailable") == 0


SLOW_TO_START = """name: {name}
services:
  web:
    image: {image}
    command:
      - sh
      - -c
      - trap 'exit 0' TERM; sleep 3; touch /tmp/ok; while true; do sleep 1; done
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 1s
      retries: 30
"""


def test_sigterm_lets_the_running_pass_finish(
    tmp_path: Path, docker_client: Any, test_image: str, stack_name: str
) -> None:
    specs, db = tmp_path / "specs", tmp_path / "kedge.db"
    specs.mkdir()
    ctl = ControllerProcess(specs, db).start()
    store = SqliteStore.open(db)
    try:
        write_atomically(
            specs / f"{stack_name}.yaml", SLOW_TO_START.format(name=stack_name, image=test_image)
        )
        running = wait_for(
            lambda: store.commands.list(stack=stack_name, status=CommandStatus.RUNNING).items,
            timeout=30,
            what="the APPLY running",
            every=0.05,
        )
        code = ctl.terminate(timeout=60)  # while the pass waits for health
        assert code == 0, ctl.log()[-3000:]
        done = store.commands.get(running[0].id)
        assert done.status is CommandStatus.DONE, done
        assert running_healthy(docker_client, stack_name, services=1)
        log = ctl.log()
        assert log.index('"signal received"') < log.index('"pass finished"')
        assert '"clean": true' in log
    except BaseException:
        print(ctl.log()[-30000:])
        raise
    finally:
        store.close()
        ctl.terminate()
