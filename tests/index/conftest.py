"""The Qdrant targets of the index tests: qdrant-client's local mode always, and a real Qdrant server (or cluster)
when ``$QDRANT_URL`` names one (``QDRANT_URL=http://127.0.0.1:6333 python -m pytest -m qdrant_server``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import pytest
from qdrant_client import QdrantClient

NO_SERVER = "set $QDRANT_URL to a Qdrant server to run"
# Each test that takes `qdrant_target` runs on local mode, and again on the server (selected by -m qdrant_server).
TARGETS = ["local", pytest.param("server", marks=pytest.mark.qdrant_server)]


@dataclass(frozen=True)
class QdrantTarget:
    """Where a test's collection lives: a folder (local mode) or a server URL, and the collection's name."""

    location: str
    collection: str

    @property
    def server(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    def client(self) -> QdrantClient:
        if self.server:
            return QdrantClient(url=self.location, api_key=os.environ.get("QDRANT_API_KEY"))
        return QdrantClient(path=self.location)


def server_url() -> str:
    """``$QDRANT_URL``, or the test skips saying how to run it."""
    url = os.environ.get("QDRANT_URL")
    if not url:
        pytest.skip(NO_SERVER)
    return url


@pytest.fixture(params=TARGETS)
def qdrant_target(request: pytest.FixtureRequest, tmp_path) -> Iterator[QdrantTarget]:
    """A collection name of this test's own: in a fresh local-mode folder, or on the server, dropped afterwards."""
    if request.param == "local":
        yield QdrantTarget(str(tmp_path / "qdrant-local"), "ragkit-test")
        return
    target = QdrantTarget(server_url(), f"ragkit-test-{uuid.uuid4().hex}")
    yield target
    with closing(target.client()) as client:
        client.delete_collection(target.collection)


@pytest.fixture
def qdrant_server() -> Iterator[QdrantTarget]:
    """A collection name of this test's own on the server at ``$QDRANT_URL`` (skipped when unset), dropped after."""
    target = QdrantTarget(server_url(), f"ragkit-test-{uuid.uuid4().hex}")
    yield target
    with closing(target.client()) as client:
        client.delete_collection(target.collection)
