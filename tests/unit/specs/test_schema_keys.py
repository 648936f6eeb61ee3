"""Every key of compose's JSON schema is a key of Kedge's compose model, and no more.

The schema is the one compiled into the compose v2 binary the conformance verdicts come from
(``compose-go``'s ``compose-spec.json``, embedded as text), so upgrading the binary shows here
any key compose has added. The walk follows the schema beside the pydantic models: each
object of the schema with ``properties`` is compared with the model found at the same place.
Keys the loader carries out before validation (``version``, ``include``, ``extends``) are not
model fields; ``StackSpec.sources`` is Kedge's own record. Which keys validation then refuses
(``compose.REJECTED_KEYS``) is the conformance cases' business.
"""

from __future__ import annotations

import json
import pathlib
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from kedge.specs.compose_base import EXTENSIONS_ALIAS, ComposeModel
from kedge.specs.stack import StackSpec
from tests.compose_reference import required_compose_binary

LOADER_KEYS = {"": {"version", "include"}, ".services.*": {"extends"}}
KEDGE_KEYS = {"": {"sources", "x-kedge"}, ".services.*": {"x-kedge"}}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """compose-spec.json as compiled into the compose binary."""
    data = pathlib.Path(required_compose_binary()).read_bytes()
    marker = data.find(b'"$id": "compose_spec.json"')
    assert marker > 0, "the compose binary embeds no compose-spec.json"
    start = data.rfind(b"{", 0, marker)
    found, _ = json.JSONDecoder().raw_decode(data[start:].decode("utf-8", "replace"))
    assert isinstance(found, dict)
    return found


def _leaves(annotation: Any) -> Iterator[Any]:
    """The types an annotation may hold: ``Annotated``, unions and ``None`` taken apart."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _leaves(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                yield from _leaves(arg)
    else:
        yield annotation


class Walk:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.definitions = schema["definitions"]
        self.differences: list[str] = []
        self.seen: set[tuple[str, type]] = set()

    def branches(self, node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while "$ref" in node:
            node = self.definitions[node["$ref"].rsplit("/", 1)[-1]]
        alternatives = node.get("oneOf") or node.get("anyOf")
        if alternatives:
            for branch in alternatives:
                yield from self.branches(branch)
        else:
            yield node

    def walk(self, node: dict[str, Any], annotation: Any, at: str) -> None:
        for branch in self.branches(node):
            for leaf in _leaves(annotation):
                origin, args = typing.get_origin(leaf), typing.get_args(leaf)
                if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                    if "properties" in branch:
                        self.compare(branch, leaf, at)
                elif origin is list and branch.get("type") == "array" and "items" in branch:
                    self.walk(branch["items"], args[0], f"{at}[]")
                elif origin is dict and "properties" not in branch:
                    for pattern, sub in branch.get("patternProperties", {}).items():
                        if pattern != "^x-":
                            self.walk(sub, args[1], f"{at}.*")

    def compare(self, node: dict[str, Any], model: type[BaseModel], at: str) -> None:
        if (at, model) in self.seen:
            return
        self.seen.add((at, model))
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        fields.pop(EXTENSIONS_ALIAS, None)
        declared = set(node["properties"])
        missing = declared - set(fields) - LOADER_KEYS.get(at, set())
        extra = set(fields) - declared - KEDGE_KEYS.get(at, set())
        if missing:
            self.differences.append(f"{at or '.'} ({model.__name__}) lacks {sorted(missing)}")
        if extra:
            self.differences.append(f"{at or '.'} ({model.__name__}) adds {sorted(extra)}")
        open_x = "^x-" in node.get("patternProperties", {}) or node.get(
            "additionalProperties", True
        )
        if bool(open_x) != issubclass(model, ComposeModel):
            self.differences.append(f"{at or '.'} ({model.__name__}): x-* keys allowed differ")
        for key, sub in node["properties"].items():
            if key in fields:
                self.walk(sub, fields[key].annotation, f"{at}.{key}")


def test_the_model_has_every_key_of_compose_schema(schema: dict[str, Any]) -> None:
    walk = Walk(schema)
    walk.walk(schema, StackSpec, "")
    assert walk.differences == []
    # the walk reached the nested models, not only the top level
    reached = {at for at, _ in walk.seen}
    assert {".services.*.develop.watch[]", ".services.*.volumes[].image"} <= reached
    assert len(reached) > 40
