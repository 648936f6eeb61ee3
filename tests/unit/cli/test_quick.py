"""``kedge up``'s fast path takes exactly the options the full verb takes, or leaves it."""

from __future__ import annotations

import pytest

from kedge.cli import quick


@pytest.mark.parametrize(
    ("args", "parsed"),
    [
        (["-f", "a.yaml"], (["a.yaml"], "kedge.db", False)),
        (["--file", "a.yaml", "--db", "x.db"], (["a.yaml"], "x.db", False)),
        (["--file=a.yaml", "--db=x.db", "--wait"], (["a.yaml"], "x.db", True)),
        (["--wait", "--no-wait", "-f", "a.yaml"], (["a.yaml"], "kedge.db", False)),
        ([], ([], "kedge.db", False)),  # the files compose discovers
        (["-f", "b.yaml", "--file=a.yaml"], (["b.yaml", "a.yaml"], "kedge.db", False)),
    ],
)
def test_the_options_of_up(monkeypatch: pytest.MonkeyPatch, args: list[str], parsed: tuple):
    monkeypatch.delenv("KEDGE_DB", raising=False)
    assert quick._parse(args) == parsed


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-f"],
        ["-f", "a.yaml", "--force"],
        ["-f=a.yaml"],
        ["a.yaml"],
        ["-p", "shop"],
        ["--project-name=shop"],
        ["--env-file", "x.env"],
        ["-f", "a.yaml", "--profile", "debug"],
    ],
)
def test_anything_else_goes_to_the_full_verb(args: list[str]):
    assert quick._parse(args) is None


def test_kedge_db_is_the_default_store(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KEDGE_DB", "/tmp/elsewhere.db")
    assert quick._parse(["-f", "a.yaml"]) == (["a.yaml"], "/tmp/elsewhere.db", False)
