from __future__ import annotations

import logging
from typing import Callable, Iterator, List

import pytest

from tests.support.keys import make_key, parts
from tests.support.recording_server import RecordingServer


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer().start()
    yield recording
    recording.stop()


@pytest.fixture
def keys(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[..., str]]:
    """Makes keys; after the test, fails if any log record contains a key or a part of one."""
    caplog.set_level(logging.DEBUG)
    made: List[str] = []

    def make(slug: str = "acme") -> str:
        key = make_key(slug)
        made.append(key)
        return key

    yield make
    # In teardown, caplog.text and caplog.records hold only the teardown's records: read every phase's.
    records = [r for phase in ("setup", "call") for r in caplog.get_records(phase)] + caplog.records
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in records)
    for key in made:
        for part in parts(key):
            assert part not in logged, "a key or a part of one was logged"
