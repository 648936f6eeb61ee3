"""One default address for ``kedge serve`` and the client verbs, and one reading of HOST:PORT
for every option that takes one (``serve --addr``, ``controller --metrics-addr``)."""

from __future__ import annotations

import pytest
import typer

from kedge.cli import addresses, client


def test_the_client_looks_where_the_server_listens_by_default() -> None:
    assert client.DEFAULT_SERVER == addresses.DEFAULT_SERVER == "http://127.0.0.1:8080"
    assert addresses.parse_addr(addresses.DEFAULT_ADDR) == ("127.0.0.1", 8080)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("127.0.0.1:9464", ("127.0.0.1", 9464), id="ipv4"),
        pytest.param(":9464", ("127.0.0.1", 9464), id="no-host-is-loopback"),
        pytest.param("[::1]:8080", ("::1", 8080), id="ipv6"),
        pytest.param("0.0.0.0:8080", ("0.0.0.0", 8080), id="all-interfaces-when-asked"),
        pytest.param("localhost:1", ("localhost", 1), id="name"),
    ],
)
def test_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert addresses.parse_addr(text) == expected


@pytest.mark.parametrize("text", ["8080", "host:", "host:http", "host:0", "host:65536"])
def test_what_is_not_host_port_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(typer.BadParameter, match=r"is not HOST:PORT \(e\.g\. 127\.0\.0\.1:8080\)"):
        addresses.parse_addr(text)
