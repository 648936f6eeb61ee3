"""The compose corpus: Kedge's verdict agrees with Docker Compose's on every file of it.

Each file is loaded from its own folder (so its ``.env`` is read) with an empty process
environment, as the verdicts in ``MANIFEST.tsv`` were made (see ``shared/corpus/README.md``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from kedge.errors import SpecError
from kedge.specs import digests, loader

# tests/unit/test_corpus.py → the checkout root is parents[2]; shared/ sits beside it
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
MANIFEST = CORPUS / "awesome-compose" / "MANIFEST.tsv"


def cases() -> list[Any]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open(newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            pytest.param(MANIFEST.parent / row["file"], row["expected"], id=row["file"])
            for row in rows
        ]


@pytest.mark.skipif(not MANIFEST.exists(), reason="shared corpus not present")
def test_the_corpus_has_every_file() -> None:
    assert len(cases()) == 39


@pytest.mark.skipif(not MANIFEST.exists(), reason="shared corpus not present")
@pytest.mark.parametrize(("path", "expected"), cases())
def test_kedge_agrees_with_compose(path: Path, expected: str) -> None:
    try:
        spec = loader.load_file(path, env={})
        got = "valid"
    except SpecError as exc:
        got = f"invalid: {exc.render()}"
    assert got == expected
    if expected == "valid":
        again = loader.from_canonical(loader.canonical(spec))
        assert again == spec
        assert digests.digest(again) == digests.digest(spec)
