"""Logs: structlog configured once at the entry point, with stack and command bound by context.

``configure_logging()`` is called by the composition root (``kedge controller``,
``kedge serve``); library code only calls ``structlog.get_logger()`` and binds context with
``bind_command`` so that every line of a pass carries ``stack`` and ``command_id``. Lines are
JSON when the stream is not a terminal (collected by a log shipper) and coloured key=value
when it is (read by a person).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

__all__ = ["bind_command", "configure_logging"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def configure_logging(
    *, level: str = "info", json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Configure structlog for the whole process; ``json=None`` decides by ``isatty``."""
    out = stream or sys.stderr
    as_json = not out.isatty() if json is None else json
    renderers: list[Any] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if as_json
        else [_stack_as_field, structlog.dev.ConsoleRenderer(colors=out.isatty())]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )


def _stack_as_field(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog's console renderer prints a ``stack`` key as a stack trace; Kedge's ``stack``
    is a stack's name, so on a terminal it is shown as ``stack_name``."""
    if isinstance(event.get("stack"), str):
        event["stack_name"] = event.pop("stack")
    return event


@contextmanager
def bind_command(stack: str, command_id: int) -> Iterator[None]:
    """Bind ``stack`` and ``command_id`` to every log line of the current thread's pass."""
    with structlog.contextvars.bound_contextvars(stack=stack, command_id=command_id):
        yield
