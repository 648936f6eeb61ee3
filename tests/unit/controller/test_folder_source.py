"""The folder source against a real SQLite store: files become versions and commands."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from kedge.controller.folder_source import FolderSource
from kedge.observability.metrics import Metrics
from kedge.specs.commands import CommandStatus, CommandType
from kedge.store import SqliteStore


def _spec(name: str, *, rev: str = "1") -> str:
    return (
        f"name: {name}\nservices:\n  web:\n    image: busybox:1\n"
        f'    environment:\n      REV: "{rev}"\n'
    )


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    then = time.time() - 5  # settled
    os.utime(path, (then, then))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore.open(tmp_path / "kedge.db")
    yield store
    store.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    return specs


def _source(folder: Path, store: SqliteStore, **kwargs: object) -> tuple[FolderSource, Metrics]:
    metrics = Metrics(CollectorRegistry())
    return FolderSource(folder, store=store, metrics=metrics, wake=lambda: None, **kwargs), metrics


def _pending(store: SqliteStore, stack: str) -> list[tuple[CommandType, int | None]]:
    page = store.commands.list(stack=stack, status=CommandStatus.PENDING)
    return [(c.type, c.version) for c in page.items]


def test_a_new_file_becomes_a_version_and_an_apply_once(folder: Path, store: SqliteStore) -> None:
    _write(folder / "shop.yaml", _spec("shop"))
    _write(folder / "README.md", "not a spec")
    _write(folder / ".shop.yaml.swp", "name: [")
    source, _ = _source(folder, store)
    assert source.sync().applied == {"shop": 1}
    assert _pending(store, "shop") == [(CommandType.APPLY, 1)]
    version = store.versions.get("shop", 1)
    assert version.source == str(folder.absolute() / "shop.yaml")
    assert store.stacks.get("shop").desired_version == 1
    assert source.sync().applied == {}
    restarted, _ = _source(folder, store)  # a new controller process: nothing new either
    assert restarted.sync().applied == {}
    assert len(_pending(store, "shop")) == 1


def test_an_edit_applies_the_next_version_and_a_revert_the_first(
    folder: Path, store: SqliteStore
) -> None:
    source, _ = _source(folder, store)
    _write(folder / "shop.yaml", _spec("shop"))
    source.sync()
    _write(folder / "shop.yaml", _spec("shop", rev="2"))
    assert source.sync().applied == {"shop": 2}
    assert _pending(store, "shop") == [(CommandType.APPLY, 2)]  # the older one superseded
    _write(folder / "shop.yaml", _spec("shop") + "\n# a comment changes no digest\n")
    assert source.sync().applied == {"shop": 1}
    assert store.versions.latest("shop").number == 2  # type: ignore[union-attr]


def test_a_broken_file_is_reported_where_a_user_looks(folder: Path, store: SqliteStore) -> None:
    source, metrics = _source(folder, store)
    _write(folder / "shop.yaml", _spec("shop"))
    source.sync()
    _write(folder / "shop.yaml", "name: shop\nservices:\n  web:\n    image: [\n")
    report = source.sync()
    assert f"{folder.absolute()}/shop.yaml:" in report.errors["shop"]
    status = store.stacks.get("shop")
    assert status.desired_version == 1
    assert status.last_error == report.errors["shop"]
    pending = store.commands.list(stack="shop", status=CommandStatus.PENDING).items
    assert pending[0].options == {"spec_error": report.errors["shop"]}
    assert metrics.spec_errors.labels(stack="shop")._value.get() == 1
    source.sync()  # the same broken file is reported once
    assert metrics.spec_errors.labels(stack="shop")._value.get() == 1
    _write(folder / "shop.yaml", _spec("shop"))  # fixed back to version 1
    source.sync()
    assert store.stacks.get("shop").last_error is None


def test_two_files_for_one_stack(folder: Path, store: SqliteStore) -> None:
    _write(folder / "a.yaml", _spec("shop"))
    _write(folder / "b.yaml", _spec("shop", rev="2"))
    source, _ = _source(folder, store)
    report = source.sync()
    assert report.applied == {"shop": 1}
    assert "already declared by a.yaml" in report.errors["b"]
    assert [s.stack for s in store.stacks.list().items] == ["shop"]


def test_a_file_still_being_written_waits(folder: Path, store: SqliteStore) -> None:
    (folder / "shop.yaml").write_text(_spec("shop"))
    source, _ = _source(folder, store, settle=5.0)
    report = source.sync()
    assert (report.applied, report.unsettled) == ({}, 1)


def test_prune_deletes_a_vanished_stack_but_not_an_emptied_folder(
    folder: Path, store: SqliteStore
) -> None:
    for name in ("a", "b", "c"):
        _write(folder / f"{name}.yaml", _spec(name))
    source, _ = _source(folder, store)
    source.sync()
    (folder / "c.yaml").unlink()
    assert source.sync().deleted == {"c"}
    assert _pending(store, "c") == [(CommandType.DELETE, None)]
    assert store.stacks.get("c").desired_version is None
    for name in ("a", "b"):
        (folder / f"{name}.yaml").unlink()
    report = source.sync()
    assert report.deleted == set()
    assert "no spec file" in report.prune_refused
    folder.rmdir()
    assert "missing" in source.sync().prune_refused


def test_a_broken_file_keeps_its_stack_from_being_pruned(folder: Path, store: SqliteStore) -> None:
    _write(folder / "a.yaml", _spec("a"))
    _write(folder / "b.yaml", _spec("b"))
    source, _ = _source(folder, store)
    source.sync()
    _write(folder / "b.yaml", "services: [\n")
    assert source.sync().deleted == set()


def test_prune_off(folder: Path, store: SqliteStore) -> None:
    for name in ("a", "b", "c"):
        _write(folder / f"{name}.yaml", _spec(name))
    source, _ = _source(folder, store, prune=False)
    source.sync()
    (folder / "c.yaml").unlink()
    report = source.sync()
    assert report.deleted == set()
    assert report.prune_refused.startswith("prune is off")


def test_the_git_commit_is_recorded_with_the_version(folder: Path, store: SqliteStore) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    _write(folder / "shop.yaml", _spec("shop"))
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "shop"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, env=env)
    head = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    source, _ = _source(folder, store)
    source.sync()
    assert store.versions.get("shop", 1).commit == head
