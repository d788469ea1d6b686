"""Connectors: where documents come from. Each has ``items()``, which yields what ``KnowledgeBase.ingest`` takes.

This folder installs as ``ragkit.connectors`` (``from ragkit.connectors import FileConnector``).

- ``FileConnector``: files, folders and globs; PDF, Office, HTML, e-mail, Markdown and text by content type
- ``RecordsConnector``: records of CSV, JSON and JSON Lines files
- ``SQLConnector``: rows of a SQL query (SQLAlchemy; ``ragkit[sql]``)
- ``WebConnector``: URLs and sitemaps over http(s)
- ``LlamaIndexConnector``: LlamaIndex documents and readers (``ragkit[llamaindex]``)
"""

if __name__ != "ragkit.connectors":  # imported as a top-level ``connectors`` from a checkout: two copies of each class
    raise ImportError("the connectors folder is the package ragkit.connectors; import it as "
                      "`from ragkit.connectors import FileConnector` (with ragkit installed: pip install -e .)")

from ragkit.connectors.documents import ParseOptions  # noqa: E402
from ragkit.connectors.files import FileConnector, FileItem  # noqa: E402
from ragkit.connectors.llamaindex import LlamaIndexConnector  # noqa: E402
from ragkit.connectors.records import RecordsConnector, Rejected  # noqa: E402
from ragkit.connectors.sniff import FileType, sniff  # noqa: E402
from ragkit.connectors.sql import SQLConnector  # noqa: E402
from ragkit.connectors.web import Fetcher, WebConnector  # noqa: E402

__all__ = [
    "Fetcher",
    "FileConnector",
    "FileItem",
    "FileType",
    "LlamaIndexConnector",
    "ParseOptions",
    "RecordsConnector",
    "Rejected",
    "SQLConnector",
    "WebConnector",
    "sniff",
]
