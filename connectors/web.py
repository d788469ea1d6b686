"""Web pages over http(s): URLs and sitemaps, with timeouts, a size cap and content-type checks.

A page is downloaded once per ingest (its fingerprint is a hash of the body) and parsed by its content type:
HTML and PDF through ``ragkit.connectors.documents``, plain text and Markdown natively.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit

from ragkit.connectors.documents import ParseOptions, parse_document
from ragkit.connectors.records import Rejected
from ragkit.connectors.sniff import FileType
from ragkit.connectors.text import parse_markdown, parse_text

from ragkit.errors import ConfigError, IngestError, SkipCode
from ragkit.records import Document

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_TYPES = {
    "text/html": FileType.HTML,
    "application/xhtml+xml": FileType.HTML,
    "text/plain": FileType.TEXT,
    "text/markdown": FileType.MARKDOWN,
    "text/x-markdown": FileType.MARKDOWN,
    "application/pdf": FileType.PDF,
}
_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@dataclass(frozen=True)
class Fetcher:
    """HTTP GET with a timeout, a redirect limit, a size cap and an allowed set of content types."""

    timeout: float = 15.0
    max_bytes: int = DEFAULT_MAX_BYTES
    user_agent: str = "ragkit (+https://github.com/ragkit)"

    def get(self, url: str, allowed: Sequence[str]) -> tuple[bytes, str]:
        """(body, content type) or an IngestError saying what went wrong."""
        import httpx

        if urlsplit(url).scheme not in ("http", "https"):
            raise IngestError(url, "is not an http(s) URL", SkipCode.INVALID)
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=True, max_redirects=5,
                              headers={"User-Agent": self.user_agent}) as client:
                with client.stream("GET", url) as response:
                    if response.status_code >= 400:
                        raise IngestError(url, f"answered HTTP {response.status_code}", SkipCode.UNREADABLE)
                    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if content_type not in allowed:
                        raise IngestError(url, f"has content type {content_type or '(none)'!r}, not one of: "
                                          f"{', '.join(allowed)}", SkipCode.UNSUPPORTED_TYPE)
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > self.max_bytes:
                        raise IngestError(url, f"is {declared} bytes, over the {self.max_bytes}-byte cap",
                                          SkipCode.TOO_LARGE)
                    body = bytearray()
                    for piece in response.iter_bytes():
                        body.extend(piece)
                        if len(body) > self.max_bytes:
                            raise IngestError(url, f"is over the {self.max_bytes}-byte cap", SkipCode.TOO_LARGE)
                    return bytes(body), content_type
        except httpx.TimeoutException as exc:
            raise IngestError(url, f"did not answer within {self.timeout:g} s", SkipCode.UNREADABLE) from exc
        except httpx.HTTPError as exc:
            raise IngestError(url, f"could not be fetched ({type(exc).__name__}: {exc})", SkipCode.UNREADABLE) from exc


class WebPage:
    """One URL, fetched at most once: ``fingerprint`` downloads, ``load`` parses what was downloaded."""

    def __init__(self, url: str, fetcher: Fetcher, options: ParseOptions) -> None:
        self.url = url
        self._fetcher = fetcher
        self._options = options
        self._body: tuple[bytes, str] | None = None

    @property
    def source(self) -> str:
        return self.url

    def _fetch(self) -> tuple[bytes, str]:
        if self._body is None:
            self._body = self._fetcher.get(self.url, list(_TYPES))
        return self._body

    def fingerprint(self) -> str:
        body, content_type = self._fetch()
        return hashlib.sha256(body + content_type.encode() + self._options.output_key().encode()).hexdigest()

    def load(self) -> Document:
        body, content_type = self._fetch()
        kind = _TYPES[content_type]
        metadata = {"url": self.url, "content_type": content_type, "size": len(body)}
        if kind is FileType.TEXT:
            return parse_text(self.url, body, metadata)
        if kind is FileType.MARKDOWN:
            return parse_markdown(self.url, body, metadata)
        return parse_document(self.url, body, kind, metadata, self._options)


@dataclass(frozen=True)
class WebConnector:
    """Pages from ``urls`` and from the ``sitemaps`` (sitemap indexes are followed, up to ``max_pages``)."""

    urls: Sequence[str] = ()
    sitemaps: Sequence[str] = ()
    max_pages: int = 10_000
    fetcher: Fetcher = field(default_factory=Fetcher)
    options: ParseOptions = ParseOptions()
    chunker: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.urls, str) or isinstance(self.sitemaps, str):
            raise ConfigError("urls and sitemaps are lists of URLs, not single strings")
        if not self.urls and not self.sitemaps:
            raise ConfigError("WebConnector needs urls or sitemaps")

    def items(self) -> Iterator[WebPage | Rejected]:
        seen: set[str] = set()
        urls: list[Any] = list(self.urls)
        for sitemap in self.sitemaps:
            try:
                urls.extend(self._sitemap_urls(sitemap, depth=0))
            except IngestError as exc:
                urls.append(Rejected(sitemap, exc.reason, exc.code))
        for url in urls:
            if isinstance(url, Rejected):
                yield url
            elif url not in seen and len(seen) < self.max_pages:
                seen.add(url)
                yield WebPage(url, self.fetcher, self.options)

    def _sitemap_urls(self, sitemap: str, depth: int) -> list[str]:
        body, _ = self.fetcher.get(sitemap, ["application/xml", "text/xml"])
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as exc:
            raise IngestError(sitemap, f"is not a valid sitemap ({exc})", SkipCode.PARSE_ERROR) from exc
        locations = [loc.text.strip() for loc in root.iter(f"{_SITEMAP_NS}loc") if loc.text]
        if root.tag != f"{_SITEMAP_NS}sitemapindex":
            return locations
        if depth >= 3:
            raise IngestError(sitemap, "nests sitemap indexes more than three deep", SkipCode.INVALID)
        return [url for child in locations for url in self._sitemap_urls(child, depth + 1)]
