"""The node graph of a YAML document: built from parser events, then turned into plain data.

Used by ``kedge.specs.yamlsource`` (``load_yaml``), which reads the bytes, runs ruamel's
parser and translates its errors; this module does what ruamel's composer and constructor
would do, in a way that a hostile file cannot abuse:

- ``Composer`` builds the graph without recursion, from the event stream. Every node keeps
  its expanded size and height (aliases included), so the node budget and the depth limit
  are checked at the event that passes them, before anything large exists. An anchor is
  usable only once its node is complete, so a recursive alias is an error.
- ``Converter`` walks the graph into dicts, lists and scalars (a walk whose size the composer
  has already bounded), checks duplicate keys, applies merge keys, and records the line and
  column of every node by its path. As compose-go does, a mapping value tagged ``!reset`` is
  left out and one tagged ``!override`` kept, and both paths are recorded (``resets``,
  ``overrides``) for the merge of the file's documents; another local tag (``!foo``) leaves
  a scalar's text as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode

from kedge.errors import Location, SpecError

__all__ = ["Composer", "Converter", "Node", "Path", "describe", "render_path"]

_TAG = "tag:yaml.org,2002:"
_IMPLICIT = {_TAG + t for t in ("null", "bool", "int", "float", "timestamp", "merge")}
_OCTAL = re.compile(r"[-+]?0[0-7]+")
_RESET = "!reset"
_OVERRIDE = "!override"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-/:@+*]+")
_SURROGATE = re.compile("[\ud800-\udfff]")

Path = tuple[str | int, ...]


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


@dataclass(slots=True, eq=False)
class Node:
    """One node of the graph; an alias is the very node its anchor names (shared)."""

    kind: str  # "scalar" | "sequence" | "mapping"
    line: int
    column: int
    tag: str | None
    value: str = ""
    implicit: tuple[bool, bool] = (True, False)
    items: list[Node] = field(default_factory=list)  # mapping: key, value, key, value, …
    size: int = 1  # nodes after expanding aliases, this one included
    height: int = 1  # levels of collections after expanding aliases (a scalar has 0)


@dataclass(slots=True)
class _Frame:
    node: Node
    anchor: str | None


class Composer:
    """Build the node graph from parser events, without recursion and within the limits."""

    def __init__(self, *, source: str, max_depth: int, max_nodes: int) -> None:
        self.source = source
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.anchors: dict[str, Node] = {}
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.total = 0  # nodes of the document so far, aliases expanded
        self.root: Node | None = None

    def compose(self, events: Iterable[Any]) -> list[Node]:
        """The root node of every document in ``events`` (compose merges them in order)."""
        roots: list[Node] = []
        for event in events:
            if isinstance(event, ev.DocumentEndEvent):  # anchors stay usable, as in yaml.v3
                if self.root is not None:
                    roots.append(self.root)
                self.root = None
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
        return roots

    def _open(self, event: Any, kind: str) -> None:
        depth = len(self.stack) + 1
        if kind != "scalar" and depth > self.max_depth:
            raise self._too_deep(event, depth)
        self._count(1, event)
        node = Node(
            kind=kind,
            line=event.start_mark.line + 1,
            column=event.start_mark.column + 1,
            tag=event.tag,
            height=0 if kind == "scalar" else 1,
        )
        if kind == "scalar":
            if _SURROGATE.search(event.value):
                raise self._surrogate(event)
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

    def _add(self, node: Node, alias: Any) -> None:
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1].node
        parent.items.append(node)
        parent.size += node.size
        parent.height = max(parent.height, node.height + 1)
        if alias is not None:
            self._count(node.size, alias)
            if len(self.stack) + node.height > self.max_depth:
                raise self._too_deep(alias, len(self.stack) + node.height)

    def _alias(self, event: Any) -> Node:
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
        if self.total > self.max_nodes:
            what = f"the alias *{event.anchor}" if isinstance(event, ev.AliasEvent) else "it"
            raise SpecError(
                f"the document expands to more than {self.max_nodes:,} nodes here "
                f"({what} takes it to {self.total:,}); aliases are counted each time "
                "they are used",
                location=self._where(event),
                hint="an alias that repeats aliases multiplies the size ('billion laughs'); "
                "write the values out, or make the spec smaller",
            )

    def _too_deep(self, event: Any, depth: int) -> SpecError:
        return SpecError(
            f"the document nests {depth} levels deep here, past the limit of {self.max_depth}",
            location=self._where(event),
            hint="flatten the structure; compose files need only a few levels",
        )

    def _surrogate(self, event: Any) -> SpecError:
        code = ord(_SURROGATE.search(event.value).group())  # type: ignore[union-attr]
        return SpecError(
            f"the text holds a lone surrogate (U+{code:04X}), which is not a Unicode character",
            location=self._where(event),
            hint=f"remove the escape \\u{code:04x}; write the character itself (as UTF-8)",
        )

    def _where(self, event: Any) -> Location:
        return Location(self.source, event.start_mark.line + 1, event.start_mark.column + 1)


def describe(node: Node) -> str:
    if node.kind == "scalar":
        return f"the scalar {node.value!r}"
    return f"a {node.kind}"


# -- node graph to plain data --------------------------------------------------------------------


class Converter:
    """Turn the node graph into dicts, lists and scalars, recording where each node is."""

    def __init__(self, *, source: str) -> None:
        self.source = source
        self.positions: dict[Path, tuple[int, int]] = {}
        #: paths tagged ``!reset`` (left out here) and ``!override``: the values that an
        #: earlier document gave them are dropped before this document is merged onto it
        self.resets: list[Path] = []
        self.overrides: list[Path] = []
        self.yaml = YAML(typ="safe", pure=True)
        # ruamel's YAML 1.2 implicit resolvers by first character; resolve() itself looks
        # the version up again for every scalar, which dominated the time of a large file
        table = self.yaml.resolver.versioned_resolver
        self.implicit: dict[str, list[tuple[str, re.Pattern[str]]]] = {
            first: [(t, p) for t, p in [*resolvers, *table.get(None, [])] if t in _IMPLICIT]
            for first, resolvers in table.items()
        }

    def convert(self, node: Node, path: Path) -> Any:
        self.positions.setdefault(path, (node.line, node.column))
        if node.kind == "scalar":
            return self._scalar(node)
        self._check_collection_tag(node)
        if node.kind == "sequence":
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.items)]
        return self._mapping(node, path)

    def _mapping(self, node: Node, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
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
            if value_node.tag == _RESET:
                self.resets.append((*path, key))
                continue
            if value_node.tag == _OVERRIDE:
                self.overrides.append((*path, key))
            self.positions.setdefault((*path, key), (key_node.line, key_node.column))
            result[key] = self.convert(value_node, (*path, key))
        for source in merges:
            for merged in self._merge_sources(source, path):
                for key, value in self._mapping(merged, path).items():
                    result.setdefault(key, value)
        return result

    def _merge_sources(self, node: Node, path: Path) -> list[Node]:
        sources = node.items if node.kind == "sequence" else [node]
        for source in sources:
            if source.kind != "mapping":
                raise SpecError(
                    f"the merge key '<<' takes a mapping or a list of mappings, "
                    f"found {describe(source)}",
                    location=Location(self.source, source.line, source.column, render_path(path)),
                    hint="write '<<: *anchor' where &anchor names a mapping",
                )
        return sources

    def _is_merge_key(self, node: Node) -> bool:
        return node.kind == "scalar" and self._tag(node) == _TAG + "merge"

    def _key(self, node: Node, path: Path) -> str:
        if node.kind == "scalar" and self._tag(node) != _TAG + "null":
            return node.value
        where = Location(self.source, node.line, node.column, render_path(path))
        if node.kind != "scalar":
            raise SpecError(
                f"a key must be text, found {describe(node)} as a key",
                location=where,
                hint="use a plain word as the key; complex keys ('? ') are not used by compose",
            )
        raise SpecError(
            "a key is empty (null)",
            location=where,
            hint="give the entry a name before the colon, or quote it",
        )

    def _tag(self, node: Node) -> str:
        if node.tag in (_RESET, _OVERRIDE):
            pass  # compose's merge tags: the value itself resolves as if untagged
        elif node.tag is not None and node.tag.startswith("!") and node.tag != "!":
            return _TAG + "str"  # another local tag: compose (yaml.v3) keeps the text
        elif node.tag is not None and node.tag != "!":
            return node.tag
        elif node.tag == "!" or not node.implicit[0]:
            return _TAG + "str"
        value = node.value
        for tag, pattern in self.implicit.get(value[:1], ()):
            if pattern.match(value):
                return str(tag)
        return _TAG + "str"

    def _scalar(self, node: Node) -> Any:
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

    def _check_collection_tag(self, node: Node) -> None:
        expected = _TAG + ("seq" if node.kind == "sequence" else "map")
        if node.tag is not None and node.tag != expected and not node.tag.startswith("!"):
            raise self._unsupported_tag(node, node.tag or "")

    def _unsupported_tag(self, node: Node, tag: str) -> SpecError:
        return SpecError(
            f"the tag {tag!r} is not supported in a spec",
            location=Location(self.source, node.line, node.column),
            hint="remove the tag; compose reads tags of the YAML core schema (such as !!str),"
            " !reset and !override",
        )
