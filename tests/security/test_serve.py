"""``kedge serve`` on a non-loopback address: the probe's row S06 (it only printed a warning
and served on 0.0.0.0). The server runs as a real process; the refusal comes before it opens
the store or asks Docker.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tests.security.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    return subprocess.run(
        [sys.executable, "-m", "kedge", "serve", "--db", str(tmp_path / "k.db"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_s06_a_non_loopback_addr_is_refused(tmp_path: Path) -> None:
    for addr in (f"0.0.0.0:{free_port()}", f"[::]:{free_port()}"):
        result = _serve(tmp_path, "--addr", addr)
        assert result.returncode == 2, (addr, result.stderr)
        assert "--insecure-listen" in result.stderr
        assert "not a loopback address" in result.stderr
        assert not (tmp_path / "k.db").exists()  # refused before anything was opened


def test_s06_insecure_listen_lets_the_operator_say_so(tmp_path: Path) -> None:
    """With the flag the address passes (it then stops at the Docker check, as this test
    gives it no daemon), with a warning."""
    result = _serve(tmp_path, "--addr", f"0.0.0.0:{free_port()}", "--insecure-listen")
    assert "not a loopback address" not in result.stderr
    assert "no authentication" in result.stderr
    assert "Docker" in result.stderr or "docker" in result.stderr
    assert result.returncode == 2


def test_loopback_needs_no_flag(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--addr", f"127.0.0.1:{free_port()}")
    assert "loopback" not in result.stderr
    assert result.returncode == 2  # the missing daemon, not the address


def test_the_shipped_compose_file_publishes_on_loopback_only() -> None:
    """The image listens on 0.0.0.0 inside its container (it must, to be published), so it
    says --insecure-listen; the host side of the publish is 127.0.0.1 only."""
    compose = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["kedge"]
    assert "--insecure-listen" in service["command"]
    assert service["ports"]
    for port in service["ports"]:
        assert str(port).startswith("127.0.0.1:"), port
    assert "--insecure-listen" in (ROOT / "Dockerfile").read_text()
