"""Stack versions: immutable, numbered snapshots of a stack's desired state (DESIGN.md, *Words*).

Only data lives here. The store assigns numbers and keeps versions (``kedge.store``); the
controller reads them to plan; the API lists them. A version is never changed after it is
recorded, so the model is frozen and the store offers no update path; ``spec()`` reads its
document back as the validated spec.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kedge.specs import loader
from kedge.specs.stack import StackSpec

__all__ = ["StackVersion"]


class StackVersion(BaseModel):
    """One version of a stack: its canonical document, the digest of it, and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stack: str = Field(min_length=1)
    number: int = Field(ge=1)
    digest: str = Field(min_length=1)  # sha256 of the canonical document
    document: dict[str, Any]  # the canonical JSON form of the spec
    declared: int | None = None  # the ``x-kedge.version`` the spec declared, if any
    source: str  # a spec file's path, "api" or "cli"
    created_by: str = ""
    commit: str | None = None  # the git commit of the spec folder, when it is a repository
    created_at: datetime

    def spec(self) -> StackSpec:
        """The validated spec this version was recorded from: the one place that reads a
        version's document back as a spec (the controller's passes and assessor, the API)."""
        return loader.from_canonical(self.document)

    @property
    def description(self) -> str:
        """The stack's ``x-kedge.description``, or an empty text."""
        meta = self.document.get("x-kedge")
        if isinstance(meta, dict):
            return str(meta.get("description", ""))
        return ""
