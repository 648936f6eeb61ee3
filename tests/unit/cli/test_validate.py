"""``kedge validate``: files and folders, text and JSON output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kedge.cli.main import app

GOOD = "name: shop\nservices:\n  web: {image: nginx, ports: ['8080:80']}\n"
BAD = "services:\n  web:\n    imgae: nginx\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yml").write_text(BAD)
    (tmp_path / ".hidden.yaml").write_text(BAD)
    (tmp_path / "notes.txt").write_text(BAD)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.yaml").write_text(BAD)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", *args])
    return result.exit_code, result.stdout


def test_a_valid_file_exits_zero(folder: Path) -> None:
    code, out = run(str(folder / "good.yaml"))
    assert code == 0
    assert "valid (stack shop, 1 services, sha256:" in out


def test_an_invalid_file_prints_file_line_column_path_message_hint(folder: Path) -> None:
    code, out = run(str(folder / "bad.yml"))
    assert code == 1
    assert f"{folder / 'bad.yml'}:3:5: services.web.imgae: unknown key 'imgae'" in out
    assert "(did you mean 'image'?)" in out


def test_a_folder_means_its_yaml_files_without_hidden_or_nested_ones(folder: Path) -> None:
    code, out = run(str(folder), "-o", "json")
    records = json.loads(out)
    assert code == 1
    assert [Path(r["file"]).name for r in records] == ["bad.yml", "good.yaml"]
    bad, good = records
    assert (good["valid"], good["stack"], good["services"]) == (True, "shop", ["web"])
    assert good["digest"].startswith("sha256:")
    assert bad["valid"] is False
    assert bad["errors"][0] == {
        "file": str(folder / "bad.yml"),
        "line": 3,
        "column": 5,
        "path": "services.web.imgae",
        "message": "unknown key 'imgae'",
        "hint": "did you mean 'image'?",
    }


def test_all_valid_exits_zero_with_json(folder: Path) -> None:
    (folder / "bad.yml").unlink()
    code, out = run(str(folder), "--output", "json")
    assert code == 0
    assert [r["valid"] for r in json.loads(out)] == [True]


def test_a_missing_file_is_invalid(tmp_path: Path) -> None:
    code, out = run(str(tmp_path / "nope.yaml"))
    assert code == 1
    assert "cannot read the spec file" in out
