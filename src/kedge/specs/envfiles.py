"""Env files: the ``.env`` beside a spec and the files named by a service's ``env_file``.

``parse_env_file`` is pure and is called by ``kedge.specs.loader``; ``read_env_file`` is the
thin wrapper that reads a file (pathlib only) for the loader and the CLI.

The syntax is Docker Compose's (compose-go ``dotenv``), so an existing ``.env`` means the same:

- blank lines and lines starting with ``#`` are skipped; ``export`` before a name is ignored;
- ``NAME=value`` or ``NAME: value``; spaces around the separator are dropped; a name is made of
  letters, digits and ``_ . - [ ]``;
- ``NAME`` alone takes the value from ``lookup`` (the environment), or is left out;
- unquoted values run to the end of the line, lose a `` #`` comment and trailing spaces, and
  have ``${VAR}`` substituted;
- ``'single'`` quotes keep the text as written; ``"double"`` quotes understand ``\\n \\r \\t
  \\\\ \\" \\$`` (and ``\\a \\b \\f \\v``, octal ``\\0NNN``) and substitute ``${VAR}``; both may
  span lines;
- substitution sees the values set earlier in the same file first, then ``lookup``.

Where compose is lenient about a broken file (text after a closing quote becomes a new
statement), this parser reports an error with the line instead.

``raw=True`` reads ``env_file`` entries with ``format: raw`` as Docker Compose does: one
``NAME=value`` per line taken as written (no quotes removed, no escapes, no substitution);
blank lines and ``#`` comments are skipped, and a bare ``NAME`` is taken from ``lookup``.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator, Mapping

from kedge.errors import Location, SpecError
from kedge.specs import redaction
from kedge.specs.interpolation import substitute
from kedge.specs.reads import Reads

__all__ = ["parse_env_file", "read_env_file"]

_EXPORT = re.compile(r"export[ \t]+")
_SPACE = " \t\v\f\r\u0085\u00a0"
_KEY_PUNCTUATION = "_.-[]"
_ESCAPE = re.compile(r"\\(?:[abfnrtv$\"\\]|0[0-7]{0,3})")
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
    "$": "$$",  # stays a literal '$' through substitution
}


def parse_env_file(
    text: str, *, source: str, lookup: Mapping[str, str] | None = None, raw: bool = False
) -> dict[str, str]:
    """Parse the text of an env file into its variables, in file order."""
    if raw:
        return _parse_raw(text, lookup=lookup or {})
    return _EnvParser(text, source=source, lookup=lookup or {}).parse()


def read_env_file(
    path: pathlib.Path,
    *,
    lookup: Mapping[str, str] | None = None,
    raw: bool = False,
    reads: Reads | None = None,
) -> dict[str, str]:
    """Read and parse the env file at ``path``; ``SpecError`` if it is missing or invalid,
    or if ``reads`` (default: ``Reads.local()``) does not let the spec read it."""
    reads = reads or Reads.local()
    try:
        content = reads.read_bytes(path, what="the env file", where=Location(str(path)))
    except FileNotFoundError as exc:
        raise SpecError(
            f"the env file {str(path)!r} does not exist",
            location=Location(str(path)),
            hint="create it, or remove it from env_file",
        ) from exc
    except OSError as exc:
        raise SpecError(
            f"the env file {str(path)!r} cannot be read: {exc.strerror}",
            location=Location(str(path)),
            hint="check that it is a readable file",
        ) from exc
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise SpecError(
            f"the env file is not valid UTF-8 (byte offset {exc.start})",
            location=Location(str(path), line),
            hint="save the file as UTF-8",
        ) from exc
    try:
        return parse_env_file(text, source=str(path), lookup=lookup, raw=raw)
    except SpecError as exc:  # a file's errors say where, not what it holds
        raise SpecError(
            redaction.unquoted(exc.message),
            location=exc.location,
            hint=redaction.unquoted(exc.hint),
        ) from None


def _parse_raw(text: str, *, lookup: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, separator, value = line.partition("=")
        if separator:
            values[key] = value
        elif key in lookup:
            values[key] = lookup[key]
    return values


class _EnvParser:
    def __init__(self, text: str, *, source: str, lookup: Mapping[str, str]) -> None:
        self.text = text
        self.source = source
        self.lookup = lookup
        self.pos = 0
        self.values: dict[str, str] = {}

    def parse(self) -> dict[str, str]:
        while self._skip_blank_and_comments():
            self._statement()
        return self.values

    def _skip_blank_and_comments(self) -> bool:
        text = self.text
        while self.pos < len(text):
            if text[self.pos].isspace():
                self.pos += 1
            elif text[self.pos] == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return True
        return False

    def _statement(self) -> None:
        start = self.pos
        if match := _EXPORT.match(self.text, self.pos):
            self.pos = match.end()
        key, separator = self._key(start)
        if separator in ("\n", ""):
            if key in self.lookup:
                self.values[key] = self.lookup[key]
            return
        self._skip(_SPACE)
        value = self._value(key)
        if key:  # compose reads a line without a name ('=value') and keeps nothing of it
            self.values[key] = value

    def _key(self, start: int) -> tuple[str, str]:
        text, begin = self.text, self.pos
        while self.pos < len(text) and text[self.pos] not in "=:\n":
            char = text[self.pos]
            if not (char.isalnum() or char in _KEY_PUNCTUATION or char in _SPACE):
                raise self._error(
                    f"unexpected character {char!r} in the variable name "
                    f"{text[begin : self.pos + 1].strip()!r}",
                    hint="names are letters, digits and _ . - [ ]; write NAME=value",
                )
            self.pos += 1
        key = text[begin : self.pos].strip(_SPACE)
        separator = text[self.pos] if self.pos < len(text) else ""
        self.pos += 1
        if any(char in _SPACE for char in key):
            raise self._error(
                f"the variable name {key!r} contains a space",
                hint="remove the space, or use _ in the name",
                at=start,
            )
        return key, separator

    def _value(self, key: str) -> str:
        quote = self.text[self.pos : self.pos + 1]
        if quote not in ("'", '"'):
            end = self.text.find("\n", self.pos)
            end = len(self.text) if end < 0 else end
            raw = self.text[self.pos : end].split(" #", 1)[0].rstrip()
            self.pos = end
            return self._substitute(raw, key)
        start = self.pos
        raw = self._quoted(quote)
        self._end_of_statement(key)
        if quote == "'":
            return raw
        return self._substitute(_ESCAPE.sub(_unescape, raw), key, at=start)

    def _quoted(self, quote: str) -> str:
        text, start, chars = self.text, self.pos, []
        i = start + 1
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                chars.append(nxt if nxt == quote else char + nxt)
                i += 2
            elif char == quote:
                self.pos = i + 1
                return "".join(chars)
            else:
                chars.append(char)
                i += 1
        line_end = text.find("\n", start)
        shown = text[start : line_end if line_end >= 0 else len(text)]
        raise self._error(
            f"the quoted value {shown!r} is never closed",
            hint=f"add the closing {quote} (a quoted value may span lines)",
            at=start,
        )

    def _end_of_statement(self, key: str) -> None:
        self._skip(_SPACE)
        if self.pos < len(self.text) and self.text[self.pos] not in "#\n":
            raise self._error(
                f"unexpected text after the quoted value of {key}",
                hint="put a comment after ' #', or move the text inside the quotes",
            )

    def _substitute(self, raw: str, key: str, *, at: int | None = None) -> str:
        env = _Chain(self.values, self.lookup)
        try:
            return substitute(raw, env)
        except SpecError as exc:
            raise self._error(f"{key}: {exc.message}", hint=exc.hint, at=at) from exc

    def _skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def _error(self, message: str, *, hint: str, at: int | None = None) -> SpecError:
        pos = min(self.pos if at is None else at, len(self.text))
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return SpecError(message, location=Location(self.source, line, column), hint=hint)


class _Chain(Mapping[str, str]):
    """Values set earlier in the file first, then the lookup (compose-go's order)."""

    def __init__(self, first: Mapping[str, str], second: Mapping[str, str]) -> None:
        self.first = first
        self.second = second

    def __getitem__(self, key: str) -> str:
        if key in self.first:
            return self.first[key]
        return self.second[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**self.second, **self.first})

    def __len__(self) -> int:
        return len({**self.second, **self.first})


def _unescape(match: re.Match[str]) -> str:
    escape = match.group()[1:]
    if escape.startswith("0"):
        return chr(int(escape[1:] or "0", 8))
    return _ESCAPES[escape]
