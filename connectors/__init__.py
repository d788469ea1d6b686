"""Connectors: where documents come from. Each yields items that ``KnowledgeBase.ingest`` accepts."""

from connectors.files import FileItem, FolderScan, scan

__all__ = ["FileItem", "FolderScan", "scan"]
