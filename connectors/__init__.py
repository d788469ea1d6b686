"""Connectors: where documents come from. Each has ``items()``, which yields what ``KnowledgeBase.ingest`` takes.

- ``FileConnector``: files, folders and globs; PDF, Office, HTML, e-mail, Markdown and text by content type
- ``RecordsConnector``: records of CSV, JSON and JSON Lines files
- ``SQLConnector``: rows of a SQL query (SQLAlchemy; ``ragkit[sql]``)
- ``WebConnector``: URLs and sitemaps over http(s)
- ``LlamaIndexConnector``: LlamaIndex documents and readers (``ragkit[llamaindex]``)
"""

from connectors.documents import ParseOptions
from connectors.files import FileConnector, FileItem
from connectors.llamaindex import LlamaIndexConnector
from connectors.records import RecordsConnector, Rejected
from connectors.sniff import FileType, sniff
from connectors.sql import SQLConnector
from connectors.web import Fetcher, WebConnector

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
