"""The host-safety policy (``specs.policy``): one test per rule of ``restricted``, one per
form of exception, where it is enforced (the folder source, the API) and where it only warns
(the local verbs), ``kedge policy check``, and the compose corpus under the local default.

Rows of the probe (shared/reports/security-2026-12-07.md) turned into tests: D01–D12,
D31, D32, D34, D35, D37 (cgroup_parent, cap_add), D38 and D41. Docker Compose has no policy:
it runs every one of these specs; Kedge's server refuses them unless the operator allows
them (README, "Compared with Docker Compose").
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kedge.cli.main import app as cli
from kedge.controller import passes
from kedge.controller.folder_source import FolderSource
from kedge.errors import SpecError
from kedge.reconcilers.engine import Engine
from kedge.specs import loader
from kedge.specs import policy as host_policy
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.specs.policy import RULES, Policy
from kedge.store import SqliteStore
from tests.security.conftest import write_settled

HEAD = "name: probe\nservices:\n  app:\n    image: busybox:1\n"

#: (id, the service's extra lines or a whole spec, the rule it breaks, the key path)
CASES = [
    ("D01-privileged", "    privileged: true\n", "privileged", "services.app.privileged"),
    (
        "D02-docker-socket",
        "    volumes: ['/var/run/docker.sock:/var/run/docker.sock']\n",
        "docker-socket",
        "services.app.volumes.0",
    ),
    ("D03-root-bind", "    volumes: ['/:/host']\n", "host-paths", "services.app.volumes.0"),
    (
        "D04-etc-long-syntax",
        "    volumes: [{type: bind, source: /etc, target: /e}]\n",
        "host-paths",
        "services.app.volumes.0",
    ),
    (
        "D05-network-host",
        "    network_mode: host\n",
        "host-namespaces",
        "services.app.network_mode",
    ),
    ("D06-pid-host", "    pid: host\n", "host-namespaces", "services.app.pid"),
    ("D07-ipc-host", "    ipc: host\n", "host-namespaces", "services.app.ipc"),
    ("uts-host", "    uts: host\n", "host-namespaces", "services.app.uts"),
    ("D12-userns-host", "    userns_mode: host\n", "host-namespaces", "services.app.userns_mode"),
    ("D08-cap-sys-admin", "    cap_add: [SYS_ADMIN]\n", "capabilities", "services.app.cap_add.0"),
    ("D09-cap-all", "    cap_add: [ALL]\n", "capabilities", "services.app.cap_add.0"),
    (
        "D37-cap-sys-module",
        "    cap_add: [CHOWN, SYS_MODULE]\n",
        "capabilities",
        "services.app.cap_add.1",
    ),
    ("D10-devices", "    devices: ['/dev/mem:/dev/mem']\n", "devices", "services.app.devices.0"),
    (
        "D11-seccomp",
        "    security_opt: ['seccomp=unconfined']\n",
        "unconfined",
        "services.app.security_opt.0",
    ),
    (
        "D11-apparmor",
        "    security_opt: ['apparmor:unconfined']\n",
        "unconfined",
        "services.app.security_opt.0",
    ),
    ("D37-cgroup-parent", "    cgroup_parent: /\n", "cgroup-parent", "services.app.cgroup_parent"),
    (
        "D31-network-mode-container",
        "    network_mode: 'container:other-app-1'\n",
        "foreign-containers",
        "services.app.network_mode",
    ),
    (
        "D32-volumes-from-container",
        "    volumes_from: ['container:other-app-1']\n",
        "foreign-containers",
        "services.app.volumes_from.0",
    ),
    (
        "ipc-container",
        "    ipc: 'container:other-app-1'\n",
        "foreign-containers",
        "services.app.ipc",
    ),
    (
        "D38-port-22-everywhere",
        "    ports: ['0.0.0.0:22:22']\n",
        "privileged-ports",
        "services.app.ports.0",
    ),
    ("port-443-no-address", "    ports: ['443:443']\n", "privileged-ports", "services.app.ports.0"),
    (
        "D34-disguised-bind",
        "volumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /etc}\n",
        "disguised-binds",
        "volumes.data.driver_opts",
    ),
    ("D35-merge-key", None, "privileged", "services.app.privileged"),
    (
        "build-privileged",
        "    build: {context: ., privileged: true}\n",
        "privileged",
        "services.app.build",
    ),
]

MERGE = """\
name: probe
x-evil: &evil
  privileged: true
services:
  app:
    image: busybox:1
    <<: *evil
"""


def _text(extra: str | None) -> str:
    return MERGE if extra is None else HEAD + extra


def _refusals(text: str, policy: Policy | None = None) -> list[host_policy.Finding]:
    spec = loader.parse(text, source="probe.yaml")
    return host_policy.refusals(spec, policy or Policy())


def test_every_rule_has_a_case() -> None:
    assert {rule for _, _, rule, _ in CASES} == set(RULES)


@pytest.mark.parametrize(
    ("extra", "rule", "key"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_restricted_refuses_each_rule(extra: str | None, rule: str, key: str) -> None:
    found = _refusals(_text(extra))
    assert [(f.rule, f.key) for f in found] == [(rule, key)]
    with pytest.raises(SpecError) as caught:
        loader.parse(_text(extra), source="probe.yaml", policy=Policy())
    text = caught.value.render()
    assert rule in text
    assert "host-safety policy" in text
    assert f"allow: [{rule}]" in text  # how the operator allows it


@pytest.mark.parametrize(
    "extra",
    [
        "    cap_add: [CHOWN, NET_BIND_SERVICE]\n",  # in Docker's default set: changes nothing
        "    ports: ['127.0.0.1:80:80', '8080:80']\n",  # low port on loopback; high port
        # a volume and a tmpfs
        "    volumes: ['data:/data', {type: tmpfs, target: /t}]\nvolumes:\n  data: {}\n",
        "    network_mode: 'service:side'\n  side:\n    image: busybox:1\n",
        "    volumes_from: [side]\n  side:\n    image: busybox:1\n",
        "    network_mode: 'container:probe-side-1'\n  side:\n    image: busybox:1\n",
        "    sysctls: {net.core.somaxconn: 1024}\n",  # namespaced by Docker
        "    security_opt: ['no-new-privileges:true']\n",
    ],
)
def test_restricted_allows_what_stays_in_the_container(extra: str) -> None:
    assert _refusals(HEAD + extra) == []


def test_a_bind_under_an_allowed_root_is_allowed() -> None:
    text = HEAD + "    volumes: ['/srv/data/app:/data', '/srv/database:/db']\n"
    found = _refusals(text, Policy(host_paths=["/srv/data"]))
    assert [f.key for f in found] == ["services.app.volumes.1"]  # /srv/database is not under it


def test_the_docker_socket_is_refused_even_under_an_allowed_root() -> None:
    text = HEAD + "    volumes: ['/var/run/docker.sock:/s']\n"
    assert [f.rule for f in _refusals(text, Policy(host_paths=["/var/run"]))] == ["docker-socket"]


# -- exceptions -----------------------------------------------------------------------------

PRIVILEGED = HEAD + "    privileged: true\n    pid: host\n"


@pytest.mark.parametrize(
    ("exception", "allowed"),
    [
        ({"stacks": ["probe"], "allow": ["privileged"]}, {"privileged"}),
        (
            {"stacks": ["pro*"], "allow": ["privileged", "host-namespaces"]},
            {"privileged", "host-namespaces"},
        ),
        ({"labels": {"team": "infra"}, "allow": ["host-namespaces"]}, {"host-namespaces"}),
        (
            {"stacks": ["probe"], "labels": {"team": "infra"}, "allow": ["*"]},
            {"privileged", "host-namespaces"},
        ),
        ({"stacks": ["other"], "allow": ["*"]}, set()),  # another stack's
        ({"labels": {"team": "web"}, "allow": ["*"]}, set()),  # another label
        (
            {"stacks": ["probe"], "labels": {"team": "web"}, "allow": ["*"]},
            set(),
        ),  # both must match
    ],
    ids=[
        "by-name",
        "by-glob",
        "by-label",
        "by-name-and-label",
        "other-name",
        "other-label",
        "name-not-label",
    ],
)
def test_an_exception_allows_its_rules_for_its_stacks(
    exception: dict[str, object], allowed: set[str]
) -> None:
    spec = loader.parse(
        PRIVILEGED.replace("name: probe\n", "name: probe\nx-kedge: {labels: {team: infra}}\n")
    )
    policy = host_policy.parse_policy(_policy_yaml(exception))
    findings = host_policy.check(spec, policy)
    assert {f.rule for f in findings if f.allowed} == allowed
    assert {f.rule for f in findings if not f.allowed} == {
        "privileged",
        "host-namespaces",
    } - allowed


def test_an_exception_may_add_host_paths() -> None:
    text = HEAD + "    volumes: ['/var/log:/logs:ro']\n"
    spec = loader.parse(text)
    policy = Policy.model_validate(
        {
            "exceptions": [
                {"stacks": ["probe"], "allow": ["cgroup-parent"], "host_paths": ["/var/log"]}
            ]
        }
    )
    assert host_policy.refusals(spec, policy) == []
    assert host_policy.refusals(spec, Policy()) != []


def test_the_privileged_profile_allows_everything() -> None:
    assert _refusals(PRIVILEGED, Policy(profile="privileged")) == []


def _policy_yaml(exception: dict[str, object]) -> str:
    import json

    return "exceptions:\n  - " + json.dumps(exception) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exceptions: [{allow: [privileged]}]\n", "'stacks' or 'labels'"),
        ("exceptions: [{stacks: [a], allow: [privileges]}]\n", "unknown rule 'privileges'"),
        ("profile: lax\n", "profile"),
        ("host_paths: [srv]\n", "must be absolute"),
        ("allow_everything: true\n", "allow_everything"),
    ],
)
def test_a_wrong_policy_file_says_where_and_what(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        host_policy.parse_policy(text, source="policy.yaml")
    rendered = caught.value.render()
    assert "policy.yaml:" in rendered
    assert message in rendered


# -- where it is enforced -------------------------------------------------------------------


def test_the_api_refuses_with_the_key_the_rule_and_how_to_allow_it(
    api: Callable[..., TestClient], store: SqliteStore
) -> None:
    client = api()
    answer = client.post(
        "/api/v1/versions", content=PRIVILEGED, headers={"Content-Type": "application/yaml"}
    )
    assert answer.status_code == 422, answer.text
    problems = answer.json()["errors"]
    assert {p["path"] for p in problems} == {"services.app.privileged", "services.app.pid"}
    assert all("allow" in p["hint"] for p in problems)
    assert store.stacks.list().items == []  # nothing recorded
    plan = client.post(
        "/api/v1/plan", content=PRIVILEGED, headers={"Content-Type": "application/yaml"}
    )
    assert plan.status_code == 422


def test_the_api_accepts_what_the_operator_allows(api: Callable[..., TestClient]) -> None:
    policy = host_policy.parse_policy(
        "exceptions: [{stacks: [probe], allow: [privileged, host-namespaces]}]\n"
    )
    answer = api(policy).post(
        "/api/v1/versions",
        content=PRIVILEGED,
        headers={"Content-Type": "application/yaml"},
        params={"apply": False},
    )
    assert answer.status_code == 201, answer.text


def test_the_folder_refuses_into_a_failed_command_and_last_error(
    folder: Path, store: SqliteStore, source: Callable[..., FolderSource]
) -> None:
    write_settled(folder / "probe.yaml", PRIVILEGED)
    report = source().sync()
    assert "rule privileged" in report.errors["probe"]
    assert store.versions.latest("probe") is None
    status = store.stacks.get("probe")
    assert status.last_error is not None
    assert "privileged" in status.last_error
    failed = store.commands.list(stack="probe").items
    assert "host-safety policy" in failed[0].options["spec_error"]
    allowed = Policy.model_validate({"exceptions": [{"stacks": ["probe"], "allow": ["*"]}]})
    write_settled(folder / "probe.yaml", PRIVILEGED + "    environment: {A: '1'}\n")
    assert source(allowed).sync().applied == {"probe": 1}


# -- the local verbs ------------------------------------------------------------------------


def test_validate_warns_by_default_and_refuses_with_a_policy(tmp_path: Path) -> None:
    spec = tmp_path / "probe.yaml"
    spec.write_text(PRIVILEGED)
    runner = CliRunner()
    warned = runner.invoke(cli, ["validate", str(spec)])
    assert warned.exit_code == 0, warned.output
    assert "warning:" in warned.output
    assert "rule privileged" in warned.output
    policy = tmp_path / "policy.yaml"
    policy.write_text("profile: restricted\n")
    refused = runner.invoke(cli, ["validate", str(spec), "--policy", str(policy)])
    assert refused.exit_code == 1
    assert "services.app.privileged" in refused.output


def test_kedge_policy_check_shows_the_verdict(tmp_path: Path) -> None:
    bad, good = tmp_path / "probe.yaml", tmp_path / "fine.yaml"
    bad.write_text(PRIVILEGED)
    good.write_text(HEAD.replace("probe", "fine"))
    runner = CliRunner()
    result = runner.invoke(cli, ["policy", "check", str(bad), str(good)])
    assert result.exit_code == 1
    assert "services.app.privileged: privileged: true: refused (privileged)" in result.output
    assert "stack fine allowed under restricted" in result.output
    policy = tmp_path / "policy.yaml"
    policy.write_text("exceptions: [{stacks: [probe], allow: ['*']}]\n")
    allowed = runner.invoke(cli, ["policy", "check", str(bad), "--policy", str(policy)])
    assert allowed.exit_code == 0, allowed.output
    assert ": allowed (privileged)" in allowed.output


# -- the compose corpus ---------------------------------------------------------------------

_HERE = Path(__file__).resolve()
_CORPORA = [_HERE.parents[2].parent / "shared" / "corpus", _HERE.parents[4] / "shared" / "corpus"]
MANIFEST = next(
    (c / "awesome-compose" / "MANIFEST.tsv" for c in _CORPORA if (c / "awesome-compose").is_dir()),
    _CORPORA[0] / "awesome-compose" / "MANIFEST.tsv",
)


def _corpus() -> list[Path]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open(newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [MANIFEST.parent / row["file"] for row in rows if row["expected"] == "valid"]


@pytest.mark.skipif(not MANIFEST.exists(), reason="shared corpus not present")
@pytest.mark.parametrize("path", _corpus(), ids=lambda p: str(p.relative_to(MANIFEST.parent)))
def test_the_corpus_still_validates_under_the_local_default(path: Path) -> None:
    """Each valid file of the corpus loads under ``restricted`` as the local verbs use it:
    refusals are warnings (binds and low ports are common in compose files)."""
    warnings: list[str] = []
    spec = loader.load_file(path, env={}, warnings=warnings, policy=Policy(), enforce=False)
    refused = host_policy.refusals(spec, Policy())
    assert len([w for w in warnings if "host-safety policy" in w]) == len(refused)


@pytest.mark.docker
def test_a_pass_refuses_a_version_the_policy_refuses(store: SqliteStore) -> None:
    """A version that entered another way (here written to the store directly, as a rollback
    to a version recorded under a laxer policy would find it) fails before Docker is asked."""
    spec = loader.parse(PRIVILEGED)
    recorded = store.versions.record(
        spec.name, loader.canonical(spec), digest="sha256:probe", source="test"
    )
    command = store.commands.enqueue(
        spec.name, CommandType.APPLY, reason=CommandReason.API, version=recorded.version.number
    )
    claimed = store.commands.claim("test")
    assert claimed is not None
    assert claimed.id == command.id
    engine = Engine.from_env()
    try:
        with pytest.raises(SpecError) as caught:
            passes.run_command(claimed, store=store, engine=engine, policy=Policy())
    finally:
        engine.close()
    assert "probe version 1" in caught.value.render()
    finished = store.commands.get(command.id)
    assert finished.status is CommandStatus.FAILED
    assert "rule privileged" in (finished.error or "")
