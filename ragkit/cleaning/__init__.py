"""The cleaning stage: repair text, drop page furniture, filter low-information and duplicate documents.

On by default and conservative; every removal is an ``IngestError`` with a ``SkipCode`` and a sentence saying why,
which the ingest report counts per reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, Sequence

import numpy as np

from ragkit.cleaning import minhash
from ragkit.cleaning.normalize import normalize_text
from ragkit.cleaning.quality import is_spaced_out, low_information_reason
from ragkit.errors import IngestError
from ragkit.records import Document, ElementKind, SkipCode, stable_hash
from ragkit.settings import CleaningConfig

__all__ = ["Cleaner", "DedupKeys", "DuplicateFinder", "DuplicateStore", "normalize_text"]


class Cleaner:
    """Repairs a document's text element by element and refuses documents with too little information."""

    def __init__(self, config: CleaningConfig) -> None:
        self.config = config

    def _normalize(self, text: str, kind: ElementKind = ElementKind.TEXT) -> str:
        c = self.config
        if kind is ElementKind.CODE:  # markup and indentation in code are content
            return normalize_text(text, mojibake=c.fix_mojibake, markup=False, unicode_form=c.unicode_form,
                                  whitespace=False).strip("\n")
        return normalize_text(text, mojibake=c.fix_mojibake, markup=c.strip_markup, unicode_form=c.unicode_form)

    def clean(self, document: Document) -> Document:
        if not self.config.enabled:
            return document
        if document.elements:
            furniture = {ElementKind.HEADER, ElementKind.FOOTER} if self.config.drop_headers_footers else set()
            parts = [
                (self._normalize(document.text[e.start : e.end], e.kind), e.kind,
                 {**e.metadata, "page": e.page, "depth": e.depth})
                for e in document.elements
                if e.kind not in furniture
            ]
            if self.config.drop_spaced_out:
                prose = (ElementKind.TITLE, ElementKind.TEXT)
                parts = [part for part in parts if not (part[1] in prose and is_spaced_out(part[0]))]
            cleaned = Document.from_elements(document.source, parts, document.metadata)
        else:
            cleaned = replace(document, text=self._normalize(document.text))
        c = self.config
        reason = low_information_reason(
            cleaned.text,
            min_chars=c.min_chars,
            max_duplicate_line_fraction=c.max_duplicate_line_fraction,
            min_word_entropy=c.min_word_entropy,
            min_alphanumeric_fraction=c.min_alphanumeric_fraction,
        )
        if reason is not None:
            code = SkipCode.EMPTY if not cleaned.text.strip() else SkipCode.LOW_INFORMATION
            raise IngestError(document.source, f"has {reason}" if code is SkipCode.LOW_INFORMATION else
                              "has no text after cleaning", code)
        return cleaned


@dataclass(frozen=True)
class DedupKeys:
    """What identifies a document's content for duplicate detection."""

    text_hash: str
    signature: np.ndarray
    bands: tuple[int, ...]


class DuplicateStore(Protocol):
    """Where already-indexed documents' keys are looked up (the registry)."""

    def source_with_text_hash(self, text_hash: str, exclude_doc_id: str) -> str | None: ...

    def near_candidates(self, bands: Sequence[int], exclude_doc_id: str) -> list[tuple[str, np.ndarray]]: ...


class DuplicateFinder:
    """Finds exact (same cleaned text) and near (MinHash Jaccard ≥ threshold) duplicates among the indexed
    documents and those accepted earlier in the same ingest."""

    def __init__(self, config: CleaningConfig, store: DuplicateStore) -> None:
        self.config = config
        self._store = store
        self._a, self._b = minhash.permutations(config.num_perm)
        self._batch_hashes: dict[str, str] = {}
        self._batch_bands: dict[tuple[int, int], list[tuple[str, str, np.ndarray]]] = {}

    def keys(self, document: Document) -> DedupKeys:
        text_hash = stable_hash("text", document.text)
        sig = minhash.signature(minhash.shingles(document.text, self.config.shingle_size), self._a, self._b)
        return DedupKeys(text_hash, sig, tuple(minhash.band_hashes(sig, self.config.bands)))

    def check(self, document: Document, keys: DedupKeys) -> None:
        """Raise IngestError (exact or near duplicate) if the document repeats one already accepted."""
        c = self.config
        if not c.enabled:
            return
        if c.exact_duplicates:
            original = self._batch_hashes.get(keys.text_hash) or self._store.source_with_text_hash(
                keys.text_hash, document.id
            )
            if original is not None and original != document.source:
                raise IngestError(document.source, f"is an exact duplicate of {original}", SkipCode.EXACT_DUPLICATE)
        if c.near_duplicates:
            candidates = self._store.near_candidates(keys.bands, document.id) + [
                (source, sig)
                for band, value in enumerate(keys.bands)
                for doc_id, source, sig in self._batch_bands.get((band, value), [])
                if doc_id != document.id
            ]
            best = max(((minhash.estimated_jaccard(keys.signature, sig), source) for source, sig in candidates),
                       default=(0.0, ""))
            if best[0] >= c.near_duplicate_threshold:
                raise IngestError(
                    document.source,
                    f"is a near-duplicate of {best[1]} (estimated Jaccard similarity {best[0]:.2f})",
                    SkipCode.NEAR_DUPLICATE,
                )

    def remember(self, document: Document, keys: DedupKeys) -> None:
        """Count an accepted document for the rest of this ingest (until it is in the registry)."""
        self._batch_hashes[keys.text_hash] = document.source
        for band, value in enumerate(keys.bands):
            self._batch_bands.setdefault((band, value), []).append((document.id, document.source, keys.signature))

    def forget_batch(self) -> None:
        self._batch_hashes.clear()
        self._batch_bands.clear()
