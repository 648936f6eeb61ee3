"""The ``kedge`` console script: ``kedge up``'s no-op fast path first, then the typer app.

``cli.quick`` answers a ``kedge up`` that has nothing to do with the standard library alone;
everything else (and every ``up`` it cannot answer) goes to ``kedge.cli.main.app``.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["up"]:
        from kedge.cli import quick

        code = quick.up(args[1:])
        if code is not None:
            sys.exit(code)
    from kedge.cli.main import app

    app()
