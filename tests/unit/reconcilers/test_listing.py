"""Listing: the parsing of Docker's list answers that observe and peek share (moved here
from test_peek.py with the parsers, P1 of the 2026-12-07 review)."""

from __future__ import annotations

from datetime import UTC, datetime

from kedge.reconcilers import listing


def test_a_containers_anonymous_volumes_are_told_from_its_named_ones():
    anonymous = "f" * 64
    facts = listing.container_facts(
        {
            "Id": "c1",
            "Names": ["/shop-db-1"],
            "Labels": {"kedge.stack": "shop", "kedge.service": "db"},
            "State": "running",
            "Mounts": [
                {"Type": "volume", "Name": "shop_data", "Destination": "/data"},
                {"Type": "volume", "Name": anonymous, "Destination": "/var/lib/db"},
                {"Type": "bind", "Source": "/srv", "Destination": "/srv"},
            ],
        }
    )
    assert facts is not None
    assert facts["volumes"] == sorted(["shop_data", anonymous])
    assert facts["anonymous"] == [["/var/lib/db", anonymous]]


def test_docker_times_are_read_to_the_microsecond_and_its_zero_time_is_none():
    assert listing.as_time("2026-12-07T10:11:12.123456789Z") == datetime(
        2026, 12, 7, 10, 11, 12, 123456, tzinfo=UTC
    )
    assert listing.as_time("0001-01-01T00:00:00Z") is None
    assert listing.as_time(None) is None
