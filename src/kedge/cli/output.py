"""Output of the remote verbs: tables for people, stable JSON and YAML for scripts.

``-o`` picks the format as kubectl's does: ``table`` (the default), ``wide`` (more columns),
``json`` and ``yaml`` (the API's objects as they are, keys sorted, for scripts), ``name``
(``kind/name`` per line). Tables are drawn with rich, without colour or styles when the output
is not a terminal (rich's own detection, plus ``NO_COLOR``). Callers: ``cli.get``,
``cli.describe``, ``cli.remote``, ``cli.apply``.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from ruamel.yaml import YAML

__all__ = [
    "Column",
    "Format",
    "FormatOption",
    "console",
    "render_age",
    "render_duration",
    "render_items",
    "render_object",
]


class Format(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"
    NAME = "name"


FormatOption = Annotated[
    Format,
    typer.Option("--output", "-o", help="Output format.", case_sensitive=False),
]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: its header and how to render it from an item."""

    header: str
    render: Callable[[Row], str]
    wide_only: bool = False


def console(*, stderr: bool = False) -> Console:
    """A console that writes plain text when the stream is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    plain = not stream.isatty()
    return Console(
        file=stream,
        highlight=False,
        no_color=plain or None,
        width=200 if plain else None,
        soft_wrap=plain,
    )


def render_age(value: str | None, *, now: datetime | None = None) -> str:
    """An ISO time as kubectl's AGE: 5s, 3m, 2h, 4d."""
    if not value:
        return "-"
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return render_duration(((now or datetime.now(UTC)) - at).total_seconds())


def render_duration(total: float) -> str:
    """A duration as kubectl shows one: 5s, 3m, 2h, 4d."""
    seconds = max(0, int(total))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _dump_yaml(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


def render_object(data: Any, *, fmt: Format) -> str | None:
    """``data`` as JSON or YAML text, or None when ``fmt`` is a human format."""
    if fmt is Format.JSON:
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    if fmt is Format.YAML:
        return _dump_yaml(data).rstrip("\n")
    return None


def render_items(
    items: Sequence[Row],
    *,
    fmt: Format,
    kind: str,
    columns: Sequence[Column],
    name_of: Callable[[Row], str],
    header: bool = True,
) -> None:
    """Print a list of API objects in the chosen format (``header``: a table's header)."""
    if fmt in (Format.JSON, Format.YAML):
        text = render_object({"kind": f"{kind}List", "items": list(items)}, fmt=fmt)
        typer.echo(text)
        return
    if fmt is Format.NAME:
        for item in items:
            typer.echo(f"{kind.lower()}/{name_of(item)}")
        return
    if not items:
        if header:
            typer.echo("No resources found.", err=True)
        return
    shown = [c for c in columns if fmt is Format.WIDE or not c.wide_only]
    table = Table(
        box=None, pad_edge=False, show_edge=False, header_style="bold", show_header=header
    )
    for column in shown:
        table.add_column(column.header.upper(), overflow="fold")
    for item in items:
        table.add_row(*(column.render(item) for column in shown))
    console().print(table)
