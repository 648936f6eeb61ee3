"""Inputs that gave 5xx, broken streams or a stack nobody can delete: the probe's rows B10,
B16, B21, B22 and D23, then every request of its section 3 replayed — no answer is a 5xx,
and every refusal is problem+json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kedge.cli.main import app as cli
from kedge.specs.commands import CommandStatus
from tests.api.conftest import Seed

PROBLEM = "application/problem+json"
BIG = 2**63
# libyaml refuses \ud800 itself; a flow sequence with a ':' inside a plain scalar makes the
# loader fall back to ruamel's own parser, which let it through (the probe's 500)
SURROGATE_SPEC = (
    "name: secp-sur\nservices: {app: {image: busybox:1, command: [http://x],"
    ' environment: {X: "\\ud800"}}}\n'
)


def _post(client: TestClient, spec: str) -> object:
    return client.post(
        "/api/v1/versions",
        content=spec.encode(),
        headers={"Content-Type": "application/yaml"},
        params={"apply": False},
    )


def test_b10_a_lone_surrogate_is_a_spec_error(client: TestClient) -> None:
    """B10: a lone surrogate crashed the digest (500 text/plain)."""
    answer = client.post(
        "/api/v1/versions",
        content=SURROGATE_SPEC.encode(),
        headers={"Content-Type": "application/yaml"},
        params={"apply": False},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    [error] = answer.json()["errors"]
    assert "surrogate" in error["message"]
    assert error["line"] == 2


def test_b10_validate_says_what_is_wrong_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "secp.yaml"
    path.write_text(SURROGATE_SPEC)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert "surrogate" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_b16_a_declared_version_of_2_63_is_refused(client: TestClient) -> None:
    """B16: ``x-kedge.version: 2^63`` overflowed SQLite (500)."""
    spec = f"name: secp-v\nx-kedge: {{version: {BIG}}}\nservices:\n  app:\n    image: b:1\n"
    answer = client.post(
        "/api/v1/versions",
        content=spec,
        headers={"Content-Type": "application/yaml"},
        params={"apply": False},
    )
    assert answer.status_code == 422, answer.text
    assert "at most" in answer.json()["errors"][0]["message"]


def test_b21_a_huge_last_event_id_is_refused_before_the_stream(
    client: TestClient, seed: Seed
) -> None:
    """B21: the stream answered 200 and then broke mid-body."""
    version = seed.version("secp-s")
    command = seed.command("secp-s", version=version, lines=2)
    answer = client.get(
        f"/api/v1/commands/{command.id}/logs/stream", headers={"Last-Event-ID": str(BIG)}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    resumed = client.get(
        f"/api/v1/commands/{command.id}/logs/stream", headers={"Last-Event-ID": "1"}
    )
    assert resumed.status_code == 200
    assert "line 2" in resumed.text
    assert "line 1" not in resumed.text
    assert "event: end" in resumed.text


@pytest.mark.parametrize(
    "path",
    [
        f"/ui/commands/{BIG}",
        f"/ui/stacks/secp-d/diff?a={BIG}&b=1",
        f"/ui/stacks/secp-d/diff?a=1&b={BIG}",
    ],
)
def test_b22_dashboard_routes_bound_their_numbers(
    client: TestClient, seed: Seed, path: str
) -> None:
    """B22: the dashboard's routes had no bounds (500 text/plain)."""
    seed.version("secp-d")
    answer = client.get(path)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM


def test_d23_a_stack_name_over_the_limit_is_never_created(client: TestClient) -> None:
    """D23: a 300-character name was created but could never be read or deleted."""
    name = "a" * 300
    answer = client.post(
        "/api/v1/versions",
        content=f"name: {name}\nservices:\n  app:\n    image: busybox:1\n",
        headers={"Content-Type": "application/yaml"},
        params={"apply": False},
    )
    assert answer.status_code == 422, answer.text
    assert "300 characters" in answer.json()["errors"][0]["message"]
    assert client.get("/api/v1/stacks").json()["items"] == []


def test_d23_the_longest_name_is_created_read_and_deleted(client: TestClient) -> None:
    """One limit everywhere: a name the spec accepts, every route accepts too."""
    from kedge.specs.stack import STACK_NAME_MAX

    name = "a" * STACK_NAME_MAX
    created = client.post(
        "/api/v1/versions",
        content=f"name: {name}\nservices:\n  app:\n    image: busybox:1\n",
        headers={"Content-Type": "application/yaml"},
        params={"apply": False},
    )
    assert created.status_code == 201, created.text
    assert client.get(f"/api/v1/stacks/{name}").status_code == 200
    assert client.get(f"/api/v1/stacks/{name}/versions/1").status_code == 200
    assert client.get("/api/v1/commands", params={"stack": name}).status_code == 200
    assert client.get(f"/stacks/{name}").status_code == 200
    deleted = client.delete(f"/api/v1/stacks/{name}")
    assert deleted.status_code == 202, deleted.text
    too_long = client.get(f"/api/v1/stacks/{name}a")
    assert too_long.status_code == 422


def test_d23_validate_names_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "secp.yaml"
    path.write_text(f"name: {'b' * 300}\nservices:\n  app:\n    image: busybox:1\n")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert "over the limit of 200" in result.output


def test_d23_a_folder_file_named_past_the_limit_makes_no_stack(tmp_path: Path) -> None:
    """The name from a file's stem obeys the same limit: the error is reported, and no stack
    row is made that no route could read."""
    import os
    import time

    from prometheus_client import CollectorRegistry

    from kedge.controller.folder_source import FolderSource
    from kedge.observability.metrics import Metrics
    from kedge.store.sqlite import SqliteStore

    folder = tmp_path / "specs"
    folder.mkdir()
    path = folder / ("s" * 240 + ".yaml")
    path.write_text("services:\n  app:\n    image: busybox:1\n")
    settled = time.time() - 5
    os.utime(path, (settled, settled))
    store = SqliteStore.open(tmp_path / "kedge.db")
    try:
        metrics = Metrics(CollectorRegistry())
        source = FolderSource(folder, store=store, metrics=metrics, wake=lambda: None)
        report = source.sync()
        assert report.applied == {}
        assert any("over the limit of 200" in text for text in report.errors.values())
        assert store.stacks.list(limit=10).items == []
    finally:
        store.close()


def _section_3(seeded: int) -> list[tuple[str, str, dict[str, object]]]:
    """The probe's section 3 (B01-B28) as (method, path, httpx keyword arguments)."""
    yaml = {"Content-Type": "application/yaml"}
    deep_json = "[" * 1000 + "]" * 1000
    deep_yaml = "a:\n" + "".join("  " * i + "- \n" for i in range(1, 200))
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    return [
        ("POST", "/api/v1/stacks/secp-in/apply", {"content": "{nope", "headers": _json()}),
        ("POST", "/api/v1/stacks/secp-in/apply", {"content": "null", "headers": _json()}),
        ("POST", "/api/v1/stacks/secp-in/apply", {"content": deep_json, "headers": _json()}),
        (
            "POST",
            "/api/v1/stacks/secp-in/apply",
            {"json": {"version": 1, "created_by": "x", "status": "DONE"}},
        ),
        ("POST", "/api/v1/versions", {"content": "services: [", "headers": yaml}),
        ("POST", "/api/v1/versions", {"content": '{"services": ', "headers": _json()}),
        ("POST", "/api/v1/versions", {"content": deep_yaml, "headers": yaml}),
        ("POST", "/api/v1/versions", {"content": laughs, "headers": yaml}),
        ("POST", "/api/v1/versions", {"content": "a: 1\na: 2\n", "headers": yaml}),
        (
            "POST",
            "/api/v1/versions",
            {"content": "a: !!python/object/apply:os.system [id]\n", "headers": yaml},
        ),
        ("POST", "/api/v1/versions", {"content": b"name: \xff\xfe\n", "headers": yaml}),
        ("POST", "/api/v1/versions", {"content": "<a/>", "headers": {"Content-Type": "a/xml"}}),
        ("GET", "/api/v1/stacks/%00", {}),
        ("GET", "/api/v1/stacks/caf%C3%A9", {}),
        ("GET", "/api/v1/commands?stack=%00%E2%80%AE%F0%9F%98%80", {}),
        (
            "POST",
            "/api/v1/versions",
            {"content": 'name: "secp\\0nul"\nservices: {a: {image: b}}\n', "headers": yaml},
        ),
        ("POST", "/api/v1/versions", {"content": SURROGATE_SPEC, "headers": yaml}),
        *[("GET", f"/api/v1/stacks?limit={n}", {}) for n in (-1, 0, 10**20)],
        *[
            ("GET", f"/api/v1/commands?cursor={c}", {})
            for c in ("';DROP TABLE commands;--", "bm9wZQ==", str(BIG))
        ],
        ("GET", "/api/v1/commands?stack=' OR 1=1 --", {}),
        ("GET", "/api/v1/commands?status=DONE' OR '1'='1", {}),
        ("GET", "/api/v1/commands?since=9999-99-99", {}),
        ("GET", "/api/v1/commands?since=9999-12-31T23:59:59Z", {}),
        *[("GET", f"/api/v1/stacks/secp-in/versions/{n}", {}) for n in (BIG, -1)],
        *[
            ("POST", "/api/v1/stacks/secp-in/apply", {"content": body, "headers": _json()})
            for body in (f'{{"version": {BIG}}}', f'{{"version": {2**64}}}', '{"version": 1e400}')
        ],
        ("POST", "/api/v1/stacks/secp-in/rollback", {"json": {"to": BIG}}),
        (
            "POST",
            "/api/v1/versions",
            {
                "content": f"name: secp-in\nx-kedge: {{version: {BIG}}}\n"
                "services: {a: {image: b}}\n",
                "headers": yaml,
            },
        ),
        ("GET", f"/api/v1/commands/{BIG}", {}),
        ("GET", f"/api/v1/commands/{seeded}/logs?after={BIG}", {}),
        ("POST", "/api/v1/commands/999999/cancel", {}),
        ("POST", "/api/v1/commands/0/cancel", {}),
        ("POST", f"/api/v1/commands/{BIG}/cancel", {}),
        ("POST", f"/api/v1/commands/{seeded}/cancel", {}),
        ("DELETE", "/api/v1/stacks/secp-nope", {}),
        ("POST", "/api/v1/stacks/secp-nope/rollback", {"json": {}}),
        ("GET", f"/api/v1/events?after={BIG}&follow=false", {}),
        ("GET", "/api/v1/events?follow=false", {"headers": {"Last-Event-ID": "x" * 40}}),
        ("GET", "/api/v1/events?backlog=1000000&follow=false", {}),
        (
            "GET",
            f"/api/v1/commands/{seeded}/logs/stream",
            {"headers": {"Last-Event-ID": str(BIG)}},
        ),
        ("GET", f"/ui/commands/{BIG}", {}),
        ("GET", f"/ui/stacks/secp-in/diff?a={BIG}&b=1", {}),
        ("GET", "/static/..%2f..%2fapp.py", {}),
        ("GET", "/docs/static/..%2f..%2f..%2f..%2fetc%2fpasswd", {}),
        ("GET", "/nowhere", {}),
        ("PUT", "/api/v1/stacks", {}),
        ("TRACE", "/api/v1/stacks", {}),
        ("GET", "/api/v1/stacks/secp-in/logs?tail=-1", {}),
        ("GET", "/ui/commands/-1", {}),
        *[
            ("POST", f"/api/v1/versions?source={s}", {"content": "services: {}", "headers": yaml})
            for s in ("%F0%9F%98%80", "..", "%00")
        ],
        ("GET", "/api/v1/stacks/secp-nope/observed", {}),
    ]


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def test_section_3_replayed_gives_no_5xx(client: TestClient, seed: Seed) -> None:
    """B01-B28: every request of the probe's section 3, then the server still serves."""
    version = seed.version("secp-in")
    command = seed.command("secp-in", version=version, lines=1, end=CommandStatus.DONE)
    failures = []
    for method, path, kwargs in _section_3(command.id):
        answer = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        if answer.status_code >= 500:
            failures.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        elif answer.status_code >= 400:
            assert answer.headers["content-type"] == PROBLEM, (method, path)
            json.loads(answer.text)
    assert failures == []
    assert client.get("/healthz").status_code == 200


def test_d27_reserved_labels_on_a_built_image_are_refused(
    tmp_path: Path, client: TestClient
) -> None:
    """D27: ``build.labels`` with ``kedge.stack``/``kedge.managed`` passed validate, plan and
    the API and reached the built image. ``kedge.*`` labels are Kedge's wherever a spec sets
    them (services, ``deploy``, networks, volumes, and now images); compose sets any label."""
    spec = (
        "name: secp-img\nservices:\n  app:\n    build:\n      context: .\n"
        "      labels: {kedge.stack: secp-base, kedge.managed: 'true'}\n"
    )
    answer = _post(client, spec)
    assert answer.status_code == 422, answer.text  # type: ignore[attr-defined]
    [error] = answer.json()["errors"]  # type: ignore[attr-defined]
    assert error["path"] == "services.app.build.labels"
    assert "reserved for Kedge" in error["message"]
    assert client.get("/api/v1/stacks").json()["items"] == []
    path = tmp_path / "secp.yaml"
    path.write_text(spec)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert "the label 'kedge.managed' is reserved" in result.output
    path.write_text(spec.replace("kedge.stack", "team").replace("kedge.managed", "tier"))
    assert CliRunner().invoke(cli, ["validate", str(path)]).exit_code == 0
