"""Connectors: where documents come from. Each has ``items()``, which yields what ``KnowledgeBase.ingest`` takes."""

from connectors.files import FileConnector, FileItem
from connectors.sniff import FileType, sniff

__all__ = ["FileConnector", "FileItem", "FileType", "sniff"]
