"""kedge.store — stack versions, the durable command queue and stack status (DESIGN.md,
*Layers*).

``Store`` is the protocol every backend keeps; ``SqliteStore`` is the SQLite one. Open it
once per process with ``SqliteStore.open(path, clock=..., durability=...)``.

The names are imported on first use, so that ``kedge.store.converged`` (the standard
library only, for ``kedge up``'s no-op fast path) does not load sqlite-utils.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedge.store.protocol import (
        KEEP,
        AuditStore,
        CommandStore,
        Keep,
        StackStore,
        Store,
        TokenStore,
        VersionStore,
    )
    from kedge.store.queue import SUPERSEDING
    from kedge.store.records import (
        AuditEntry,
        CheckReport,
        Clock,
        Durability,
        Finished,
        LogLine,
        Page,
        Pruned,
        Recorded,
        RetentionPolicy,
        RetryPolicy,
        StackStatus,
        utc_now,
    )
    from kedge.store.sqlite import SqliteStore, open_store

__all__ = [
    "KEEP",
    "SUPERSEDING",
    "AuditEntry",
    "AuditStore",
    "CheckReport",
    "Clock",
    "CommandStore",
    "Durability",
    "Finished",
    "Keep",
    "LogLine",
    "MadeToken",
    "Page",
    "Pruned",
    "Recorded",
    "RetentionPolicy",
    "RetryPolicy",
    "SqliteStore",
    "StackStatus",
    "StackStore",
    "Store",
    "TokenInfo",
    "TokenStore",
    "VersionStore",
    "open_store",
    "utc_now",
]

_HOMES = {
    "AuditStore": "kedge.store.protocol",
    "AuditEntry": "kedge.store.records",
    "KEEP": "kedge.store.protocol",
    "CommandStore": "kedge.store.protocol",
    "Keep": "kedge.store.protocol",
    "StackStore": "kedge.store.protocol",
    "Store": "kedge.store.protocol",
    "VersionStore": "kedge.store.protocol",
    "TokenStore": "kedge.store.protocol",
    "MadeToken": "kedge.store.records",
    "TokenInfo": "kedge.store.records",
    "SUPERSEDING": "kedge.store.queue",
    "CheckReport": "kedge.store.records",
    "Clock": "kedge.store.records",
    "Durability": "kedge.store.records",
    "Finished": "kedge.store.records",
    "LogLine": "kedge.store.records",
    "Page": "kedge.store.records",
    "Pruned": "kedge.store.records",
    "Recorded": "kedge.store.records",
    "RetentionPolicy": "kedge.store.records",
    "RetryPolicy": "kedge.store.records",
    "StackStatus": "kedge.store.records",
    "utc_now": "kedge.store.records",
    "SqliteStore": "kedge.store.sqlite",
    "open_store": "kedge.store.sqlite",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kedge.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
