"""Env files follow compose-go's ``dotenv`` syntax; broken ones fail with their line."""

from __future__ import annotations

import pathlib

import pytest

from kedge.errors import SpecError
from kedge.specs.envfiles import parse_env_file, read_env_file

PARSES = [
    pytest.param("=value\nA=1\n", {"A": "1"}, id="line-without-a-name-is-skipped"),
    pytest.param("FOO=bar", {"FOO": "bar"}, id="plain"),
    pytest.param("FOO =bar\nBAZ= qux", {"FOO": "bar", "BAZ": "qux"}, id="spaces-around-equals"),
    pytest.param("FOO=bar ", {"FOO": "bar"}, id="trailing-space"),
    pytest.param("FOO=bar # comment", {"FOO": "bar"}, id="inline-comment"),
    pytest.param("FOO=bar#baz", {"FOO": "bar#baz"}, id="hash-without-space"),
    pytest.param("# comment\n\n  # indented\nA=1\n", {"A": "1"}, id="comments-and-blanks"),
    pytest.param("export A=2\n\texport B=3", {"A": "2", "B": "3"}, id="export"),
    pytest.param(
        "exportFOO=2\nexport_X=1", {"exportFOO": "2", "export_X": "1"}, id="export-prefix-of-name"
    ),
    pytest.param("OPTION_A: 1\nB: Foo=bar", {"OPTION_A": "1", "B": "Foo=bar"}, id="yaml-style"),
    pytest.param("A=1:B", {"A": "1:B"}, id="colon-in-value"),
    pytest.param(
        "FOO.BAR=x\nA-B=y\nC[0]=z", {"FOO.BAR": "x", "A-B": "y", "C[0]": "z"}, id="name-chars"
    ),
    pytest.param("FOO=foobar=", {"FOO": "foobar="}, id="equals-in-value"),
    pytest.param("FOO=", {"FOO": ""}, id="empty"),
    pytest.param("FOO=''\nBAR=\"\"", {"FOO": "", "BAR": ""}, id="empty-quoted"),
    pytest.param("FOO='bar'", {"FOO": "bar"}, id="single-quoted"),
    pytest.param("FOO='ba#r' # c", {"FOO": "ba#r"}, id="single-quoted-hash"),
    pytest.param("FOO='$BAR \\n'", {"FOO": "$BAR \\n"}, id="single-quoted-is-literal"),
    pytest.param("FOO='it\\'s'", {"FOO": "it's"}, id="single-quoted-escaped-quote"),
    pytest.param('FOO="bar"', {"FOO": "bar"}, id="double-quoted"),
    pytest.param('FOO="escaped\\"bar"', {"FOO": 'escaped"bar'}, id="double-escaped-quote"),
    pytest.param("FOO=\"'d'\"", {"FOO": "'d'"}, id="single-inside-double"),
    pytest.param('FOO="bar\\nbaz\\tq"', {"FOO": "bar\nbaz\tq"}, id="double-escapes"),
    pytest.param('FOO="a\\\\b"', {"FOO": "a\\b"}, id="double-backslash"),
    pytest.param('FOO="a\\qb"', {"FOO": "a\\qb"}, id="unknown-escape-kept"),
    pytest.param('FOO="\\0101"', {"FOO": "A"}, id="octal-escape"),
    pytest.param(
        'FOO="first\nsecond\nthird"', {"FOO": "first\nsecond\nthird"}, id="multi-line-double"
    ),
    pytest.param("FOO='a\nb'\nBAR=1", {"FOO": "a\nb", "BAR": "1"}, id="multi-line-single"),
    pytest.param("A=x\r\nB=y\r\n", {"A": "x", "B": "y"}, id="crlf"),
    pytest.param(
        "A=test\nB=$A\nC=${A}bar",
        {"A": "test", "B": "test", "C": "testbar"},
        id="refers-to-earlier",
    ),
    pytest.param("B=$UNSET_X", {"B": ""}, id="unset-is-empty"),
    pytest.param('A=t\nB="quote $A"', {"A": "t", "B": "quote t"}, id="double-quoted-expands"),
    pytest.param('A="foo\\$BAR"', {"A": "foo$BAR"}, id="escaped-dollar-in-double"),
    pytest.param('A=t\nB="x\\${A} ${A}"', {"A": "t", "B": "x${A} t"}, id="escaped-braced"),
    pytest.param("A=$$x", {"A": "$x"}, id="double-dollar"),
    pytest.param("A=${B:-def}", {"A": "def"}, id="default"),
    pytest.param("A=1\nA=2", {"A": "2"}, id="later-wins"),
]


@pytest.mark.parametrize(("text", "expected"), PARSES)
def test_parse_env_file(text: str, expected: dict[str, str]) -> None:
    assert parse_env_file(text, source=".env") == expected


LOOKUPS = [
    pytest.param("HOME_DIR", {"HOME_DIR": "/root"}, {"HOME_DIR": "/root"}, id="inherited"),
    pytest.param("NOT_SET\nA=1", {}, {"A": "1"}, id="inherited-missing-left-out"),
    pytest.param("A=$FROM_ENV", {"FROM_ENV": "e"}, {"A": "e"}, id="lookup-in-values"),
    pytest.param("X=file\nA=$X", {"X": "env"}, {"X": "file", "A": "file"}, id="file-before-lookup"),
    pytest.param("A", {"A": "v"}, {"A": "v"}, id="inherited-at-end-of-file"),
]


@pytest.mark.parametrize(("text", "lookup", "expected"), LOOKUPS)
def test_parse_env_file_with_lookup(
    text: str, lookup: dict[str, str], expected: dict[str, str]
) -> None:
    assert parse_env_file(text, source=".env", lookup=lookup) == expected


INVALID = [
    pytest.param('A=1\nB="open\nC=2', 2, "never closed", id="unclosed-double"),
    pytest.param("A='open", 1, "never closed", id="unclosed-single"),
    pytest.param("A B=1", 1, "contains a space", id="space-in-name"),
    pytest.param("A=1\nlol$wut", 2, "unexpected character '$'", id="dollar-in-name"),
    pytest.param('A="x" y', 1, "unexpected text after the quoted value", id="text-after-quote"),
    pytest.param("\n\nA=${B", 3, "is never closed by '}'", id="bad-interpolation"),
    pytest.param("A=${B:?must be set}", 1, "required variable B", id="required"),
]


@pytest.mark.parametrize(("text", "line", "message"), INVALID)
def test_parse_env_file_rejects(text: str, line: int, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_env_file(text, source="stack/.env")
    assert caught.value.location.file == "stack/.env"
    assert caught.value.location.line == line
    assert message in caught.value.message
    assert caught.value.hint


def test_read_env_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"\xef\xbb\xbfTAG=1.4\nexport NAME='shop'\n")
    assert read_env_file(path) == {"TAG": "1.4", "NAME": "shop"}


def test_read_env_file_missing(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        read_env_file(tmp_path / "nope.env")


def test_read_env_file_not_utf8(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "x.env"
    path.write_bytes(b"A=1\nB=caf\xe9\n")
    with pytest.raises(SpecError) as caught:
        read_env_file(path)
    assert caught.value.location.line == 2
    assert "UTF-8" in caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('A="quoted" # kept\n', {"A": '"quoted" # kept'}, id="as-written"),
        pytest.param("A=$HOME ${X:-y}\\n", {"A": "$HOME ${X:-y}\\n"}, id="no-substitution"),
        pytest.param("# comment\n\nB=1=2\n", {"B": "1=2"}, id="comments-and-equals"),
        pytest.param("FROM_ENV\nMISSING\n", {"FROM_ENV": "e"}, id="bare-name-from-lookup"),
    ],
)
def test_raw_format(text: str, expected: dict[str, str]) -> None:
    assert parse_env_file(text, source="raw.env", lookup={"FROM_ENV": "e"}, raw=True) == expected
