"""Real documents of every format through the file connector and unstructured, offline, into a knowledge base."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from ragkit.connectors import FileConnector
from ragkit.connectors.documents import ParseOptions, decode_html, table_text

from ragkit import KnowledgeBase, Outcome
from ragkit.errors import SkipCode

_NETWORK_EVENTS: list[tuple] = []
_AUDITING = [False]


def _audit(event: str, args: tuple) -> None:
    if _AUDITING[0] and event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        _NETWORK_EVENTS.append((event, args))


sys.addaudithook(_audit)

# A phrase per format and the file a search for it must return first.
PHRASES = [
    ("Abomination creatures arrived in the dead", "pdf/DA-1p.pdf"),
    ("Résumés et interrogations de logs de requêtes OLAP", "language-docs/fr_olap.pdf"),
    ("빅포인트 적립", "pdf/korean-text-with-tables.pdf"),
    ("Call me Ishmael", "category-level.docx"),
    ("Jahresabschluss Geschäftsjahr", "fake-html-lang-de.html"),
    ("SteelJIS Japanese steels and alloys", "example-steelJIS-datasheet-utf-16.html"),
    ("This is the first content slide", "sample-presentation.pptx"),
    ("Stanley Cups team location", "stanley-cups.xlsx"),
    ("Fake email with attachment", "eml/fake-email-attachment.eml"),
    ("Juicy Apples price in stock", "simple-table.md"),
]
EXPECTED_SKIPS = {
    "pdf/password.pdf": SkipCode.ENCRYPTED,
    "pdf/single_table.pdf": SkipCode.NEEDS_OCR,
    "pdf/table-multi-row-column-cells.pdf": SkipCode.NEEDS_OCR,
    # The same text in another encoding or format is a duplicate once parsed and cleaned.
    "example-steelJIS-datasheet.html": SkipCode.EXACT_DUPLICATE,
    "umlauts-utf8.md": SkipCode.EXACT_DUPLICATE,
    "language-docs/eng_spa_mult.html": SkipCode.EXACT_DUPLICATE,
    "language-docs/eng_spa_mult.md": SkipCode.EXACT_DUPLICATE,
}


@pytest.mark.slow  # parses all 52 sample documents
def test_all_sample_documents_are_parsed_or_skipped_with_a_reason_offline(tmp_path, embedder, datasets_dir):
    samples = datasets_dir / "ingest_docs_unstructured"
    not_samples = ("SOURCE.md", "LICENSE-*")  # the folder's own provenance notes
    connector = FileConnector(samples, exclude=not_samples)
    files = sorted(str(p) for p in samples.rglob("*") if p.is_file() and connector.owns(str(p)))
    assert len(files) == 52
    _AUDITING[0] = True
    try:
        with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
            report = kb.ingest(connector)
            assert sorted(item.source for item in report.items) == files  # one line per file
            by_name = {str(Path(item.source).relative_to(samples)): item for item in report.items}
            skipped = {name: item.code for name, item in by_name.items() if item.outcome is Outcome.SKIPPED}
            assert skipped == EXPECTED_SKIPS
            for name, item in by_name.items():
                if item.outcome is Outcome.ADDED:
                    assert item.chunks >= 1 and item.elements is not None, name
                else:
                    assert item.reason, name
            assert by_name["example-10k.html"].elements > 400
            for phrase, expected in PHRASES:
                top = kb.search(phrase, k=3, mode="sparse")[0]
                assert top.source == str(samples / expected), (phrase, top.source)
            for phrase, expected in PHRASES[:4]:
                assert kb.search(phrase, k=5, mode="hybrid")[0].source == str(samples / expected), phrase
    finally:
        _AUDITING[0] = False
    assert _NETWORK_EVENTS == []


def test_structure_is_kept_as_elements(datasets_dir):
    samples = datasets_dir / "ingest_docs_unstructured"
    docx = FileConnector(samples / "category-level.docx").items().__next__().load()
    titles = [(e.depth, docx.text[e.start:e.end]) for e in docx.elements if e.kind.value == "title"]
    assert titles and all(depth is not None for depth, _ in titles)
    pptx = next(FileConnector(samples / "sample-presentation.pptx").items()).load()
    assert {e.page for e in pptx.elements} >= {1, 2, 3}
    xlsx = next(FileConnector(samples / "stanley-cups.xlsx").items()).load()
    table = next(e for e in xlsx.elements if e.kind.value == "table")
    assert xlsx.text[table.start:table.end].splitlines()[0] == "Team | Location | Stanley Cups"
    assert table.metadata["text_as_html"].startswith("<table") and table.metadata["sheet"] == "Stanley Cups"
    mail = next(FileConnector(samples / "eml" / "fake-email-attachment.eml").items()).load()
    assert mail.metadata["subject"] == "Fake email with attachment"
    assert mail.text.startswith("Fake email with attachment")


def test_html_encodings_are_decoded_right(datasets_dir):
    samples = datasets_dir / "ingest_docs_unstructured"
    text, encoding = decode_html("x", (samples / "fake-html-cp1252.html").read_bytes())
    assert encoding == "cp1252"
    assert all(word in text for word in ("très", "niño", "¡Qué", "João", "åt", "15,50 €"))
    utf16, _ = decode_html("x", (samples / "example-steelJIS-datasheet-utf-16.html").read_bytes())
    utf8, _ = decode_html("x", (samples / "example-steelJIS-datasheet.html").read_bytes())
    assert utf16.lstrip("\ufeff") == utf8.lstrip("\ufeff")


def test_table_html_becomes_rows():
    html = "<table><tr><th>Team</th><th>Cups</th></tr><tr><td> Blues </td><td>1</td></tr><tr><td></td></tr></table>"
    assert table_text(html) == "Team | Cups\nBlues | 1"


def test_scanned_pdf_with_ocr(tmp_path, datasets_dir):
    scanned = datasets_dir / "ingest_docs_unstructured" / "pdf" / "single_table.pdf"
    item = next(FileConnector(scanned, options=ParseOptions(ocr=True)).items())
    assert item.fingerprint() != next(FileConnector(scanned).items()).fingerprint()  # turning OCR on re-parses
    if shutil.which("tesseract") and shutil.which("pdftoppm"):
        document = item.load()
        assert len(document.text) > 100
    else:  # the machine has no OCR engine: the file is reported with what to install
        from ragkit.errors import IngestError

        with pytest.raises(IngestError, match="tesseract") as refused:
            item.load()
        assert refused.value.code is SkipCode.NEEDS_OCR
