"""Opaque page cursors for keyset pagination of the store's listings.

A cursor names the listing it belongs to, a fingerprint of the filters it was made for and
the key of the last row handed out, as URL-safe base64 of JSON. A cursor used with another
listing or other filters, or one that was tampered with, raises ``QueryError``. Callers:
the store's listings (``stacks``, ``versions``, ``queue``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from kedge import errors

__all__ = ["check_limit", "decode_cursor", "encode_cursor", "fingerprint"]


def fingerprint(filters: dict[str, Any]) -> str:
    """A short digest of a listing's filters."""
    text = json.dumps(filters, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_cursor(listing: str, filters: dict[str, Any], key: int | str) -> str:
    payload = {"l": listing, "f": fingerprint(filters), "k": key}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, listing: str, filters: dict[str, Any]) -> int | str:
    """The key of the last row handed out, or ``QueryError`` if the cursor is not this
    listing's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        key = payload["k"]
        ok = (
            payload["l"] == listing
            and payload["f"] == fingerprint(filters)
            and isinstance(key, int | str)
        )
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise errors.QueryError(
            f"invalid page cursor {cursor!r}: it is not a cursor Kedge handed out"
            " (hint: pass the next_cursor of the previous page unchanged, or none for page one)"
        ) from exc
    if not ok:
        raise errors.QueryError(
            f"invalid page cursor {cursor!r}: it belongs to another listing or other filters"
            f" than this {listing} listing (hint: keep the filters of the first page)"
        )
    return key  # type: ignore[no-any-return]


def check_limit(limit: int, *, most: int = 1000) -> int:
    """A page size in 1..most, or ``QueryError``."""
    if not 1 <= limit <= most:
        raise errors.QueryError(f"invalid page limit {limit}: it must be between 1 and {most}")
    return limit
