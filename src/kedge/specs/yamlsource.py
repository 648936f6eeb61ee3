"""The YAML parser of spec files: bytes in, plain Python data with line numbers out.

``load_yaml`` is called by ``kedge.specs.loader`` (``parse``/``load_file``) before
interpolation and validation. It is the one place where ruamel.yaml's errors are translated
into ``SpecError``s that carry file, line, column and a hint.

The parser is strict where a hand-edited spec is likely wrong, and bounded where a hostile one
could hurt:

- input over ``Limits.max_bytes`` is refused before any parsing; input that is not UTF-8 is
  refused with the line and byte offset of the first bad byte. The size limit is 1 MiB unless
  the environment variable ``KEDGE_MAX_SPEC_BYTES`` (``MAX_BYTES_SETTING``) sets another,
  between 1 KiB and 16 MiB: it also keeps hostile input out, so it stays bounded. This module
  is its one owner (the API's body limit is read from here too);
- duplicate keys (both lines named), tabs used as indentation, a document that is not a
  mapping, and tags that compose does not read are errors;
- several documents in one file are merged in order, as compose does (``overrides``), with
  compose's ``!reset`` and ``!override`` tags;
- nesting is bounded by ``Limits.max_depth`` and the expanded size by ``Limits.max_nodes``.

Why events, not ``YAML.load``: ruamel's constructors recurse once per nesting level (a deep
file overflows the Python stack) and expand aliases only after building the whole graph. Here
ruamel's parser (an iterative state machine) yields events, and ``yamlgraph.Composer`` builds
the node graph itself, without recursion, keeping for every node its expanded size and height. An
alias adds its target's size to a running total, so a "billion laughs" file is refused at the
alias that passes the budget, after a few hundred events and without allocating anything
large. Only then is the graph converted to plain data, a walk whose size is already known to
fit the budget.

Keys are always strings, as in compose-go: a plain key keeps the text it was written with
(``8080:`` becomes ``"8080"``). Merge keys (``<<: *base``) work as in YAML 1.1 and compose:
explicit keys win over merged ones, and earlier merged mappings over later ones. Scalars follow
the YAML 1.2 core schema (``yes`` is a string), except that ints with a leading zero are octal,
as Docker Compose reads them (``mode: 0440``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from kedge.errors import Location, SpecError
from kedge.specs import durations, overrides, yamlgraph
from kedge.specs.yamlgraph import Path, render_path

__all__ = [
    "MAX_BYTES_RANGE",
    "MAX_BYTES_SETTING",
    "Document",
    "Limits",
    "load_yaml",
    "max_spec_bytes",
    "render_path",
]

#: the deepest ``max_depth`` accepted: the conversion walk recurses once per level
_DEPTH_CEILING = 500

#: the environment variable that sets the largest spec file read, in bytes (``2097152``) or
#: with a unit (``2m``, ``2MiB``)
MAX_BYTES_SETTING = "KEDGE_MAX_SPEC_BYTES"
_DEFAULT_MAX_BYTES = 1 << 20
#: the bounds of that setting: the limit keeps hostile input out, so it cannot be lifted
MAX_BYTES_RANGE = (1 << 10, 16 << 20)


def max_spec_bytes(env: Mapping[str, str] | None = None) -> int:
    """The largest spec file read: ``KEDGE_MAX_SPEC_BYTES`` of ``env`` (the process
    environment by default), else 1 MiB; a value that is no size or out of bounds is an error.
    """
    text = (os.environ if env is None else env).get(MAX_BYTES_SETTING, "").strip()
    if not text:
        return _DEFAULT_MAX_BYTES
    low, high = MAX_BYTES_RANGE
    try:
        value = durations.parse_size(text)
    except ValueError:
        value = -1
    if not low <= value <= high:
        raise SpecError(
            f"{MAX_BYTES_SETTING}={text!r} is not a size between {low:,} and {high:,} bytes",
            location=Location(MAX_BYTES_SETTING),
            hint="write a number of bytes such as 2097152, or 2m; the limit is bounded because"
            " it keeps hostile input out",
        )
    return value


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds one spec file must stay within."""

    max_bytes: int = field(default_factory=max_spec_bytes)
    max_depth: int = 100
    max_nodes: int = 100_000

    def __post_init__(self) -> None:
        if not 0 < self.max_depth <= _DEPTH_CEILING:
            raise ValueError(f"max_depth must be between 1 and {_DEPTH_CEILING}")
        if self.max_bytes <= 0 or self.max_nodes <= 0:
            raise ValueError("max_bytes and max_nodes must be positive")


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed spec file: plain data plus the line and column of every node in it."""

    data: Any
    source: str = "<string>"
    #: path of a node → (line, column), both 1-based; for a mapping entry, where its key is
    positions: Mapping[Path, tuple[int, int]] = field(default_factory=dict, repr=False)
    #: the paths tagged ``!reset`` or ``!override``: dropped from the files it overrides
    removed: tuple[Path, ...] = ()

    def locate(self, path: Sequence[str | int]) -> Location:
        """The location of the node at ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        for end in range(len(key), -1, -1):
            found = self.positions.get(key[:end])
            if found is not None:
                return Location(self.source, found[0], found[1], render_path(key))
        return Location(self.source, None, None, render_path(key))


def load_yaml(
    content: bytes | str,
    *,
    source: str = "<string>",
    limits: Limits | None = None,
    allow_empty: bool = False,
) -> Document:
    """Parse one spec file into a ``Document``; raise ``SpecError`` saying where and why not.
    A file with no document is an error unless ``allow_empty`` (a file of a compose project,
    which compose reads as adding nothing).

    ``limits`` defaults to ``Limits()``, whose size limit is read from the environment at
    each call (``max_spec_bytes``).
    """
    limits = limits or Limits()
    text = _decode(content, source=source, limits=limits)
    try:
        roots = _compose(text, source=source, limits=limits, pure=False)
    except _FlowColon:
        # libyaml refuses ':' inside a plain scalar of a flow collection ([http://x]);
        # compose (yaml.v3) and ruamel's own parser read it
        roots = _compose(text, source=source, limits=limits, pure=True)
    if not roots and not allow_empty:
        _not_a_mapping(None, source=source)
    data: dict[str, Any] = {}
    positions: dict[Path, tuple[int, int]] = {}
    removed: list[Path] = []
    for root in roots:
        if root.kind != "mapping":
            _not_a_mapping(root, source=source)
        converter = yamlgraph.Converter(source=source)
        document = converter.convert(root, ())
        dropped = [*converter.resets, *converter.overrides]
        data = overrides.merge_document(data, document, removed=dropped)
        positions.update(converter.positions)
        removed.extend(tuple(path) for path in dropped)
    return Document(data=data, source=source, positions=positions, removed=tuple(removed))


def _compose(text: str, *, source: str, limits: Limits, pure: bool) -> list[yamlgraph.Node]:
    composer = yamlgraph.Composer(
        source=source, max_depth=limits.max_depth, max_nodes=limits.max_nodes
    )
    return composer.compose(_events(text, source=source, pure=pure))


def _not_a_mapping(root: yamlgraph.Node | None, *, source: str) -> NoReturn:
    found = "nothing" if root is None else yamlgraph.describe(root)
    raise SpecError(
        f"the top level of a spec must be a mapping of keys such as 'services', found {found}",
        location=Location(source, root.line if root else 1, root.column if root else 1),
        hint="start the file with 'services:' (and optionally 'name:' and 'x-kedge:')",
    )


# -- bytes to text -------------------------------------------------------------------------------


def _decode(content: bytes | str, *, source: str, limits: Limits) -> str:
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if len(raw) > limits.max_bytes:
        line = raw.count(b"\n", 0, limits.max_bytes) + 1
        raise SpecError(
            f"the file is {len(raw):,} bytes, over the limit of {limits.max_bytes:,} bytes "
            f"(passed at line {line})",
            location=Location(source, line, None),
            hint="split the stack into smaller specs, or raise the limit with the environment"
            f" variable {MAX_BYTES_SETTING} (at most {MAX_BYTES_RANGE[1]:,} bytes)",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        raise SpecError(
            f"the file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            f"({exc.reason})",
            location=Location(source, line, column),
            hint="save the file as UTF-8",
        ) from exc


# -- parser events and their errors -------------------------------------------------------------


class _FlowColon(Exception):
    """libyaml stopped at a ':' inside a flow collection's plain scalar."""


def _events(text: str, *, source: str, pure: bool) -> Iterator[Any]:
    parser = YAML(typ="safe", pure=pure)  # by default the C parser of ruamel.yaml.clib
    try:
        yield from parser.parse(text)
    except ReaderError as exc:
        raise _reader_error(exc, text=text, source=source) from exc
    except MarkedYAMLError as exc:
        if not pure and exc.problem == "found unexpected ':'":
            raise _FlowColon from exc
        raise _syntax_error(exc, text=text, source=source) from exc
    except YAMLError as exc:  # a ruamel error without a position
        raise SpecError(f"YAML error: {exc}", location=Location(source)) from exc


def _reader_error(exc: ReaderError, *, text: str, source: str) -> SpecError:
    char = exc.character if isinstance(exc.character, str) else chr(int(exc.character))
    # the C reader counts bytes, the pure one characters: find the character itself
    position = text.find(char)
    position = position if position >= 0 else int(exc.position)
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return SpecError(
        f"the character U+{ord(char):04X} is not allowed in YAML ({exc.reason})",
        location=Location(source, line, column),
        hint="remove the control character, or write it as an escape inside double quotes",
    )


def _syntax_error(exc: MarkedYAMLError, *, text: str, source: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    location = Location(source, line, column)
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        if _line_prefix(text, mark.line, mark.column).strip(" \t") == "":
            return SpecError(
                "a tab is used for indentation; YAML indents with spaces only",
                location=location,
                hint=f"replace the tabs at the start of line {line} with spaces",
            )
        return SpecError(
            "a tab separates the parts of this line; use spaces",
            location=location,
            hint=f"replace the tab at column {column} of line {line} with a space",
        )
    problem = exc.problem or str(exc)
    context = f" ({exc.context})" if exc.context else ""
    return SpecError(
        f"YAML syntax error: {problem}{context}",
        location=location,
        hint="check the indentation and the quotes, brackets and colons on this line "
        "and the one before it",
    )


def _char_at(text: str, line: int, column: int) -> str:
    prefix = _line_prefix(text, line, column + 1)
    return prefix[-1:] if len(prefix) == column + 1 else ""


def _line_prefix(text: str, line: int, column: int) -> str:
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    return text[start : start + column].split("\n", 1)[0]
