"""Digests: stable under key order and syntax; config_hash leaves out what must not recreate."""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kedge.specs import digests, loader
from kedge.specs.stack import StackSpec

NAMES = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 .-", max_size=12)


@st.composite
def stacks(draw: st.DrawFn) -> dict[str, Any]:
    """A stack as plain facts, to be written in short or long syntax."""
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    host_ports = iter(
        draw(st.lists(st.integers(1024, 65535), min_size=12, max_size=12, unique=True))
    )
    services = {}
    for index, name in enumerate(names):
        services[name] = {
            "image": draw(NAMES) + ":1",
            "env": draw(st.dictionaries(NAMES.map(str.upper), VALUES, max_size=3)),
            "ports": [
                (next(host_ports), draw(st.integers(1, 65535)))
                for _ in range(draw(st.integers(0, 2)))
            ],
            "deps": draw(st.lists(st.sampled_from(names[:index]), unique=True)) if index else [],
            "mounts": draw(st.lists(st.sampled_from(["/a", "/b", "/c"]), unique=True)),
            "networks": draw(st.lists(st.sampled_from(["front", "back"]), unique=True)),
            "command": draw(st.lists(NAMES, max_size=3)),
        }
    return services


def render(stack: dict[str, Any], *, long: bool, seed: int) -> str:
    """The stack as a compose document (JSON is YAML), in one syntax and a shuffled key order."""
    shuffle = random.Random(seed)
    services = {}
    for name, facts in stack.items():
        service: dict[str, Any] = {"image": facts["image"]}
        if facts["env"]:
            service["environment"] = (
                dict(facts["env"]) if long else [f"{k}={v}" for k, v in facts["env"].items()]
            )
        if facts["ports"]:
            service["ports"] = [
                {"target": c, "published": h, "protocol": "tcp"} if long else f"{h}:{c}"
                for h, c in facts["ports"]
            ]
        if facts["deps"]:
            service["depends_on"] = (
                {d: {"condition": "service_started"} for d in facts["deps"]}
                if long
                else list(facts["deps"])
            )
        if facts["mounts"]:
            service["volumes"] = [
                {"type": "volume", "source": "data", "target": t} if long else f"data:{t}"
                for t in facts["mounts"]
            ]
        if facts["networks"]:
            service["networks"] = (
                dict.fromkeys(facts["networks"]) if long else list(facts["networks"])
            )
        if facts["command"]:
            service["command"] = facts["command"] if long else " ".join(facts["command"])
        services[name] = service
    document = {
        "name": "prop",
        "services": services,
        "networks": {"front": None, "back": {}} if long else {"back": None, "front": {}},
        "volumes": {"data": {}},
    }
    return json.dumps(_shuffled(document, shuffle))


def _shuffled(value: Any, shuffle: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        shuffle.shuffle(keys)
        return {k: _shuffled(value[k], shuffle) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, shuffle) for v in value]
    return value


@settings(max_examples=60, deadline=None)
@given(stack=stacks(), seed_a=st.integers(), seed_b=st.integers())
def test_digest_is_stable_under_key_order_and_syntax(
    stack: dict[str, Any], seed_a: int, seed_b: int
) -> None:
    short = loader.parse(render(stack, long=False, seed=seed_a))
    long = loader.parse(render(stack, long=True, seed=seed_b))
    assert short == long
    assert digests.digest(short) == digests.digest(long)
    for name in short.services:
        assert digests.config_hash(short, name) == digests.config_hash(long, name)
    assert loader.from_canonical(loader.canonical(long)) == long


def parse(text: str, **kwargs: Any) -> StackSpec:
    return loader.parse(textwrap.dedent(text), name="demo", **kwargs)


BASE = """
x-kedge: {version: 1}
services:
  web:
    image: web:1
    environment: {A: '1'}
    depends_on: [db]
    profiles: []
    deploy: {replicas: 1}
    x-kedge: {update: stop-first}
  db: {image: 'db:1'}
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("replicas: 1", "replicas: 5", id="replicas"),
        pytest.param("deploy: {replicas: 1}", "scale: 3", id="scale-instead-of-deploy"),
        pytest.param("    deploy: {replicas: 1}\n", "", id="deploy-left-out"),
        # where values come from does not count, only the values (env_file is tested below)
        pytest.param("environment: {A: '1'}", "environment: [A=1]", id="environment-as-list"),
        pytest.param("depends_on: [db]", "depends_on: {}", id="depends-on"),
        pytest.param("profiles: []", "profiles: [extra]", id="profiles"),
        pytest.param("update: stop-first", "update: start-first", id="x-kedge-options"),
        pytest.param("image: 'db:1'", "image: 'db:2'", id="another-service"),
        pytest.param("version: 1", "version: 2", id="declared-version"),
    ],
)
def test_config_hash_ignores_what_must_not_recreate(old: str, new: str) -> None:
    before = parse(BASE)
    after = parse(BASE.replace(old, new, 1))
    assert digests.config_hash(before, "web") == digests.config_hash(after, "web")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("image: web:1", "image: web:2", id="image"),
        pytest.param("A: '1'", "A: '2'", id="environment"),
        pytest.param("deploy: {replicas: 1}", "deploy: {replicas: 1, labels: [a=b]}", id="deploy"),
    ],
)
def test_config_hash_changes_with_the_container(old: str, new: str) -> None:
    before = parse(BASE)
    after = parse(BASE.replace(old, new, 1))
    assert digests.config_hash(before, "web") != digests.config_hash(after, "web")
    assert digests.digest(before) != digests.digest(after)


def test_digest_leaves_out_the_declared_version_only() -> None:
    one = parse(BASE)
    two = parse(BASE.replace("version: 1", "version: 7"))
    described = parse(BASE.replace("version: 1", "version: 1, description: x"))
    assert digests.digest(one) == digests.digest(two)
    assert digests.digest(one) != digests.digest(described)
    assert digests.digest(one).startswith("sha256:")


SECRET_STACK = """
services:
  web: {image: a, secrets: [token], configs: [conf]}
  other: {image: a}
secrets: {token: {file: ./token.txt}}
configs: {conf: {file: ./conf}}
"""


def test_config_hash_follows_secret_and_config_file_contents(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("one")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.ini").write_text("x=1")
    first = parse(SECRET_STACK, project_dir=tmp_path)
    (tmp_path / "token.txt").write_text("two")
    second = parse(SECRET_STACK, project_dir=tmp_path)
    assert digests.config_hash(first, "web") != digests.config_hash(second, "web")
    assert digests.config_hash(first, "other") == digests.config_hash(second, "other")
    assert digests.digest(first) != digests.digest(second)
    (tmp_path / "conf" / "a.ini").write_text("x=2")
    third = parse(SECRET_STACK, project_dir=tmp_path)
    assert digests.config_hash(second, "web") != digests.config_hash(third, "web")


def test_a_missing_secret_file_is_no_error(tmp_path: Path) -> None:
    spec = parse(SECRET_STACK, project_dir=tmp_path)
    assert spec.sources == {}
    assert digests.config_hash(spec, "web").startswith("sha256:")


def test_config_hash_follows_the_build_context(tmp_path: Path) -> None:
    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / ".dockerignore").write_text("*.log\nnode_modules\n")
    (context / "debug.log").write_text("a")
    (context / "node_modules").mkdir()
    (context / "node_modules" / "x.js").write_text("a")
    text = "services:\n  web: {build: ./app}\n"
    first = parse(text, project_dir=tmp_path)
    (context / "debug.log").write_text("b")
    (context / "node_modules" / "x.js").write_text("b")
    ignored = parse(text, project_dir=tmp_path)
    (context / "main.py").write_text("print(1)")
    changed = parse(text, project_dir=tmp_path)
    assert "build.web" in first.sources
    assert digests.config_hash(first, "web") == digests.config_hash(ignored, "web")
    assert digests.config_hash(first, "web") != digests.config_hash(changed, "web")


SECRET_FROM_ENV = """
services:
  web:
    image: web:1
    secrets: [token]
secrets:
  token: {environment: TOKEN}
"""


def _loaded(tmp_path: Path, env: dict[str, str], *, name: str = "shop") -> StackSpec:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SECRET_FROM_ENV)
    return loader.load_file(path, env=env)


def test_a_secret_from_the_environment_is_in_the_config_hash_by_a_slow_digest(tmp_path: Path):
    first = _loaded(tmp_path, {"TOKEN": "abc"})
    again = _loaded(tmp_path, {"TOKEN": "abc"})
    rotated = _loaded(tmp_path, {"TOKEN": "abd"})
    recorded = first.sources["secrets.token"]
    assert recorded.startswith("scrypt:")
    assert "abc" not in json.dumps(loader.canonical(first))
    assert recorded == again.sources["secrets.token"]
    assert digests.config_hash(first, "web") == digests.config_hash(again, "web")
    assert digests.config_hash(first, "web") != digests.config_hash(rotated, "web")
    # salted by where it is used: the same value in another stack digests otherwise
    other = _loaded(tmp_path, {"TOKEN": "abc"}, name="other")
    assert other.sources["secrets.token"] != recorded


def test_a_spec_without_a_folder_still_records_its_secrets_from_the_environment():
    # a spec sent on standard input (``kedge apply -f -``): no file to resolve paths from,
    # but a variable's value is copied in all the same, so its rotation must recreate
    first = loader.parse(SECRET_FROM_ENV, source="stdin", name="shop", env={"TOKEN": "abc"})
    rotated = loader.parse(SECRET_FROM_ENV, source="stdin", name="shop", env={"TOKEN": "abd"})
    assert first.sources["secrets.token"].startswith("scrypt:")
    assert digests.config_hash(first, "web") != digests.config_hash(rotated, "web")


def test_a_spec_without_a_folder_reads_no_file_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "token.txt").write_text("abc")
    text = SECRET_FROM_ENV.replace("{environment: TOKEN}", "{file: ./token.txt}")
    assert loader.parse(text, source="stdin", name="shop", env={}).sources == {}


def test_an_unset_secret_variable_records_nothing(tmp_path: Path):
    assert "secrets.token" not in _loaded(tmp_path, {}).sources


def test_an_env_file_counts_by_the_values_it_gives(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("LEVEL=1\n")
    (tmp_path / "b.env").write_text("LEVEL=1\n")
    (tmp_path / "c.env").write_text("LEVEL=2\n")

    def loaded(env_file: str) -> StackSpec:
        path = tmp_path / "shop.yaml"
        path.write_text(f"services:\n  web:\n    image: web:1\n    env_file: [{env_file}]\n")
        return loader.load_file(path, env={})

    same = digests.config_hash(loaded("a.env"), "web")
    assert same == digests.config_hash(loaded("b.env"), "web")  # another file, same values
    assert same != digests.config_hash(loaded("c.env"), "web")  # another value
