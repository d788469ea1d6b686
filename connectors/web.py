"""Web pages over http(s): URLs and sitemaps, with a total deadline, a size cap, content-type checks, and no
requests to this machine's own or private networks unless allowed.

A page is downloaded once per ingest (its fingerprint is a hash of the body) and parsed by its content type:
HTML and PDF through ``ragkit.connectors.documents``, plain text and Markdown natively.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import threading
import time
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
    """HTTP GET with a total deadline, a redirect limit, a size cap and an allowed set of content types — and never
    to this machine or a private network unless told so.

    ``timeout`` bounds the whole fetch (a server that drips a byte at a time is stopped at it); ``max_bytes`` the
    body. Every address a host name resolves to, at every redirect, must be public: loopback, private, link-local
    (where cloud metadata services listen) and other non-global addresses are refused — a page cannot make ragkit
    read an internal service (server-side request forgery) — unless it lies in ``allow_networks`` (CIDR blocks such
    as ``"10.0.0.0/8"``, for an intranet). The connection goes to the address that was checked.
    """

    timeout: float = 15.0
    max_bytes: int = DEFAULT_MAX_BYTES
    user_agent: str = "ragkit (+https://github.com/ragkit)"
    allow_networks: Sequence[str] = ()
    max_redirects: int = 5
    _networks: tuple = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if isinstance(self.allow_networks, str):
            raise ConfigError("allow_networks is a list of CIDR blocks, such as ['10.0.0.0/8'], not one string")
        try:
            networks = tuple(ipaddress.ip_network(block, strict=False) for block in self.allow_networks)
        except ValueError as exc:
            raise ConfigError(f"allow_networks holds something that is not a CIDR block: {exc}") from exc
        object.__setattr__(self, "_networks", networks)
        if not self.timeout > 0 or self.max_bytes < 1:
            raise ConfigError(f"timeout and max_bytes must be positive, got {self.timeout} and {self.max_bytes}")

    def get(self, url: str, allowed: Sequence[str]) -> tuple[bytes, str]:
        """(body, content type) or an IngestError saying what went wrong, within ``timeout`` seconds."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise IngestError(url, "is not an http(s) URL", SkipCode.INVALID)
        stop = threading.Event()
        outcome: dict[str, Any] = {}

        def fetch() -> None:
            try:
                outcome["value"] = self._follow(url, allowed, time.monotonic() + self.timeout, stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=fetch, daemon=True, name="ragkit-fetch")
        worker.start()
        worker.join(self.timeout + 0.5)  # a read blocked on a silent server ends by its own timeout, shortly after
        if worker.is_alive() or isinstance(outcome.get("error"), _Deadline):
            stop.set()
            raise IngestError(url, f"did not answer within {self.timeout:g} s", SkipCode.TIMEOUT)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def _follow(self, url: str, allowed: Sequence[str], deadline: float, stop: threading.Event) -> tuple[bytes, str]:
        import httpx

        for _ in range(self.max_redirects + 1):
            address = self._checked_address(url)
            try:
                with httpx.Client(timeout=max(0.1, deadline - time.monotonic()), follow_redirects=False) as client:
                    target = httpx.URL(url)
                    request = client.build_request(
                        "GET", target.copy_with(host=address),
                        headers={"Host": target.netloc.decode("ascii"), "User-Agent": self.user_agent},
                        extensions={"sni_hostname": target.host})
                    response = client.send(request, stream=True)
                    try:
                        if response.is_redirect:
                            url = str(target.join(response.headers["location"]))
                            continue
                        return self._body(url, response, allowed, deadline, stop)
                    finally:
                        response.close()
            except httpx.TimeoutException as exc:
                raise _Deadline() from exc
            except httpx.HTTPError as exc:
                raise IngestError(url, f"could not be fetched ({type(exc).__name__}: {exc})",
                                  SkipCode.UNREADABLE) from exc
        raise IngestError(url, f"redirects more than {self.max_redirects} times", SkipCode.UNREADABLE)

    def _body(self, url: str, response: Any, allowed: Sequence[str], deadline: float,
              stop: threading.Event) -> tuple[bytes, str]:
        if response.status_code >= 400:
            raise IngestError(url, f"answered HTTP {response.status_code}", SkipCode.UNREADABLE)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in allowed:
            raise IngestError(url, f"has content type {content_type or '(none)'!r}, not one of: "
                              f"{', '.join(allowed)}", SkipCode.UNSUPPORTED_TYPE)
        declared = int(response.headers.get("content-length") or 0)
        if declared > self.max_bytes:
            raise IngestError(url, f"is {declared} bytes, over the {self.max_bytes}-byte cap", SkipCode.TOO_LARGE)
        body = bytearray()
        for piece in response.iter_bytes():
            if stop.is_set() or time.monotonic() > deadline:
                raise _Deadline()
            body.extend(piece)
            if len(body) > self.max_bytes:
                raise IngestError(url, f"is over the {self.max_bytes}-byte cap", SkipCode.TOO_LARGE)
        return bytes(body), content_type

    def _checked_address(self, url: str) -> str:
        """The address to connect to for ``url``'s host: every address it resolves to must be allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise IngestError(url, "is not an http(s) URL", SkipCode.INVALID)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            resolved = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)}
        except (socket.gaierror, UnicodeError) as exc:
            raise IngestError(url, f"names a host that does not resolve ({exc})", SkipCode.UNREADABLE) from exc
        for address in sorted(resolved):
            refused = self._refusal(ipaddress.ip_address(address.split("%")[0]))
            if refused:
                raise IngestError(url, f"resolves to {address}, {refused}; ragkit does not fetch from it unless "
                                  "Fetcher(allow_networks=[...]) includes it", SkipCode.FORBIDDEN)
        return sorted(resolved)[0]

    def _refusal(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """Why an address may not be fetched from, or None."""
        if any(address in network for network in self._networks):
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return self._refusal(address.ipv4_mapped)
        for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
            if getattr(address, f"is_{kind}"):
                return f"a {kind.replace('_', '-')} address"
        return None if address.is_global else "not a public address"


class _Deadline(Exception):
    """The fetch ran out of time."""


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
