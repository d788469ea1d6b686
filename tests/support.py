"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ragkit.embed import SentenceTransformerEmbedder
from ragkit.fusion import reciprocal_rank_fusion
from ragkit.records import Document
from ragkit.sparse import BM25Encoder

TOPICS = {
    "vacation.md": "# Vacation\n\nEmployees receive 25 days of paid vacation per year. Unused vacation days can be "
    "carried over until the end of March of the following year.",
    "expenses.md": "# Travel expenses\n\nHotel costs are reimbursed up to 180 euros per night in Europe. Receipts "
    "must be submitted within 30 days of the trip through the finance portal.",
    "oncall.txt": "The on-call engineer must acknowledge a page within 15 minutes. If nobody acknowledges within "
    "30 minutes, the alert escalates to the team lead automatically.",
    "security.txt": "Passwords must be at least 14 characters long and are rotated only after a suspected "
    "compromise. Hardware security keys are mandatory for production access.",
}


def write_corpus(folder: Path, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or TOPICS).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def small_beir(scifact: Path, folder: Path, queries: int = 12, distractors: int = 60) -> Path:
    """A BEIR folder with the first test queries of SciFact, their relevant abstracts, and distractors."""
    qrels = [line.split("\t") for line in (scifact / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    chosen = list(dict.fromkeys(q for q, _, _ in qrels))[:queries]
    kept = [row for row in qrels if row[0] in chosen]
    wanted = {doc for _, doc, _ in kept}
    corpus = []
    with gzip.open(scifact / "corpus.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            if record["_id"] in wanted or len(corpus) < len(wanted) + distractors:
                corpus.append(line)
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(corpus))
    (folder / "queries.jsonl").write_text("".join(
        line + "\n" for line in (scifact / "queries.jsonl").read_text().splitlines()
        if json.loads(line)["_id"] in chosen
    ))
    rows = "".join("\t".join(r) + "\n" for r in kept)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    return folder


def expected_hybrid_order(kb, query: str, depth: int = 50) -> list[str]:
    """The chunk ids a hybrid search should return, recomputed from the dense and BM25 rankings with Qdrant's RRF
    (ranks from 0); exact ties go to the higher dense score, then the higher BM25 score, then the id."""
    scores = {mode: {h.chunk_id: h.score for h in kb.search(query, k=depth, mode=mode)} for mode in ("dense", "sparse")}
    fused = reciprocal_rank_fusion({mode: list(ranked) for mode, ranked in scores.items()}, k=60, first_rank=0)
    return [chunk_id for chunk_id, _ in sorted(fused, key=lambda p: (
        -round(p[1], 6), *(-scores[mode].get(p[0], float("-inf")) for mode in ("dense", "sparse")), p[0]))]


class CountingEmbedder:
    """Wraps a real embedder and counts the texts it embeds, to prove that unchanged content is not re-embedded."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self._inner = inner
        self.embedded: list[str] = []

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def max_tokens(self) -> int:
        return self._inner.max_tokens

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self._inner.token_spans(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._inner.embed_query(text)


class ChatServer:
    """A local server speaking the chat-completions protocol; ``reply(request_json)`` makes the content."""

    def __init__(self, reply):
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = json.dumps({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply(body)}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()


class FileServer:
    """A local HTTP server that serves ``files`` (URL path -> bytes), honouring ``Range: bytes=N-`` as a hub or Maven
    repository does; ``requests`` logs (path, Range header or None, bytes sent) and anything else is a 404."""

    def __init__(self, files: Mapping[str, bytes]):
        self.files = dict(files)
        self.requests: list[tuple[str, str | None, int]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                body = server.files.get(self.path)
                ranged = self.headers.get("Range")
                if body is None:
                    server.requests.append((self.path, ranged, 0))
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(ranged.split("=")[1].split("-")[0]) if ranged else 0
                if start >= len(body) and ranged:
                    server.requests.append((self.path, ranged, 0))
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                part = body[start:]
                server.requests.append((self.path, ranged, len(part)))
                self.send_response(206 if ranged else 200)
                self.send_header("Content-Length", str(len(part)))
                if ranged:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                self.wfile.write(part)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()


def serve_site(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """The small web site of ``tests/docs_fixtures/site`` (its HTML pages), copied into ``folder`` and served on
    loopback with a ``sitemap.xml`` that lists every page; (the server, its URL). Stop it with ``server.shutdown()``
    and ``server.server_close()``."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    shutil.copytree(Path(__file__).resolve().parent / "docs_fixtures" / "site", folder, dirs_exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    pages = sorted(path.name for path in folder.glob("*.html"))
    (folder / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "".join(f"  <url><loc>{url}/{name}</loc></url>\n" for name in pages) + "</urlset>\n", encoding="utf-8")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url


@dataclass
class FixedStatistics:
    """Corpus statistics given by hand (a ``ragkit.sparse.CorpusStatistics``): ``frequencies`` per term id, else
    ``default`` for any term."""

    chunks: int
    frequencies: Mapping[int, int] = field(default_factory=dict)
    default: int | None = None
    encoder: BM25Encoder = field(default_factory=BM25Encoder)

    def chunk_count(self) -> int:
        return self.chunks

    def document_frequencies(self, terms: Sequence[int]) -> dict[int, int]:
        found = {t: self.frequencies.get(t, self.default) for t in terms}
        return {t: n for t, n in found.items() if n}


@dataclass(frozen=True)
class MisbehavingItem:
    """A source whose load misbehaves as a hostile file would make a parser: it ``hangs``, ``swells`` (allocates
    without end), ``crashes`` the process, or is ``fine``. It lives here so the worker process can import it (with
    the tests folder on its PYTHONPATH)."""

    source: str
    behaviour: str

    def fingerprint(self) -> str:
        return self.source + self.behaviour

    def load(self) -> Document:
        import os
        import time

        if self.behaviour == "hangs":
            time.sleep(3600)
        elif self.behaviour == "swells":
            hoard = []
            while True:
                hoard.append(bytearray(64 * 2**20))
        elif self.behaviour == "crashes":
            os._exit(9)
        return Document(self.source, f"The {self.source} note says the cafeteria opens at 7:30 on weekdays.")
