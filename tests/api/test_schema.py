"""Schemathesis over the OpenAPI document of the real app on a real, seeded store: no 5xx and
no answer that breaks the document (status, content type, schema), in bounded examples.

The live log stream is left out: a stream of a command that never ends (one this run
enqueues and nobody executes) is meant to stay open; the stream is tested directly.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from kedge.api.app import create_app
from kedge.specs.commands import CommandStatus, CommandType
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Clock, Seed


def _schema(tmp: Path) -> Any:
    store = SqliteStore.open(tmp / "kedge.db", clock=Clock())
    seed = Seed(store, Clock())
    for stack in ("shop", "blog"):
        v1 = seed.version(stack)
        seed.version(stack, image="busybox:2")
        seed.command(stack, version=v1, lines=2)
        seed.command(stack, type=CommandType.ROLLBACK, version=v1, end=CommandStatus.FAILED)
        seed.applied(stack, v1)
    app = create_app(store, None)
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path_regex=r".*/logs/stream$|.*/api/v1/events$"  # streams that stay open
    )


# schemathesis' pytest plugin does not run under pytest 9 (it reads ``node._nodeid``), so
# each operation is driven through its hypothesis strategy here instead.
SCHEMA = _schema(Path(tempfile.mkdtemp(prefix="kedge-schema-")))
OPERATIONS = {op.label: op for op in (found.ok() for found in SCHEMA.get_all_operations())}


# Answers that are right by design although a generic check frowns on them: any cursor
# Kedge did not hand out is a 400 (so schema-valid random cursors are refused), and /readyz
# answers 503 while Docker is not there (this app has no engine); a posted spec is declared
# as any YAML text or JSON object, and most of those are not valid specs (422).
_CURSOR = [checks.positive_data_acceptance]
EXCLUDED = {
    "GET /api/v1/stacks": _CURSOR,
    "GET /api/v1/commands": _CURSOR,
    "GET /api/v1/stacks/{name}/versions": _CURSOR,
    "GET /readyz": [checks.not_a_server_error],
    "POST /api/v1/versions": [checks.positive_data_acceptance],
    "POST /api/v1/plan": [checks.positive_data_acceptance, checks.not_a_server_error],
}


@pytest.mark.parametrize("label", sorted(OPERATIONS), ids=str)
def test_api_keeps_its_document(label: str) -> None:
    operation = OPERATIONS[label]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(excluded_checks=EXCLUDED.get(label, []))

    check()
