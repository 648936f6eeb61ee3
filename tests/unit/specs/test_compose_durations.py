"""Durations (Go's ``time.ParseDuration``) and sizes (docker's ``RAMInBytes``), as in compose."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kedge.specs import durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90s", timedelta(seconds=90), id="seconds"),
        pytest.param("1m30s", timedelta(seconds=90), id="minutes-seconds"),
        pytest.param("1.5h", timedelta(minutes=90), id="fraction"),
        pytest.param("300ms", timedelta(milliseconds=300), id="ms"),
        pytest.param("10us", timedelta(microseconds=10), id="us"),
        pytest.param("0", timedelta(0), id="zero"),
        pytest.param("2h45m", timedelta(hours=2, minutes=45), id="hours"),
        pytest.param("1d2h", timedelta(hours=26), id="days"),
        pytest.param("1w", timedelta(weeks=1), id="weeks"),
        pytest.param(".5s", timedelta(milliseconds=500), id="leading-dot"),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert durations.parse_duration(text) == expected
    assert durations.parse_duration(durations.format_duration(expected)) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("30", id="no-unit"),
        pytest.param("1y", id="years"),
        pytest.param("1h30", id="trailing-number"),
        pytest.param("", id="empty"),
        pytest.param("s", id="unit-only"),
        pytest.param(30, id="int"),
        pytest.param(True, id="bool"),
    ],
)
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        durations.parse_duration(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("512m", 512 * 1024**2, id="m"),
        pytest.param("1g", 1024**3, id="g"),
        pytest.param("1GB", 1024**3, id="GB"),
        pytest.param("1.5k", 1536, id="fraction"),
        pytest.param("100", 100, id="bytes-string"),
        pytest.param(2048, 2048, id="int"),
        pytest.param("64 MiB", 64 * 1024**2, id="space-mib"),
    ],
)
def test_parse_size(value: object, expected: int) -> None:
    assert durations.parse_size(value) == expected


@pytest.mark.parametrize("value", ["lots", "1x", "-1g", True, None])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(ValueError, match="size"):
        durations.parse_size(value)


def test_format_duration_reads_like_go() -> None:
    assert durations.format_duration(timedelta(seconds=90)) == "1m30s"
    assert durations.format_duration(timedelta(hours=2)) == "2h0m0s"
    assert durations.format_duration(timedelta(milliseconds=500)) == "500ms"
    assert durations.format_duration(timedelta(0)) == "0s"
