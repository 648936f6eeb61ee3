"""kedge.store — stack versions, the durable command queue and stack status (DESIGN.md,
*Layers*).

``Store`` is the protocol every backend keeps; ``SqliteStore`` is the SQLite one. Open it
once per process with ``SqliteStore.open(path, clock=..., durability=...)``.
"""

from kedge.store.protocol import KEEP, CommandStore, Keep, StackStore, Store, VersionStore
from kedge.store.queue import SUPERSEDING
from kedge.store.records import (
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
from kedge.store.versions import record_spec

__all__ = [
    "KEEP",
    "SUPERSEDING",
    "CheckReport",
    "Clock",
    "CommandStore",
    "Durability",
    "Finished",
    "Keep",
    "LogLine",
    "Page",
    "Pruned",
    "Recorded",
    "RetentionPolicy",
    "RetryPolicy",
    "SqliteStore",
    "StackStatus",
    "StackStore",
    "Store",
    "VersionStore",
    "open_store",
    "record_spec",
    "utc_now",
]
