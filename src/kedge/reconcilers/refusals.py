"""Refusals: what an answer of the Docker API other than success means, as an engine error.

The daemon says why it refused in two places: the HTTP status, and for some conflicts only
the message (a network that "has active endpoints" is a 403). ``refused`` reads both once and
returns the most specific ``errors.EngineError``, so no caller reads the message again.
The standard library only: the engine adapter maps docker-py's ``APIError`` with it, and
``reconcilers.peek`` (``kedge up``'s fast path, which speaks HTTP itself) its own answers.

Callers: ``reconcilers.engine`` (``_translated``) and ``reconcilers.peek``.
"""

from __future__ import annotations

from kedge import errors

__all__ = ["refused"]

#: the conflicts that have a class of their own, told by the daemon's words
_SPECIFIC: tuple[tuple[str, type[errors.EngineConflict]], ...] = (
    ("has active endpoints", errors.EndpointsActive),  # a 403
    ("already in progress", errors.RemovalInProgress),  # a 409
)

#: conflicts the daemon answers with another status than 409
_CONFLICT_WORDS = ("already in use", "already exists", "already allocated", "is in use")


def refused(
    message: str, *, status: int, otherwise: type[errors.EngineError] = errors.EngineRejected
) -> errors.EngineError:
    """The engine error for a refusal with this HTTP ``status`` and ``message`` (the call
    and Docker's explanation); ``otherwise`` for a status that says nothing more."""
    for words, conflict in _SPECIFIC:
        if words in message:
            return conflict(message)
    if status == 409 or any(w in message for w in _CONFLICT_WORDS):
        return errors.EngineConflict(message)
    if status == 404:
        return errors.EngineNotFound(message)
    if status in (502, 503, 504):
        return errors.EngineUnavailable(message)
    if status == 400:
        return errors.EngineRejected(message)
    return otherwise(message)
