"""Records, SQL, web and LlamaIndex connectors, each against a real counterpart (files, SQLite, an HTTP server)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ragkit.connectors.llamaindex import LlamaIndexConnector
from ragkit.connectors.records import RecordsConnector
from ragkit.connectors.sql import SQLConnector
from ragkit.connectors.web import Fetcher, WebConnector

from ragkit import KnowledgeBase, Outcome
from ragkit.errors import ConfigError, SkipCode


def _outcomes(report) -> dict[str, tuple[Outcome, SkipCode | None]]:
    return {item.source.rsplit("/", 1)[-1]: (item.outcome, item.code) for item in report.items}


def test_csv_json_and_jsonl_records(tmp_path, embedder):
    (tmp_path / "faq.csv").write_text(
        "id,question,answer,team\n1,How do I reset my password?,Use the self-service portal.,it\n"
        "2,Where is the office?,Berlin Mitte, next to the station.,facilities\n3,,,it\n", encoding="utf-8")
    (tmp_path / "tickets.jsonl").write_text(
        json.dumps({"key": "T-1", "body": {"summary": "VPN drops every hour", "detail": "since Monday"}}) + "\n"
        + "{not json}\n" + json.dumps({"key": "T-2", "body": {"summary": "Printer jam on floor 3"}}) + "\n")
    (tmp_path / "people.json").write_text(json.dumps([{"name": "Ada", "bio": "Ada maintains the billing service."}]))
    faq = RecordsConnector(tmp_path / "faq.csv", ["question", "answer"], id_field="id", metadata_fields=["team"])
    tickets = RecordsConnector(tmp_path / "tickets.jsonl", ["body.summary", "body.detail"], id_field="key")
    people = RecordsConnector(tmp_path / "people.json", "bio", metadata_fields=["name"])
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest([faq, tickets, people])
        assert _outcomes(report) == {
            "faq.csv#1": (Outcome.ADDED, None), "faq.csv#2": (Outcome.ADDED, None),
            "faq.csv#3": (Outcome.SKIPPED, SkipCode.EMPTY),
            "tickets.jsonl#T-1": (Outcome.ADDED, None), "tickets.jsonl#2": (Outcome.SKIPPED, SkipCode.INVALID),
            "tickets.jsonl#T-2": (Outcome.ADDED, None), "people.json#1": (Outcome.ADDED, None),
        }
        hit = kb.search("VPN connection drops", k=1)[0]
        assert hit.text == "VPN drops every hour\n\nsince Monday" and hit.source.endswith("tickets.jsonl#T-1")
        assert kb.search("password reset", k=1)[0].metadata["team"] == "it"
        # Records are synced like files: an edited row is updated, a deleted row removed.
        (tmp_path / "faq.csv").write_text("id,question,answer,team\n1,How do I reset my password?,"
                                          "Call the IT hotline on 4444.,it\n", encoding="utf-8")
        outcomes = _outcomes(kb.ingest(faq))
        assert outcomes["faq.csv#1"][0] is Outcome.UPDATED and outcomes["faq.csv#2"][0] is Outcome.REMOVED
    with pytest.raises(ConfigError, match="record format"):
        RecordsConnector(tmp_path / "faq.xml", "x")


def test_sql_rows(tmp_path, embedder):
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.begin() as db:
        db.execute(sqlalchemy.text("CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, description TEXT, "
                                   "price REAL, active INTEGER)"))
        db.execute(sqlalchemy.text("INSERT INTO products VALUES ('A1', 'Trail shoe', 'Grippy sole for wet rock.', "
                                   "120.0, 1), ('B2', 'Rain jacket', 'Three-layer membrane, taped seams.', 240.0, 1), "
                                   "('C3', 'Old tent', 'Discontinued.', 99.0, 0)"))
    connector = SQLConnector(engine, "SELECT * FROM products WHERE active = :active", ["name", "description"],
                             id_column="sku", metadata_columns=["price"], name="shop", params={"active": 1})
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        assert _outcomes(kb.ingest(connector)) == {"sql:shop:A1": (Outcome.ADDED, None),
                                                   "sql:shop:B2": (Outcome.ADDED, None)}
        hit = kb.search("waterproof jacket with taped seams", k=1)[0]
        assert hit.source == "sql:shop:B2" and hit.metadata["price"] == 240.0
        with engine.begin() as db:
            db.execute(sqlalchemy.text("UPDATE products SET active = 0 WHERE sku = 'A1'"))
        assert _outcomes(kb.ingest(connector)) == {"sql:shop:B2": (Outcome.UNCHANGED, None),
                                                   "sql:shop:A1": (Outcome.REMOVED, None)}
    with pytest.raises(ConfigError, match="no column 'body'"):
        list(SQLConnector(engine, "SELECT * FROM products", ["body"], id_column="sku").items())


def test_llamaindex_documents_and_readers(tmp_path, embedder):
    from llama_index.core import Document as LlamaDocument
    from llama_index.core import SimpleDirectoryReader

    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "guide.txt").write_text("The staging cluster is rebuilt every Sunday night.")
    documents = [LlamaDocument(text="Lunch is served from noon until two.", metadata={"source": "wiki/lunch"}),
                 LlamaDocument(text="", metadata={"source": "wiki/empty"})]
    reader = SimpleDirectoryReader(input_dir=str(tmp_path / "files"))
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest([LlamaIndexConnector(documents), LlamaIndexConnector(reader=reader)])
        assert _outcomes(report) == {"lunch": (Outcome.ADDED, None), "empty": (Outcome.SKIPPED, SkipCode.INVALID),
                                     "guide.txt": (Outcome.ADDED, None)}
        hit = kb.search("when is the staging cluster rebuilt", k=1)[0]
        assert hit.source == str(tmp_path / "files" / "guide.txt") and hit.metadata["file_name"] == "guide.txt"


class _Site(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        if self.path == "/slow":
            time.sleep(2)
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client of /slow gives up on purpose


@pytest.fixture
def site(datasets_dir):
    pdf = (datasets_dir / "ingest_docs_unstructured" / "pdf" / "DA-1p.pdf").read_bytes()
    server = _QuietServer(("127.0.0.1", 0), _Site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    _Site.routes = {
        "/guide.html": (200, "text/html; charset=utf-8", "<html><head><title>Guide</title></head><body><h1>Espresso "
                        "guide</h1><p>Grind 18 grams very fine and extract for 28 seconds.</p></body></html>".encode()),
        "/notes.txt": (200, "text/plain", b"Descale the machine every two months with citric acid."),
        "/manual.pdf": (200, "application/pdf", pdf),
        "/logo.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + bytes(100)),
        "/huge.txt": (200, "text/plain", b"x" * 5000),
        "/slow": (200, "text/plain", b"late"),
        "/sitemap.xml": (200, "application/xml", (
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f'<sitemap><loc>{base}/pages.xml</loc></sitemap></sitemapindex>').encode()),
        "/pages.xml": (200, "text/xml", (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{base}{p}</loc></url>" for p in ("/guide.html", "/notes.txt", "/manual.pdf"))
            + "</urlset>").encode()),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


def test_web_pages_and_sitemaps_with_limits(tmp_path, embedder, site):
    fetcher = Fetcher(timeout=0.5, max_bytes=4000 * 1024, allow_networks=["127.0.0.0/8"])
    bad = WebConnector([f"{site}/logo.png", f"{site}/missing", f"{site}/slow", "ftp://example.com/x"], fetcher=fetcher)
    small = WebConnector([f"{site}/huge.txt"], fetcher=Fetcher(max_bytes=1000, allow_networks=["127.0.0.0/8"]))
    with KnowledgeBase.open(tmp_path / "kb", embedder=embedder) as kb:
        report = kb.ingest([WebConnector(sitemaps=[f"{site}/sitemap.xml"], fetcher=fetcher), bad, small])
        outcomes = _outcomes(report)
        assert outcomes == {
            "guide.html": (Outcome.ADDED, None), "notes.txt": (Outcome.ADDED, None),
            "manual.pdf": (Outcome.ADDED, None), "logo.png": (Outcome.SKIPPED, SkipCode.UNSUPPORTED_TYPE),
            "missing": (Outcome.SKIPPED, SkipCode.UNREADABLE), "slow": (Outcome.SKIPPED, SkipCode.TIMEOUT),
            "x": (Outcome.SKIPPED, SkipCode.INVALID), "huge.txt": (Outcome.SKIPPED, SkipCode.TOO_LARGE),
        }
        reasons = {item.source.rsplit("/", 1)[-1]: item.reason for item in report.items}
        assert "'image/png'" in reasons["logo.png"] and "HTTP 404" in reasons["missing"]
        assert "within 0.5 s" in reasons["slow"]
        assert kb.search("how long to extract espresso", k=1)[0].source == f"{site}/guide.html"
        assert kb.search("Abomination creatures", k=1, mode="sparse")[0].source == f"{site}/manual.pdf"
        again = WebConnector([f"{site}/notes.txt"], fetcher=fetcher)
        assert _outcomes(kb.ingest(again))["notes.txt"][0] is Outcome.UNCHANGED
