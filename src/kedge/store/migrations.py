"""The store's migrations by name, in the order they apply: the one list of them.

``store.schema`` registers each migration of its sqlite-utils ``Migrations`` under the name
given here, and ``store.converged`` (``kedge up``'s fast path, which must not load
sqlite-utils) reads a store only when its applied migrations are exactly ``NAMES``. The
standard library only. A new migration gets its name here, last, and its body in ``schema``.

Callers: ``store.schema``, ``store.converged``.
"""

from __future__ import annotations

__all__ = [
    "AUDIT",
    "CONVERGED",
    "CONVERGED_WARNINGS",
    "INITIAL",
    "NAMES",
    "PENDING_IN_ORDER",
    "SET",
    "TOKENS",
]

#: the migration set of the store in sqlite-utils' ``_sqlite_migrations`` table
SET = "kedge.store"

INITIAL = "0001_initial"
PENDING_IN_ORDER = "0002_pending_in_order"
CONVERGED = "0003_converged"
CONVERGED_WARNINGS = "0004_converged_warnings"
TOKENS = "0005_tokens"
AUDIT = "0006_audit"

#: every migration this Kedge knows, in the order they apply
NAMES = (INITIAL, PENDING_IN_ORDER, CONVERGED, CONVERGED_WARNINGS, TOKENS, AUDIT)
