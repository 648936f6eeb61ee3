"""Contract: stacks and their status, and the listings with keyset pagination and filters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kedge import errors
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import Store

from .conftest import MovableClock


def test_a_stack_appears_when_named(store: Store, clock: MovableClock) -> None:
    with pytest.raises(errors.NotFoundError, match="no stack 'shop'"):
        store.stacks.get("shop")
    store.versions.record("shop", {}, digest="a", source="api")
    status = store.stacks.get("shop")
    assert (status.sync, status.health, status.applied_version, status.last_error) == (
        "unknown",
        "unknown",
        None,
        None,
    )
    assert status.created_at == status.updated_at == clock.now


def test_set_status_changes_only_the_given_fields(store: Store, clock: MovableClock) -> None:
    store.stacks.set_status("shop", sync="synced", health="healthy", applied_version=3)
    clock.advance(timedelta(minutes=1))
    status = store.stacks.set_status("shop", health="degraded", last_error="web exited")
    assert (status.sync, status.health, status.applied_version, status.last_error) == (
        "synced",
        "degraded",
        3,
        "web exited",
    )
    assert status.updated_at == clock.now
    cleared = store.stacks.set_status("shop", last_error=None, desired_version=4)
    assert (cleared.last_error, cleared.desired_version) == (None, 4)
    assert store.stacks.get("shop") == cleared


def test_stacks_list_by_name_in_pages(store: Store) -> None:
    for name in ["web", "api", "db", "cache", "queue"]:
        store.stacks.set_status(name, sync="synced")
    names: list[str] = []
    cursor = None
    while True:
        page = store.stacks.list(limit=2, cursor=cursor)
        names += [s.stack for s in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert names == ["api", "cache", "db", "queue", "web"]
    assert store.stacks.list(limit=5).next_cursor is None


def fill(store: Store, clock: MovableClock) -> None:
    """Ten commands over two stacks, one minute apart; ids 1..10."""
    for n in range(10):
        kind = CommandType.DEPLOY if n % 3 else CommandType.DELETE
        store.commands.enqueue("ab"[n % 2], kind, reason=CommandReason.API)
        clock.advance(timedelta(minutes=1))


def every_page(store: Store, **filters: object) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        page = store.commands.list(limit=3, cursor=cursor, **filters)  # type: ignore[arg-type]
        ids += [c.id for c in page.items]
        if (cursor := page.next_cursor) is None:
            return ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param({}, list(range(10, 0, -1)), id="all-newest-first"),
        pytest.param({"stack": "a"}, [9, 7, 5, 3, 1], id="stack"),
        pytest.param({"type": CommandType.DELETE}, [10, 7, 4, 1], id="type"),
        pytest.param({"stack": "b", "type": CommandType.DEPLOY}, [8, 6, 2], id="stack-and-type"),
        pytest.param({"status": CommandStatus.RUNNING}, [1], id="status"),
        pytest.param({"since": 2, "until": 5}, [5, 4, 3], id="time-window"),
        pytest.param({"stack": "nothing"}, [], id="none"),
    ],
)
def test_commands_filter_and_page(
    store: Store, clock: MovableClock, filters: dict[str, object], expected: list[int]
) -> None:
    start = clock.now
    fill(store, clock)
    store.commands.claim("w")
    for edge in ("since", "until"):
        if edge in filters:
            filters[edge] = start + timedelta(minutes=int(filters[edge]))  # type: ignore[call-overload]
    assert every_page(store, **filters) == expected


@pytest.mark.parametrize(
    ("cursor", "says"),
    [
        pytest.param("not a cursor!", "not a cursor Kedge handed out", id="garbage"),
        pytest.param("eyJhIjogMX0", "not a cursor Kedge handed out", id="other-json"),
        pytest.param("", "not a cursor Kedge handed out", id="empty"),
    ],
)
def test_an_invalid_cursor_is_refused(store: Store, cursor: str, says: str) -> None:
    with pytest.raises(errors.QueryError, match=says):
        store.commands.list(cursor=cursor)


def test_a_cursor_with_other_filters_is_refused(store: Store, clock: MovableClock) -> None:
    fill(store, clock)
    cursor = store.commands.list(stack="a", limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(errors.QueryError, match="other filters"):
        store.commands.list(stack="b", cursor=cursor)
    with pytest.raises(errors.QueryError, match="other filters"):
        store.stacks.list(cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 1001], ids=["zero", "negative", "too-many"])
def test_an_invalid_limit_is_refused(store: Store, limit: int) -> None:
    with pytest.raises(errors.QueryError, match="invalid page limit"):
        store.commands.list(limit=limit)
