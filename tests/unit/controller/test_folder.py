"""The spec folder: which files are spec files, completeness, the prune guard, git commits."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from kedge.controller.folder import Prune, decide_prune, git_commit, scan_folder

SETTLE = 200_000_000  # 0.2 s


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def _scan(folder: Path) -> dict[str, str]:
    scan = scan_folder(folder, now_ns=time.time_ns(), settle_ns=SETTLE)
    found = {f.path.name: "spec" for f in scan.files}
    found |= {p.name: "unsettled" for p in scan.unsettled}
    found |= {i.path.name: i.reason for i in scan.ignored}
    return found


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shop.yaml", "spec"),
        ("shop.yml", "spec"),
        (".hidden.yaml", "a hidden file"),
        (".shop.yaml.swp", "an editor's swap or backup file"),
        ("shop.yaml~", "an editor's swap or backup file"),
        ("#shop.yaml#", "an editor's swap or backup file"),
        (".#shop.yaml", "an editor's swap or backup file"),
        ("shop.yaml.tmp", "an editor's swap or backup file"),
        ("README.md", "not a YAML file (*.yaml, *.yml)"),
        ("shop.json", "not a YAML file (*.yaml, *.yml)"),
    ],
    ids=str,
)
def test_which_files_are_spec_files(tmp_path: Path, name: str, expected: str) -> None:
    (tmp_path / name).write_text("name: shop\n")
    _age(tmp_path / name, 5)
    assert _scan(tmp_path) == {name: expected}


def test_links_inside_the_folder_count_and_links_leaving_it_do_not(tmp_path: Path) -> None:
    folder, outside = tmp_path / "specs", tmp_path / "elsewhere.yaml"
    folder.mkdir()
    outside.write_text("name: out\n")
    (folder / "real.yaml").write_text("name: real\n")
    (folder / "inside.yaml").symlink_to(folder / "real.yaml")
    (folder / "leaving.yaml").symlink_to(outside)
    (folder / "sub.yaml").mkdir()
    for p in (outside, folder / "real.yaml"):
        _age(p, 5)
    found = _scan(folder)
    assert found["real.yaml"] == "spec"
    assert found["inside.yaml"] == "spec"
    assert found["leaving.yaml"].startswith("a link that leaves the folder")
    assert found["sub.yaml"] == "not a regular file"


def test_a_file_still_being_written_is_left_for_a_later_scan(tmp_path: Path) -> None:
    (tmp_path / "new.yaml").write_text("name: new\nservices:\n")
    assert _scan(tmp_path) == {"new.yaml": "unsettled"}
    _age(tmp_path / "new.yaml", 1)
    scan = scan_folder(tmp_path, now_ns=time.time_ns(), settle_ns=SETTLE)
    assert [f.text for f in scan.files] == ["name: new\nservices:\n"]


def test_a_missing_folder_is_reported_as_such(tmp_path: Path) -> None:
    scan = scan_folder(tmp_path / "nope", now_ns=time.time_ns(), settle_ns=SETTLE)
    assert not scan.exists
    assert scan.files == ()


ABC = frozenset({"a", "b", "c"})


@pytest.mark.parametrize(
    ("known", "present", "exists", "enabled", "expected"),
    [
        (ABC, ABC, True, True, Prune()),
        (ABC, frozenset({"a", "b"}), True, True, Prune(delete=frozenset({"c"}))),
        (ABC, frozenset({"a", "b", "c", "d"}), True, True, Prune()),
        (ABC, frozenset({"a"}), True, True, Prune(refused="2 of 3 stacks vanished at once")),
        (ABC, frozenset(), True, True, Prune(refused="the spec folder has no spec file")),
        (ABC, frozenset(), False, True, Prune(refused="the spec folder is missing")),
        (ABC, frozenset({"a", "b"}), True, False, Prune(refused="prune is off")),
        (frozenset({"a", "b"}), frozenset({"a"}), True, True, Prune(delete=frozenset({"b"}))),
        (frozenset({"a"}), frozenset(), True, True, Prune(refused="the spec folder has no spec")),
    ],
    ids=[
        "nothing-vanished",
        "one-of-three-is-deleted",
        "a-new-stack-deletes-nothing",
        "more-than-half-vanished",
        "folder-empty",
        "folder-missing",
        "prune-off",
        "half-is-not-more-than-half",
        "the-only-stack-is-an-empty-folder",
    ],
)
def test_the_prune_guard(
    known: frozenset[str], present: frozenset[str], exists: bool, enabled: bool, expected: Prune
) -> None:
    got = decide_prune(known, present, folder_exists=exists, enabled=enabled)
    assert got.delete == expected.delete
    assert got.refused.startswith(expected.refused)
    assert bool(got.refused) == bool(expected.refused)


def test_git_commit_of_a_work_tree_and_of_a_plain_folder(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    (tmp_path / "shop.yaml").write_text("name: shop\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "first"]):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, env=env)
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert git_commit(tmp_path) == head
