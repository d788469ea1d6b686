from __future__ import annotations

import pytest

from ragkit import ServerSettings


@pytest.fixture
def servers(postgres_schema, tmp_path) -> ServerSettings:
    """A fresh knowledge base on the test PostgreSQL server, its vectors in qdrant-client's local mode in tmp_path."""
    return ServerSettings(postgres_schema.url, str(tmp_path / "vectors"), None, postgres_schema.name)
