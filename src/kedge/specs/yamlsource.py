"""The YAML parser of spec files: bytes in, plain Python data with line numbers out.

``load_yaml`` is called by ``kedge.specs.loader`` (``parse``/``load_file``) before
interpolation and validation. It is the one place where ruamel.yaml's errors are translated
into ``SpecError``s that carry file, line, column and a hint.

The parser is strict where a hand-edited spec is likely wrong, and bounded where a hostile one
could hurt:

- input over ``Limits.max_bytes`` is refused before any parsing; input that is not UTF-8 is
  refused with the line and byte offset of the first bad byte;
- duplicate keys (both lines named), tabs used as indentation, several documents in one file,
  a top level that is not a mapping, and tags that compose does not use are errors;
- nesting is bounded by ``Limits.max_depth`` and the expanded size by ``Limits.max_nodes``.

Why events, not ``YAML.load``: ruamel's constructors recurse once per nesting level (a deep
file overflows the Python stack) and expand aliases only after building the whole graph. Here
ruamel's parser (an iterative state machine) yields events, and ``_Composer`` builds the node
graph itself, without recursion, keeping for every node its expanded size and height. An
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

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.reader import ReaderError

from kedge.errors import Location, SpecError

__all__ = ["Document", "Limits", "load_yaml", "render_path"]

_TAG = "tag:yaml.org,2002:"
_IMPLICIT = {_TAG + t for t in ("null", "bool", "int", "float", "timestamp", "merge")}
_OCTAL = re.compile(r"[-+]?0[0-7]+")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-/:@+*]+")
#: the deepest ``max_depth`` accepted: the conversion walk recurses once per level
_DEPTH_CEILING = 500

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds one spec file must stay within."""

    max_bytes: int = 1 << 20
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

    def locate(self, path: Sequence[str | int]) -> Location:
        """The location of the node at ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        for end in range(len(key), -1, -1):
            found = self.positions.get(key[:end])
            if found is not None:
                return Location(self.source, found[0], found[1], render_path(key))
        return Location(self.source, None, None, render_path(key))


def render_path(path: Sequence[str | int]) -> str:
    """Render a field path as people read it: ``services.web.ports[0]``, ``labels["a.b"]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return text


def load_yaml(
    content: bytes | str, *, source: str = "<string>", limits: Limits = Limits()
) -> Document:
    """Parse one spec file into a ``Document``; raise ``SpecError`` saying where and why not."""
    text = _decode(content, source=source, limits=limits)
    root = _Composer(source=source, limits=limits).compose(text)
    if root is None or root.kind != "mapping":
        found = "nothing" if root is None else _describe(root)
        raise SpecError(
            f"the top level of a spec must be a mapping of keys such as 'services', found {found}",
            location=Location(source, root.line if root else 1, root.column if root else 1),
            hint="start the file with 'services:' (and optionally 'name:' and 'x-kedge:')",
        )
    converter = _Converter(source=source)
    data = converter.convert(root, ())
    return Document(data=data, source=source, positions=converter.positions)


# -- bytes to text -------------------------------------------------------------------------------


def _decode(content: bytes | str, *, source: str, limits: Limits) -> str:
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if len(raw) > limits.max_bytes:
        line = raw.count(b"\n", 0, limits.max_bytes) + 1
        raise SpecError(
            f"the file is {len(raw):,} bytes, over the limit of {limits.max_bytes:,} bytes "
            f"(passed at line {line})",
            location=Location(source, line, None),
            hint="split the stack into smaller specs, or raise the size limit",
        )
    if isinstance(content, str):
        return content.removeprefix("\ufeff")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            f"the file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            f"({exc.reason})",
            location=Location(source, line, column),
            hint="save the file as UTF-8",
        ) from exc


# -- events to a node graph ----------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Node:
    kind: str  # "scalar" | "sequence" | "mapping"
    line: int
    column: int
    tag: str | None
    value: str = ""
    implicit: tuple[bool, bool] = (True, False)
    items: list[_Node] = field(default_factory=list)  # mapping: key, value, key, value, …
    size: int = 1  # nodes after expanding aliases, this one included
    height: int = 1  # levels of collections after expanding aliases (a scalar has 0)


@dataclass(slots=True)
class _Frame:
    node: _Node
    anchor: str | None


class _Composer:
    """Build the node graph from parser events, without recursion and within the limits."""

    def __init__(self, *, source: str, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.anchors: dict[str, _Node] = {}
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.total = 0  # nodes of the document so far, aliases expanded
        self.root: _Node | None = None

    def compose(self, text: str) -> _Node | None:
        documents = 0
        for event in self._events(text):
            if isinstance(event, ev.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise SpecError(
                        "the file holds more than one YAML document",
                        location=self._where(event),
                        hint="keep one stack per file: remove the '---' and what follows, "
                        "or move it to a file of its own",
                    )
            elif isinstance(event, ev.AliasEvent):
                self._add(self._alias(event), event)
            elif isinstance(event, ev.ScalarEvent):
                self._open(event, "scalar")
                self._close()
            elif isinstance(event, ev.SequenceStartEvent | ev.MappingStartEvent):
                kind = "sequence" if isinstance(event, ev.SequenceStartEvent) else "mapping"
                self._open(event, kind)
            elif isinstance(event, ev.SequenceEndEvent | ev.MappingEndEvent):
                self._close()
        return self.root

    def _events(self, text: str) -> Iterator[Any]:
        parser = YAML(typ="safe")  # the C parser of ruamel.yaml.clib
        try:
            yield from parser.parse(text)
        except ReaderError as exc:
            raise _reader_error(exc, text=text, source=self.source) from exc
        except MarkedYAMLError as exc:
            raise _syntax_error(exc, text=text, source=self.source) from exc
        except YAMLError as exc:  # a ruamel error without a position
            raise SpecError(f"YAML error: {exc}", location=Location(self.source)) from exc

    def _open(self, event: Any, kind: str) -> None:
        depth = len(self.stack) + 1
        if kind != "scalar" and depth > self.limits.max_depth:
            raise self._too_deep(event, depth)
        self._count(1, event)
        node = _Node(
            kind=kind,
            line=event.start_mark.line + 1,
            column=event.start_mark.column + 1,
            tag=event.tag,
            height=0 if kind == "scalar" else 1,
        )
        if kind == "scalar":
            node.value = event.value
            node.implicit = event.implicit
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Frame(node, event.anchor))

    def _close(self) -> None:
        frame = self.stack.pop()
        if frame.anchor is not None:
            self.anchors[frame.anchor] = frame.node
            self.open_anchors.discard(frame.anchor)
        self._add(frame.node, None)

    def _add(self, node: _Node, alias: Any) -> None:
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1].node
        parent.items.append(node)
        parent.size += node.size
        parent.height = max(parent.height, node.height + 1)
        if alias is not None:
            self._count(node.size, alias)
            if len(self.stack) + node.height > self.limits.max_depth:
                raise self._too_deep(alias, len(self.stack) + node.height)

    def _alias(self, event: Any) -> _Node:
        name = event.anchor
        if name in self.open_anchors:
            raise SpecError(
                f"the alias *{name} refers to a node that contains it",
                location=self._where(event),
                hint="recursive aliases cannot be expanded; copy the part you need instead",
            )
        if name not in self.anchors:
            raise SpecError(
                f"the alias *{name} has no anchor &{name} before it",
                location=self._where(event),
                hint=f"define '&{name}' on a node above this line, or fix the alias name",
            )
        return self.anchors[name]

    def _count(self, nodes: int, event: Any) -> None:
        self.total += nodes
        if self.total > self.limits.max_nodes:
            what = f"the alias *{event.anchor}" if isinstance(event, ev.AliasEvent) else "it"
            raise SpecError(
                f"the document expands to more than {self.limits.max_nodes:,} nodes here "
                f"({what} takes it to {self.total:,}); aliases are counted each time "
                "they are used",
                location=self._where(event),
                hint="an alias that repeats aliases multiplies the size ('billion laughs'); "
                "write the values out, or make the spec smaller",
            )

    def _too_deep(self, event: Any, depth: int) -> SpecError:
        return SpecError(
            f"the document nests {depth} levels deep here, past the limit of "
            f"{self.limits.max_depth}",
            location=self._where(event),
            hint="flatten the structure; compose files need only a few levels",
        )

    def _where(self, event: Any) -> Location:
        return Location(self.source, event.start_mark.line + 1, event.start_mark.column + 1)


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


def _describe(node: _Node) -> str:
    if node.kind == "scalar":
        return f"the scalar {node.value!r}"
    return f"a {node.kind}"


# -- node graph to plain data --------------------------------------------------------------------


class _Converter:
    """Turn the node graph into dicts, lists and scalars, recording where each node is."""

    def __init__(self, *, source: str) -> None:
        self.source = source
        self.positions: dict[Path, tuple[int, int]] = {}
        self.yaml = YAML(typ="safe", pure=True)
        # ruamel's YAML 1.2 implicit resolvers by first character; resolve() itself looks
        # the version up again for every scalar, which dominated the time of a large file
        table = self.yaml.resolver.versioned_resolver
        self.implicit: dict[str, list[tuple[str, re.Pattern[str]]]] = {
            first: [(t, p) for t, p in [*resolvers, *table.get(None, [])] if t in _IMPLICIT]
            for first, resolvers in table.items()
        }

    def convert(self, node: _Node, path: Path) -> Any:
        self.positions.setdefault(path, (node.line, node.column))
        if node.kind == "scalar":
            return self._scalar(node)
        self._check_collection_tag(node)
        if node.kind == "sequence":
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.items)]
        return self._mapping(node, path)

    def _mapping(self, node: _Node, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[_Node] = []
        pairs = zip(node.items[::2], node.items[1::2], strict=True)
        for key_node, value_node in pairs:
            if self._is_merge_key(key_node):
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key in first_line:
                raise SpecError(
                    f"the key {key!r} appears twice in this mapping "
                    f"(first at line {first_line[key]}, again at line {key_node.line})",
                    location=Location(
                        self.source, key_node.line, key_node.column, render_path((*path, key))
                    ),
                    hint="keep one of them, or merge their contents into one",
                )
            first_line[key] = key_node.line
            self.positions.setdefault((*path, key), (key_node.line, key_node.column))
            result[key] = self.convert(value_node, (*path, key))
        for source in merges:
            for merged in self._merge_sources(source, path):
                for key, value in self._mapping(merged, path).items():
                    result.setdefault(key, value)
        return result

    def _merge_sources(self, node: _Node, path: Path) -> list[_Node]:
        sources = node.items if node.kind == "sequence" else [node]
        for source in sources:
            if source.kind != "mapping":
                raise SpecError(
                    f"the merge key '<<' takes a mapping or a list of mappings, "
                    f"found {_describe(source)}",
                    location=Location(self.source, source.line, source.column, render_path(path)),
                    hint="write '<<: *anchor' where &anchor names a mapping",
                )
        return sources

    def _is_merge_key(self, node: _Node) -> bool:
        return node.kind == "scalar" and self._tag(node) == _TAG + "merge"

    def _key(self, node: _Node, path: Path) -> str:
        if node.kind == "scalar" and self._tag(node) != _TAG + "null":
            return node.value
        where = Location(self.source, node.line, node.column, render_path(path))
        if node.kind != "scalar":
            raise SpecError(
                f"a key must be text, found {_describe(node)} as a key",
                location=where,
                hint="use a plain word as the key; complex keys ('? ') are not used by compose",
            )
        raise SpecError(
            "a key is empty (null)",
            location=where,
            hint="give the entry a name before the colon, or quote it",
        )

    def _tag(self, node: _Node) -> str:
        if node.tag is not None and node.tag != "!":
            return node.tag
        if node.tag == "!" or not node.implicit[0]:
            return _TAG + "str"
        value = node.value
        for tag, pattern in self.implicit.get(value[:1], ()):
            if pattern.match(value):
                return str(tag)
        return _TAG + "str"

    def _scalar(self, node: _Node) -> Any:
        tag = self._tag(node)
        if tag in (_TAG + "str", _TAG + "timestamp", _TAG + "merge"):
            return node.value
        if tag == _TAG + "int" and node.tag is None and _OCTAL.fullmatch(node.value):
            return int(node.value, 8)
        if tag in (_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null"):
            try:
                return self.yaml.constructor.construct_object(ScalarNode(tag, node.value))
            except (ValueError, YAMLError) as exc:
                raise SpecError(
                    f"the value {node.value!r} is not a valid {tag.removeprefix(_TAG)}",
                    location=Location(self.source, node.line, node.column),
                    hint="fix the value, or drop the explicit tag",
                ) from exc
        raise self._unsupported_tag(node, tag)

    def _check_collection_tag(self, node: _Node) -> None:
        expected = _TAG + ("seq" if node.kind == "sequence" else "map")
        if node.tag not in (None, "!", expected):
            raise self._unsupported_tag(node, node.tag or "")

    def _unsupported_tag(self, node: _Node, tag: str) -> SpecError:
        return SpecError(
            f"the tag {tag!r} is not supported in a spec",
            location=Location(self.source, node.line, node.column),
            hint="remove the tag; compose override tags such as !reset and !override "
            "only apply to override files, which Kedge does not merge",
        )
