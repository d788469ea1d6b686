"""Loading a BEIR-format folder: ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]``, ``qrels/<split>.tsv``."""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from ragkit.errors import DatasetError
from ragkit.records import Document


@dataclass(frozen=True)
class BeirDataset:
    corpus: dict[str, Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a query's gold answer strings, if given


def _open(folder: Path, stem: str) -> IO[str]:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        path = folder / name
        if path.exists():
            return gzip.open(path, "rt", encoding="utf-8") if name.endswith(".gz") else path.open(encoding="utf-8")
    raise DatasetError(f"{folder} has no {stem}.jsonl or {stem}.jsonl.gz; is it a BEIR folder?")


def _records(folder: Path, stem: str) -> Iterator[dict]:
    with _open(folder, stem) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{folder / stem}.jsonl line {number} is not JSON: {exc}") from exc


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Documents keyed by corpus id (title and text joined), the judged queries of ``split``, their qrels, and their
    gold answers where ``metadata.answer`` gives them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"BEIR folder {folder} does not exist")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise DatasetError(f"{qrels_path} does not exist; splits available: {', '.join(available) or 'none'}")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].lstrip("-").isdigit():
                continue  # the header line, or a blank one
            if int(row[2]) > 0:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    corpus = {}
    for record in _records(folder, "corpus"):
        title, text = record.get("title") or "", record.get("text") or ""
        doc_id = str(record["_id"])
        corpus[doc_id] = Document(doc_id, f"{title}\n\n{text}" if title else text, {"title": title})
    queries, answers = {}, {}
    for record in _records(folder, "queries"):
        if (query := str(record["_id"])) in qrels:
            queries[query] = record["text"]
            metadata = record.get("metadata")
            gold = metadata.get("answer") if isinstance(metadata, dict) else None  # HotpotQA's BEIR queries have it
            if gold and isinstance(gold, (str, list)):
                answers[query] = tuple(gold) if isinstance(gold, list) else (str(gold),)
    missing = set(qrels) - set(queries)
    if missing:
        raise DatasetError(f"{len(missing)} judged queries of split '{split}' have no text in queries.jsonl")
    return BeirDataset(corpus, queries, qrels, answers)
