"""The YAML parser: plain data with positions, and a clear located error for each bad input."""

from __future__ import annotations

import io
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from kedge.errors import SpecError
from kedge.specs.yamlsource import (
    MAX_BYTES_SETTING,
    Document,
    Limits,
    load_yaml,
    max_spec_bytes,
    render_path,
)


def _bomb(levels: int = 9, width: int = 9) -> str:
    """The classic 'billion laughs': each level lists the previous one ``width`` times."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


VALID = [
    pytest.param(
        "a: 1\nb: [x, 2.5, true, null]\n", {"a": 1, "b": ["x", 2.5, True, None]}, id="scalars"
    ),
    pytest.param("yes: no\non: off\n", {"yes": "no", "on": "off"}, id="yaml-1.2-booleans-are-text"),
    pytest.param(
        "mode: 0440\nhex: 0x1F\no: 0o17\n",
        {"mode": 288, "hex": 31, "o": 15},
        id="octal-like-compose",
    ),
    pytest.param("t: 2024-01-02\n", {"t": "2024-01-02"}, id="timestamp-stays-text"),
    pytest.param('s: !!str 12\nq: "12"\n', {"s": "12", "q": "12"}, id="explicit-str"),
    pytest.param(
        "8080: web\n1.5: x\ntrue: y\n",
        {"8080": "web", "1.5": "x", "true": "y"},
        id="keys-become-text",
    ),
    pytest.param(
        "base: &b {image: x, restart: always}\nweb:\n  <<: *b\n  image: y\n",
        {"base": {"image": "x", "restart": "always"}, "web": {"image": "y", "restart": "always"}},
        id="merge-key-explicit-wins",
    ),
    pytest.param(
        "a: &a {k: 1, m: a}\nb: &b {k: 2, n: b}\nc:\n  <<: [*a, *b]\n",
        {"a": {"k": 1, "m": "a"}, "b": {"k": 2, "n": "b"}, "c": {"k": 1, "m": "a", "n": "b"}},
        id="merge-list-earlier-wins",
    ),
    pytest.param("a: &x [1, 2]\nb: *x\n", {"a": [1, 2], "b": [1, 2]}, id="alias"),
    pytest.param("'<<': 1\n", {"<<": 1}, id="quoted-merge-is-a-key"),
    pytest.param("\ufeffa: 1\n", {"a": 1}, id="bom"),
    pytest.param("a: |\n  x\n  \ty\n", {"a": "x\n\ty\n"}, id="tab-inside-block-scalar"),
    pytest.param("a:\tb\n", {"a": "b"}, id="tab-as-separator"),
    pytest.param("a: =\nb: <<\n", {"a": "=", "b": "<<"}, id="odd-plain-values"),
    pytest.param("---\na: 1\n...\n", {"a": 1}, id="explicit-document-markers"),
    pytest.param("a: &x 1\nb: &x 2\nc: *x\n", {"a": 1, "b": 2, "c": 2}, id="anchor-redefined"),
    pytest.param("a: 1\n---\nb: 2\n", {"a": 1, "b": 2}, id="documents-merged"),
    pytest.param("a: {x: 1}\n---\na: {y: 2}\n", {"a": {"x": 1, "y": 2}}, id="mappings-merged"),
    pytest.param("a: {b: [1]}\n---\na: {b: [2]}\n", {"a": {"b": [1, 2]}}, id="lists-appended"),
    pytest.param("a: [1]\n---\na: !override [2]\n", {"a": [2]}, id="override-tag"),
    pytest.param("a: [1]\nb: 2\n---\na: !reset []\n", {"b": 2}, id="reset-tag"),
    pytest.param("a: !reset [1]\nb: 2\n", {"b": 2}, id="reset-in-one-document"),
    pytest.param("a: !foo 5\nb: !bar {c: 1}\n", {"a": "5", "b": {"c": 1}}, id="local-tags"),
    pytest.param("a: [http://x:80]\n", {"a": ["http://x:80"]}, id="colon-in-flow-scalar"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_load_yaml_gives_plain_data(text: str, expected: dict[str, Any]) -> None:
    assert load_yaml(text).data == expected


def test_bytes_and_str_agree() -> None:
    text = "name: café\nservices: {web: {image: x}}\n"
    assert load_yaml(text.encode()).data == load_yaml(text).data


def test_aliases_are_copies() -> None:
    data = load_yaml("a: &x {k: [1]}\nb: *x\n").data
    assert data["a"] == data["b"]
    assert data["a"] is not data["b"]


INVALID = [
    pytest.param(
        "a: 1\nb: 2\na: 3\n", 3, "the key 'a' appears twice", "first at line 1", id="duplicate-key"
    ),
    pytest.param(
        "services:\n  web:\n    image: x\n    image: y\n",
        4,
        "'image' appears twice",
        "line 3",
        id="duplicate-nested",
    ),
    pytest.param(
        "services:\n\tweb:\n", 2, "tab is used for indentation", "spaces", id="tab-indent"
    ),
    pytest.param(
        "a:\n  b: 1\n  \tc: 2\n", 3, "tab is used for indentation", "line 3", id="tab-after-spaces"
    ),
    pytest.param("- a\n- b\n", 1, "must be a mapping", "found a sequence", id="top-level-sequence"),
    pytest.param("just text\n", 1, "must be a mapping", "scalar", id="top-level-scalar"),
    pytest.param("", 1, "must be a mapping", "found nothing", id="empty"),
    pytest.param("# only a comment\n", 1, "must be a mapping", "found nothing", id="only-comment"),
    pytest.param(
        "a: 1\n---\n- b\n", 3, "must be a mapping", "found a sequence", id="second-document-list"
    ),
    pytest.param("a: [1, 2\n", 2, "YAML syntax error", "flow sequence", id="unclosed-bracket"),
    pytest.param(
        "a: b: c\n", 1, "YAML syntax error", "mapping values are not allowed", id="colon-in-plain"
    ),
    pytest.param("a:\n  b: 1\n c: 2\n", 3, "YAML syntax error", "block", id="bad-indent"),
    pytest.param('a: "open\n', 2, "YAML syntax error", "quoted scalar", id="unclosed-quote"),
    pytest.param("a: *nope\n", 1, "alias *nope has no anchor", "&nope", id="undefined-alias"),
    pytest.param(
        "a: &r [*r]\n", 1, "refers to a node that contains it", "recursive", id="recursive-alias"
    ),
    pytest.param(
        "a: !!binary aGk=\n",
        1,
        "tag 'tag:yaml.org,2002:binary' is not supported",
        "!!str",
        id="binary-tag",
    ),
    pytest.param("a: !!binary aGVsbG8=\n", 1, "binary", "remove the tag", id="binary-tag"),
    pytest.param("a: !!set {x, y}\n", 1, "set", "remove the tag", id="set-tag"),
    pytest.param("a: !!int twelve\n", 1, "not a valid int", "twelve", id="bad-explicit-int"),
    pytest.param("? [a, b]\n: c\n", 1, "a key must be text", "sequence", id="complex-key"),
    pytest.param("~: x\n", 1, "a key is empty", "null", id="null-key"),
    pytest.param(
        "a:\n  <<: [1, 2]\n", 2, "merge key '<<' takes a mapping", "scalar", id="merge-of-scalars"
    ),
    pytest.param("x: café\ny: \x07\n", 2, "U+0007 is not allowed", ":2:4:", id="control-character"),
    pytest.param(b"a: ok\nb: caf\xe9\n", 2, "not valid UTF-8", "offset 12", id="latin-1-byte"),
    pytest.param(b"\xff\xfea\x00:\x00", 1, "not valid UTF-8", "offset 0", id="utf-16"),
]


@pytest.mark.parametrize(("text", "line", "message", "detail"), INVALID)
def test_load_yaml_rejects_with_line(
    text: str | bytes, line: int, message: str, detail: str
) -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml(text, source="stack.yaml")
    error = caught.value
    assert error.location.file == "stack.yaml"
    assert error.location.line == line, error.render()
    assert message in error.message
    assert detail in error.render()
    assert error.hint, "every error says how to fix it"


def test_duplicate_key_names_both_lines_and_path() -> None:
    text = "services:\n  web:\n    image: a\n  db:\n    image: b\n  web:\n    image: c\n"
    with pytest.raises(SpecError) as caught:
        load_yaml(text, source="s.yaml")
    assert caught.value.render().startswith("s.yaml:6:3: services.web: the key 'web' appears twice")
    assert "first at line 2, again at line 6" in caught.value.message


def test_alias_bomb_fails_fast_and_small() -> None:
    bomb = _bomb()
    assert len(bomb) <= 1024
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SpecError) as caught:
            load_yaml(bomb, source="bomb.yaml")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.1, f"took {elapsed * 1000:.1f} ms"
    assert peak < 20 * 1024 * 1024, f"peak {peak:,} bytes"
    assert "more than 100,000 nodes" in caught.value.message
    assert caught.value.location.line is not None
    assert "billion laughs" in caught.value.hint


def test_node_budget_counts_alias_expansion() -> None:
    text = (
        "a: &a [1, 2, 3, 4]\nb: [*a, *a, *a]\n"  # root, a, [ ], 4 items, b, [ ], 3 x 5 = 24 nodes
    )
    assert load_yaml(text, limits=Limits(max_nodes=24)).data["b"][2] == [1, 2, 3, 4]
    with pytest.raises(SpecError) as caught:
        load_yaml(text, limits=Limits(max_nodes=23))
    assert caught.value.location.line == 2
    assert "alias *a" in caught.value.message


def test_five_megabyte_file_is_refused_before_parsing() -> None:
    line = "# " + "x" * 97 + "\n"
    text = ("a: 1\n" + line * (5 * 1024 * 1024 // len(line))).encode()
    assert len(text) > 5_000_000
    started = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        load_yaml(text, source="big.yaml")
    assert time.perf_counter() - started < 1.0
    error = caught.value
    assert "over the limit of 1,048,576 bytes" in error.message
    assert error.location.line == 1 + (1 << 20) // len(line) + 1
    assert "split" in error.hint


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: " + "[" * 1000 + "]" * 1000 + "\n", id="flow"),
        pytest.param(
            "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v\n", id="block"
        ),
    ],
)
def test_thousand_level_nesting_is_refused(text: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml(text, source="deep.yaml")
    error = caught.value
    assert "nests 101 levels deep here, past the limit of 100" in error.message
    assert error.location.line is not None


def test_depth_limit_applies_through_aliases() -> None:
    text = "a: &d [[[1]]]\nb: [[*d]]\n"  # b nests 2 + 3 levels below the root mapping
    assert load_yaml(text, limits=Limits(max_depth=6)).data["b"] == [[[[[1]]]]]
    with pytest.raises(SpecError) as caught:
        load_yaml(text, limits=Limits(max_depth=5))
    assert caught.value.location.line == 2


def test_depth_counts_collections_not_scalars() -> None:
    assert load_yaml("a: {b: c}\n", limits=Limits(max_depth=2)).data == {"a": {"b": "c"}}


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param({"max_depth": 0}, id="depth-zero"),
        pytest.param({"max_depth": 10_000}, id="depth-too-deep-for-the-walk"),
        pytest.param({"max_bytes": 0}, id="bytes-zero"),
        pytest.param({"max_nodes": -1}, id="nodes-negative"),
    ],
)
def test_limits_are_checked(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Limits(**limits)


def test_a_file_near_the_size_limit_loads() -> None:
    service = "  svc{i}:\n    image: busybox:1\n    command: [sh, -c, 'echo {i}']\n"
    text = "services:\n" + "".join(service.format(i=i) for i in range(3000))
    assert 150_000 < len(text) < 1 << 20
    assert len(load_yaml(text).data["services"]) == 3000


LOCATE = [
    pytest.param(("services",), (1, 1), "services", id="top-key"),
    pytest.param(("services", "web"), (2, 3), "services.web", id="nested-key"),
    pytest.param(("services", "web", "ports", 1), (5, 9), "services.web.ports[1]", id="list-item"),
    pytest.param(
        ("services", "web", "ports", 7), (3, 5), "services.web.ports[7]", id="missing-item-nearest"
    ),
    pytest.param(
        ("services", "web", "nope", "x"), (2, 3), "services.web.nope.x", id="missing-key-nearest"
    ),
    pytest.param(
        ("services", "web", "labels", "a.b"), (7, 7), 'services.web.labels["a.b"]', id="dotted-key"
    ),
    pytest.param((), (1, 1), "", id="root"),
]


@pytest.mark.parametrize(("path", "position", "rendered"), LOCATE)
def test_locate_finds_node_or_nearest_ancestor(
    path: tuple[str | int, ...], position: tuple[int, int], rendered: str
) -> None:
    text = (
        "services:\n  web:\n    ports:\n      - 80:80\n      - '443'\n    labels:\n      a.b: c\n"
    )
    location = load_yaml(text, source="s.yaml").locate(path)
    assert (location.file, location.line, location.column) == ("s.yaml", *position)
    assert location.path == rendered


def test_locate_on_a_document_without_positions() -> None:
    location = Document(data={}, source="x.yaml").locate(["a", 0])
    assert (location.file, location.line, location.path) == ("x.yaml", None, "a[0]")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param(["services", "web", "ports", 0], "services.web.ports[0]", id="plain"),
        pytest.param(["labels", "com.example/x"], 'labels["com.example/x"]', id="dots"),
        pytest.param(["a b", 'q"'], '["a b"]["q\\""]', id="quotes"),
        pytest.param([0, "x"], "[0].x", id="leading-index"),
        pytest.param(["x-kedge", "on_failure"], "x-kedge.on_failure", id="dash-underscore"),
    ],
)
def test_render_path(path: list[str | int], text: str) -> None:
    assert render_path(path) == text


def test_merged_keys_are_located_at_their_anchor() -> None:
    doc = load_yaml("base: &b\n  restart: always\nweb:\n  <<: *b\n  image: x\n")
    assert doc.data["web"] == {"image": "x", "restart": "always"}
    assert doc.locate(["web", "restart"]).line == 2
    assert doc.locate(["web", "image"]).line == 5


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        pytest.param("a: ok\nb: caf\ud800\n", 2, 7, id="lone-surrogate-in-str"),
        pytest.param(b"a: ok\nb: \xc3\xa9\xff\n", 2, 5, id="column-counts-characters"),
    ],
)
def test_invalid_utf8_location(text: str | bytes, line: int, column: int) -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml(text)
    assert "not valid UTF-8" in caught.value.message
    assert (caught.value.location.line, caught.value.location.column) == (line, column)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
_DATA = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _DATA, max_size=5))
def test_load_yaml_reads_what_ruamel_writes(data: dict[str, Any]) -> None:
    stream = io.StringIO()
    YAML(typ="safe").dump(data, stream)
    assert load_yaml(stream.getvalue()).data == data


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _DATA, max_size=5))
def test_block_and_flow_styles_agree(data: dict[str, Any]) -> None:
    block, flow = YAML(typ="safe"), YAML(typ="safe")
    block.default_flow_style = False
    flow.default_flow_style = True
    texts = []
    for dumper in (block, flow):
        stream = io.StringIO()
        dumper.dump(data, stream)
        texts.append(stream.getvalue())
    assert load_yaml(texts[0]).data == load_yaml(texts[1]).data == data


def test_the_size_refusal_names_the_setting_that_raises_the_limit() -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml(b"a: 1\n" + b"#" * (1 << 20), source="big.yaml")
    assert f"raise the limit with the environment variable {MAX_BYTES_SETTING}" in (
        caught.value.hint
    )
    assert "at most 16,777,216 bytes" in caught.value.hint


@pytest.mark.parametrize(
    ("setting", "limit"),
    [
        pytest.param(None, 1 << 20, id="unset"),
        pytest.param("", 1 << 20, id="empty"),
        pytest.param("2097152", 2 << 20, id="bytes"),
        pytest.param("2m", 2 << 20, id="unit"),
        pytest.param("16MiB", 16 << 20, id="ceiling"),
        pytest.param("1k", 1024, id="floor"),
    ],
)
def test_the_size_limit_is_a_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, limit: int
) -> None:
    if setting is None:
        monkeypatch.delenv(MAX_BYTES_SETTING, raising=False)
    else:
        monkeypatch.setenv(MAX_BYTES_SETTING, setting)
    assert max_spec_bytes() == limit
    assert Limits().max_bytes == limit
    text = b"a: 1\n" + b"#" * (limit - 5)
    assert load_yaml(text).data == {"a": 1}
    with pytest.raises(SpecError, match=f"over the limit of {limit:,} bytes"):
        load_yaml(text + b"#")


@pytest.mark.parametrize("setting", ["17m", "1g", "100", "0", "-5", "lots", "1.5.5m"])
def test_the_size_setting_stays_bounded(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv(MAX_BYTES_SETTING, setting)
    with pytest.raises(SpecError) as caught:
        load_yaml("a: 1\n")
    assert caught.value.message.startswith(f"{MAX_BYTES_SETTING}={setting!r} is not a size")
    assert "1,024 and 16,777,216 bytes" in caught.value.message
