"""What a role may do to a stack: the one rule of Kedge's built-in roles (issue #16, Roles).

A request acts as an identity with a role and stack patterns (a Kedge token's ``role`` and
``stacks``). ``decide`` says whether it may do a ``Verb`` to a stack:

- the role must grant the verb (``ROLES``): ``viewer`` reads; ``operator`` also reads
  container logs, applies, deploys (posts a new version), rolls back and cancels; ``admin``
  may do everything, which adds deleting stacks, managing tokens and reading the audit trail;
- when the verb is about one stack, the stack must match one of the patterns (``fnmatch``,
  case-sensitive: ``shop-*``; an entry may itself be a comma-separated list). A verb about no
  stack (a list, ``whoami``) needs only the role; lists show the stacks ``in_scope``.

A refusal is the same answer whether the stack exists or not, so it reveals nothing; the
API answers it 403 (``api.roles``), and ``kedge auth can-i`` asks the API, so both agree by
construction. It is pure (no I/O), so the API and the CLI may both import it. Custom roles in
the policy file, label selectors and OIDC groups are later slices.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["ROLES", "VERBS", "Decision", "Verb", "decide", "in_scope", "patterns_of"]

Verb = Literal["get", "logs", "apply", "deploy", "rollback", "cancel", "delete", "tokens", "audit"]
VERBS: tuple[Verb, ...] = get_args(Verb)

_OPERATOR: frozenset[Verb] = frozenset({"get", "logs", "apply", "deploy", "rollback", "cancel"})
#: the verbs each built-in role grants
ROLES: dict[str, frozenset[Verb]] = {
    "viewer": frozenset({"get"}),
    "operator": _OPERATOR,
    "admin": frozenset(VERBS),
}


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a verb is allowed, and why not (``reason`` is a sentence a person reads)."""

    allowed: bool
    reason: str = ""


def patterns_of(stacks: Iterable[str]) -> tuple[str, ...]:
    """The stack patterns of a token's ``stacks``, each entry split at commas."""
    return tuple(p.strip() for entry in stacks for p in entry.split(",") if p.strip())


def in_scope(stacks: Iterable[str], stack: str) -> bool:
    """Whether ``stack`` matches one of the patterns (``fnmatchcase``: ``[`` is a class)."""
    return any(fnmatch.fnmatchcase(stack, p) for p in patterns_of(stacks))


def decide(
    verb: str, stack: str | None, *, name: str, role: str, stacks: Iterable[str]
) -> Decision:
    """May the token ``name`` (its ``role`` and ``stacks``) do ``verb`` to ``stack`` (None: a
    verb about no one stack)?"""
    who = f"token '{name}' (role {role})"
    if verb not in VERBS:
        return Decision(False, f"{who}: '{verb}' is not a verb (one of {', '.join(VERBS)})")
    target = f" stack '{stack}'" if stack is not None else ""
    if verb not in ROLES.get(role, frozenset()):
        return Decision(False, f"{who} may not {verb}{target}")
    if stack is not None and not in_scope(stacks, stack):
        scope = ",".join(patterns_of(stacks)) or "none"
        return Decision(False, f"{who} may not {verb}{target}: its stacks are {scope}")
    return Decision(True)
