"""Interpolation: compose's ``${VAR}`` substitution in the values of a spec.

``interpolate`` is called by ``kedge.specs.loader`` between ``yamlsource.load_yaml`` and
validation, with the environment merged from the process and the ``.env`` file beside the
spec; ``substitute`` is also used by ``kedge.specs.envfiles`` for values inside ``.env``
files. Both are pure: the environment is passed in.

The rules are Docker Compose's (compose-go ``template``), including its corners, so that a
spec means here what it means to ``docker compose config``:

- ``$$`` is a literal ``$``; ``$NAME`` and ``${NAME}`` substitute; a name is
  ``[_A-Za-z][_A-Za-z0-9]*``; an unset variable becomes ``""`` (recorded as an
  ``UnsetVariable`` for a warning);
- ``${NAME:-d}`` / ``${NAME-d}``: ``d`` when unset or empty / only when unset;
  ``${NAME:+a}`` / ``${NAME+a}``: ``a`` when set and not empty / when set, else the value;
  ``${NAME:?msg}`` / ``${NAME?msg}``: an error when unset or empty / only when unset;
- the text after the operator is itself substituted, so ``${A:-${B}}`` nests; as in
  compose-go it is substituted even when it is not used, so ``${A:-${B:?}}`` fails when B
  is unset even if A is set;
- any other ``$`` (``${``, ``${A``, ``${A }``, ``${}``, a ``$`` at the end or before a
  digit or a space) is an error: write ``$$`` for a literal dollar.

Only string values are substituted: mapping keys are not (compose-go does not either), and
numbers and booleans stay as they are. Values under ``x-*`` extension keys are substituted,
as compose does. Every problem in the document is reported, each with its location.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kedge.errors import Location, SpecError, SpecErrors
from kedge.specs.yamlsource import render_path

__all__ = ["UnsetVariable", "interpolate", "substitute"]

_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_HINT = (
    "write $$ for a literal '$'; a substitution reads $NAME, ${NAME}, ${NAME:-default}, "
    "${NAME:+other} or ${NAME:?error message}"
)

Locate = Callable[[Sequence[str | int]], Location]


@dataclass(frozen=True, slots=True)
class UnsetVariable:
    """A variable a spec uses but the environment does not set; it became ``""``."""

    name: str
    location: Location

    def render(self) -> str:
        where = self.location.render()
        if self.location.path:
            where += f": {self.location.path}"
        return f'{where}: the "{self.name}" variable is not set, using an empty string'


def interpolate(
    data: Any,
    env: Mapping[str, str],
    *,
    locate: Locate | None = None,
    unset: list[UnsetVariable] | None = None,
) -> Any:
    """Return a copy of ``data`` with every string value substituted from ``env``.

    Raises ``SpecErrors`` listing every invalid or failed substitution, each located with
    ``locate(path)`` when given. Variables that are used but not set are appended to
    ``unset`` when a list is passed.
    """
    walk = _Walk(env, locate=locate or _path_only, unset=unset)
    result = walk.value(data, ())
    if walk.errors:
        raise SpecErrors(walk.errors)
    return result


def substitute(template: str, env: Mapping[str, str], *, unset: list[str] | None = None) -> str:
    """Substitute one string; raise ``SpecError`` (without a location) when it is invalid."""
    return _Template(template, env, unset, whole=template).render()


class _Walk:
    def __init__(
        self, env: Mapping[str, str], *, locate: Locate, unset: list[UnsetVariable] | None
    ) -> None:
        self.env = env
        self.locate = locate
        self.unset = unset
        self.errors: list[SpecError] = []

    def value(self, data: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(data, str):
            return self.string(data, path)
        if isinstance(data, dict):
            return {key: self.value(item, (*path, key)) for key, item in data.items()}
        if isinstance(data, list):
            return [self.value(item, (*path, i)) for i, item in enumerate(data)]
        return data

    def string(self, text: str, path: tuple[str | int, ...]) -> str:
        if "$" not in text:
            return text
        names: list[str] = []
        try:
            result = substitute(text, self.env, unset=names)
        except SpecError as exc:
            self.errors.append(SpecError(exc.message, location=self.locate(path), hint=exc.hint))
            return text
        if self.unset is not None and names:
            location = self.locate(path)
            self.unset.extend(UnsetVariable(name, location) for name in names)
        return result


def _path_only(path: Sequence[str | int]) -> Location:
    return Location(path=render_path(path))


class _Template:
    """One pass over one string, left to right, as compose-go's pattern does."""

    def __init__(
        self, text: str, env: Mapping[str, str], unset: list[str] | None, *, whole: str
    ) -> None:
        self.text = text
        self.env = env
        self.unset = unset
        self.whole = whole  # the whole value, for error messages

    def render(self) -> str:
        text, out, i = self.text, [], 0
        while (dollar := text.find("$", i)) >= 0:
            out.append(text[i:dollar])
            after = dollar + 1
            if text.startswith("$", after):
                out.append("$")
                i = after + 1
            elif name := _NAME.match(text, after):
                out.append(self._lookup(name.group()))
                i = name.end()
            elif text.startswith("{", after):
                close = _closing_brace(text, after)
                if close < 0:
                    raise self._invalid("is never closed by '}'", text[dollar:])
                out.append(self._braced(text[after + 1 : close]))
                i = close + 1
            else:  # compose keeps a '$' that starts no substitution ("cost$", "$ 5")
                out.append("$")
                i = after
        out.append(text[i:])
        return "".join(out)

    def _braced(self, body: str) -> str:
        name = _NAME.match(body)
        operator = next((op for op in _OPERATORS if name and body.startswith(op, name.end())), "")
        if name is None or (name.end() < len(body) and not operator):
            raise self._invalid("is not a valid substitution", "${" + body + "}")
        if not operator:
            return self._lookup(name.group())
        rest = body[name.end() + len(operator) :]
        argument = _Template(rest, self.env, self.unset, whole=self.whole).render()
        return self._apply(name.group(), operator, argument)

    def _apply(self, name: str, operator: str, argument: str) -> str:
        value = self.env.get(name)
        is_empty = operator.startswith(":") and value == ""
        if operator in (":-", "-"):
            return argument if value is None or is_empty else value
        if operator in (":+", "+"):
            return argument if value is not None and not is_empty else value or ""
        if value is None or is_empty:
            detail = f": {argument}" if argument else ""
            raise SpecError(
                f"required variable {name} is missing a value{detail}",
                hint=f"set {name} in the environment or in the .env file beside the spec",
            )
        return value

    def _lookup(self, name: str) -> str:
        value = self.env.get(name)
        if value is None:
            if self.unset is not None:
                self.unset.append(name)
            return ""
        return value

    def _invalid(self, problem: str, fragment: str) -> SpecError:
        return SpecError(
            f"invalid interpolation in {self.whole!r}: {fragment!r} {problem}",
            hint=_HINT,
        )


def _closing_brace(text: str, start: int) -> int:
    """Index of the '}' that closes the '{' at ``start``, counting nested braces; or -1."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1
