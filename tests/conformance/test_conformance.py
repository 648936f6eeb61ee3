"""Conformance: Kedge's verdict on each case of ``cases/`` is the one ``MANIFEST.tsv`` records.

Each case probes one rule of the compose specification. ``record.py`` wrote Docker Compose's
verdict (``compose``) on it; ``kedge`` is what Kedge must say: the same, except for the few
cases whose ``reason`` says why Kedge deliberately differs. Each file is loaded from its own
folder (so a ``.env`` beside it is read) with an empty environment, as the verdicts were made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kedge.errors import SpecError
from kedge.specs import loader
from tests.conformance.record import CASES, case_files, read_manifest

ROWS = read_manifest()


def cases() -> list[Any]:
    return [pytest.param(row, id=row["file"]) for row in ROWS]


def kedge_verdict(path: Path) -> str:
    """``valid``, or ``invalid:`` and Kedge's rendered error."""
    try:
        loader.load_file(path, env={})
    except SpecError as exc:
        return f"invalid: {exc.render()}"
    return "valid"


def test_every_case_is_recorded() -> None:
    recorded = {row["file"] for row in ROWS}
    on_disk = {path.relative_to(CASES).as_posix() for path in case_files()}
    assert on_disk == recorded, "run tests/conformance/record.py after adding a case"
    assert len(recorded) >= 300


def test_deliberate_differences_are_few_and_explained() -> None:
    differ = [row for row in ROWS if row["kedge"] != row["compose"]]
    assert all(row["reason"] for row in differ)
    assert all(row["kedge"] != row["compose"] for row in ROWS if row["reason"])
    assert len(differ) <= 0.05 * len(ROWS)


@pytest.mark.parametrize("row", cases())
def test_kedge_agrees_with_the_recorded_verdict(row: dict[str, str]) -> None:
    got = kedge_verdict(CASES / row["file"])
    expected = row["kedge"]
    if expected == "valid":
        assert got == "valid"
    else:
        assert got.startswith("invalid"), f"compose says: {row['stderr']}"
