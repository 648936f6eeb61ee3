"""Contract: stack versions are immutable, deduplicated by digest, numbered without gaps, and a
declared number is accepted only by the rules of DESIGN.md, *Spec files*."""

from __future__ import annotations

from typing import Any

import pytest

from kedge import errors
from kedge.specs import digests, loader
from kedge.specs.stack import StackSpec
from kedge.store import Recorded, Store


def record(store: Store, digest: str, *, stack: str = "shop", declared: int | None = None) -> int:
    recorded = store.versions.record(
        stack, {"name": stack, "digest": digest}, digest=digest, declared=declared, source="api"
    )
    return recorded.version.number


def test_new_digests_get_the_next_numbers(store: Store) -> None:
    assert [record(store, d) for d in ("a", "b", "c")] == [1, 2, 3]
    assert record(store, "a", stack="other") == 1


def test_an_equal_digest_maps_to_its_version(store: Store) -> None:
    first = store.versions.record("shop", {"x": 1}, digest="a", source="web.yaml")
    record(store, "b")
    again = store.versions.record("shop", {"x": 1}, digest="a", source="api", created_by="bob")
    assert first.created
    assert not again.created
    assert again.version == first.version
    assert again.version.source == "web.yaml"


def test_a_version_keeps_what_it_was_recorded_with(store: Store) -> None:
    document = {"name": "shop", "services": {"web": {"image": "shop:1"}}, "x-kedge": {}}
    store.versions.record(
        "shop", document, digest="abc", source="specs/shop.yaml", created_by="ann", commit="f00"
    )
    version = store.versions.get("shop", 1)
    assert version.document == document
    assert (version.stack, version.digest, version.source) == ("shop", "abc", "specs/shop.yaml")
    assert (version.created_by, version.commit, version.declared) == ("ann", "f00", None)
    assert version.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("existing", "digest", "declared", "number"),
    [
        pytest.param([], "a", 1, 1, id="first-declared-1"),
        pytest.param(["a", "b"], "c", 3, 3, id="next-number"),
        pytest.param(["a", "b"], "a", 1, 1, id="existing-with-same-content"),
        pytest.param(["a", "b"], "b", None, 2, id="undeclared-existing"),
    ],
)
def test_declared_numbers_accepted(
    store: Store, existing: list[str], digest: str, declared: int, number: int
) -> None:
    for known in existing:
        record(store, known)
    assert record(store, digest, declared=declared) == number


@pytest.mark.parametrize(
    ("existing", "digest", "declared", "says"),
    [
        pytest.param(["a"], "b", 3, "the next version is 2", id="skips-a-number"),
        pytest.param([], "a", 2, "the next version is 1", id="first-not-1"),
        pytest.param(["a", "b"], "c", 1, "version 1 exists with other content", id="taken"),
        pytest.param(["a", "b"], "a", 2, "this content is already version 1", id="moved"),
        pytest.param([], "a", 0, "the next version is 1", id="zero"),
    ],
)
def test_declared_numbers_refused(
    store: Store, existing: list[str], digest: str, declared: int, says: str
) -> None:
    for known in existing:
        record(store, known)
    with pytest.raises(errors.ConflictError, match=says) as caught:
        record(store, digest, declared=declared)
    assert "x-kedge.version" in str(caught.value)
    assert store.versions.latest("shop") == (
        store.versions.get("shop", len(existing)) if existing else None
    )


def test_reads(store: Store) -> None:
    for digest in "abcde":
        record(store, digest)
    assert store.versions.find("shop", "c") == store.versions.get("shop", 3)
    assert store.versions.find("shop", "zz") is None
    latest = store.versions.latest("shop")
    assert latest is not None
    assert latest.number == 5
    assert store.versions.latest("nothing") is None
    with pytest.raises(errors.NotFoundError, match="no version 9"):
        store.versions.get("shop", 9)


def test_listing_pages_newest_first(store: Store) -> None:
    for digest in "abcde":
        record(store, digest)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = store.versions.list("shop", limit=2, cursor=cursor)
        seen += [v.number for v in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    assert pages == 3


def test_a_cursor_of_another_stack_is_refused(store: Store) -> None:
    for digest in "abc":
        record(store, digest)
    cursor = store.versions.list("shop", limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(errors.QueryError, match="invalid page cursor"):
        store.versions.list("other", cursor=cursor)


def record_parsed(store: Store, spec: StackSpec, **fields: Any) -> Recorded:
    """As the folder source, the API and ``kedge up`` record a parsed spec (#15 dropped
    ``record_spec``, which only this test used: ``versions.record`` is the one verb)."""
    return store.versions.record(
        spec.name,
        loader.canonical(spec),
        digest=digests.digest(spec),
        declared=spec.meta.version,
        **fields,
    )


def test_record_keeps_a_parsed_spec(store: Store) -> None:
    text = "name: shop\nx-kedge: {version: 1}\nservices:\n  web: {image: 'busybox:1'}\n"
    spec = loader.parse(text, source="specs/shop.yaml")
    recorded = record_parsed(store, spec, source="specs/shop.yaml", commit="abc")
    version = recorded.version
    assert (version.stack, version.number, version.declared) == ("shop", 1, 1)
    assert version.digest == digests.digest(spec)
    assert loader.from_canonical(version.document) == spec
    moved = text.replace("version: 1", "version: 2")
    with pytest.raises(errors.ConflictError, match="already version 1"):
        record_parsed(store, loader.parse(moved, source="x.yaml"), source="x.yaml")


def test_record_with_apply_enqueues_in_the_same_write(store: Store) -> None:
    from kedge.specs.commands import CommandReason, CommandStatus, CommandType

    first = store.versions.record(
        "shop", {"v": 1}, digest="a", source="api", created_by="ann", apply=CommandReason.API
    )
    assert first.command is not None
    assert (first.command.type, first.command.version) == (CommandType.APPLY, 1)
    assert (first.command.reason, first.command.created_by) == (CommandReason.API, "ann")
    second = store.versions.record(
        "shop",
        {"v": 2},
        digest="b",
        source="f.yaml",
        apply=CommandReason.FILE,
        apply_options={"allow_data_loss": True},
    )
    assert second.command is not None
    assert second.command.options == {"allow_data_loss": True}
    superseded = store.commands.get(first.command.id)
    assert superseded.status is CommandStatus.CANCELLED
    assert superseded.outcome == f"superseded by #{second.command.id}"
    again = store.versions.record(
        "shop", {"v": 1}, digest="a", source="api", apply=CommandReason.API
    )
    assert not again.created
    assert again.command is not None
    assert again.command.version == 1
    assert store.versions.record("shop", {"v": 3}, digest="c", source="api").command is None


def test_a_refused_record_enqueues_nothing(store: Store) -> None:
    from kedge.specs.commands import CommandReason

    with pytest.raises(errors.ConflictError):
        store.versions.record(
            "shop", {}, digest="a", declared=5, source="api", apply=CommandReason.API
        )
    assert store.commands.list().items == []
