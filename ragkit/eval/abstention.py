"""``ragkit eval abstention``: does ``ask`` know when the knowledge base cannot answer?

Three protocols, one report shape:

- **removed evidence** (a BEIR folder): the relevant documents of a random fraction of the queries are deleted from
  the knowledge base, so similar but non-answering documents remain; a query is answerable if any of its relevant
  documents is still there;
- **MTRAG-UN** (``reference.jsonl``): the reference passages are the corpus, the last user turn is the question
  (asked with the conversation's earlier turns as ``history``, or alone with ``last_turn_only``), and each task's
  label (answerable / unanswerable / underspecified / partial) names the status it should get;
- **SQuAD 2.0** (a SQuAD-format JSON): the paragraphs are the corpus; unanswerable questions ask about the same
  articles — the hard case.

Every report has ``auroc`` (of the calibrated confidence, answerable vs not), ``no_answer_recall`` and
``false_abstention_rate`` (an abstention is ``no_answer`` or ``clarify``) and the count of each status. Where the
questions come with short gold answers (SQuAD, HotpotQA's BEIR queries), ``answer_text`` says how often the
extractive answer quotes one (``answer_quality``). With ``cross_fit`` folds, ``cross_fitted`` says what calibrating on
the corpus's own labelled questions (``ragkit calibrate``) buys, measured on questions the calibrator did not see.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import string
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from ragkit.answer import Calibrator, Turn, auroc
from ragkit.answer.calibrator import cross_fitted
from ragkit.embed import Embedder
from ragkit.errors import DatasetError
from ragkit.eval.beir import BeirDataset
from ragkit.kb import KnowledgeBase
from ragkit.progress import Progress, ProgressCallback, Stage
from ragkit.records import Answer, AnswerStatus, Document
from ragkit.settings import KBConfig, RetrievalConfig

_ABSTAIN = (AnswerStatus.NO_ANSWER, AnswerStatus.CLARIFY)


def removed_evidence(dataset: BeirDataset, fraction: float, seed: int) -> tuple[set[str], dict[str, bool]]:
    """The documents to delete (all relevant documents of a random ``fraction`` of the queries), and whether each
    query stays answerable (some relevant document of it survives)."""
    if not 0.0 <= fraction <= 1.0:
        raise DatasetError(f"--remove-fraction must be between 0 and 1, got {fraction}")
    queries = sorted(dataset.qrels)
    chosen = random.Random(seed).sample(queries, round(fraction * len(queries)))
    removed = {doc for query in chosen for doc in dataset.qrels[query]}
    answerable = {query: any(doc not in removed for doc in dataset.qrels[query]) for query in queries}
    return removed, answerable


def report(confidences: Sequence[float], statuses: Sequence[AnswerStatus], answerable: Sequence[bool],
           threshold: float) -> dict:
    abstained = [status in _ABSTAIN for status in statuses]
    unanswerable = [not a for a in answerable]
    negatives, positives = sum(unanswerable), sum(answerable)
    return {
        "questions": len(statuses),
        "answerable": positives,
        "unanswerable": negatives,
        "auroc": round(auroc(confidences, answerable), 4),
        "threshold": round(threshold, 4),
        "no_answer_recall": _share(abstained, unanswerable),
        "false_abstention_rate": _share(abstained, answerable),
        "statuses": dict(Counter(status.value for status in statuses)),
        "no_answer_recall_at_false_abstention": operating_points(confidences, answerable),
    }


def operating_points(confidences: Sequence[float], answerable: Sequence[bool],
                     rates: Sequence[float] = (0.05, 0.1, 0.2)) -> dict[str, float]:
    """What the confidence alone could do with a threshold chosen on these very questions (an upper bound, not the
    default threshold): the share of unanswerable questions below the threshold that refuses at most ``rate`` of the
    answerable ones."""
    positives = sorted(c for c, a in zip(confidences, answerable) if a)
    negatives = [c for c, a in zip(confidences, answerable) if not a]
    if not positives or not negatives:
        return {}
    points = {}
    for rate in rates:
        threshold = positives[int(rate * len(positives))]  # refuses the answerable ones strictly below it
        points[f"{rate:.0%}"] = round(sum(c < threshold for c in negatives) / len(negatives), 4)
    return points


_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def _normalized(text: str) -> str:
    """SQuAD's answer normalization: lower case, no punctuation or articles, single spaces — padded with spaces, so
    that containment is of whole words."""
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return " " + " ".join(_ARTICLES.sub(" ", text).split()) + " "


def answer_quality(answers: Mapping[str, Answer], gold: Mapping[str, Sequence[str]]) -> dict:
    """Does the extractive answer quote the gold answer? Over the questions that have a gold answer string (yes/no
    answers left out) and got ``answered`` or ``partial``: the share whose answer text contains one, whose first
    quoted sentence does, and whose evidence does anywhere (what the choice of sentences could reach); and how many
    sentences an answer quotes on average."""
    ids = [q for q, strings in gold.items() if q in answers
           and answers[q].status in (AnswerStatus.ANSWERED, AnswerStatus.PARTIAL)
           and any(_normalized(s).strip() not in ("", "yes", "no") for s in strings)]

    wanted = {q: [_normalized(g) for g in gold[q] if _normalized(g).strip()] for q in ids}

    def share(texts: Callable[[Answer], Sequence[str]]) -> float | None:
        found = [any(g in _normalized(t) for t in texts(answers[q]) for g in wanted[q]) for q in ids]
        return round(sum(found) / len(found), 4) if found else None

    return {"questions": len(ids),
            "in_text": share(lambda a: [a.text]),
            "in_first_quote": share(lambda a: [a.citations[0].quote] if a.citations else []),
            "in_evidence": share(lambda a: [hit.text for hit in a.evidence]),
            "quotes_per_answer": round(sum(len(answers[q].citations) for q in ids) / len(ids), 2) if ids else None}


def _share(flags: Sequence[bool], among: Sequence[bool]) -> float | None:
    """The share of ``among`` that ``flags`` marks (None when ``among`` is empty)."""
    total = sum(among)
    return round(sum(f and a for f, a in zip(flags, among)) / total, 4) if total else None


def _open_copy(kb_dir: str | Path | None, scratch: Path, corpus: Sequence[Document], config: KBConfig | None,
               embedder: Embedder | None, retrieval: RetrievalConfig | None = None,
               progress: ProgressCallback | None = None) -> tuple[KnowledgeBase, float]:
    """A knowledge base of the whole corpus in ``scratch``: copied from ``kb_dir`` if it holds one (building it there
    first if not), so deletions never touch the kept one. Returns it and the build seconds (0 when reused)."""
    target = scratch / "kb"
    build_s = 0.0
    if kb_dir is not None:
        kept = Path(kb_dir)
        if not (kept / "registry.sqlite").exists():
            started = time.perf_counter()
            with KnowledgeBase.open(kept, config, embedder=embedder) as kb:
                kb.ingest(list(corpus), batch_size=256, progress=progress)
            build_s = time.perf_counter() - started
        shutil.copytree(kept, target, ignore=shutil.ignore_patterns(".lock"))
        return KnowledgeBase.open(target, embedder=embedder, retrieval=retrieval), build_s
    started = time.perf_counter()
    kb = KnowledgeBase.open(target, config, embedder=embedder, retrieval=retrieval)
    kb.ingest(list(corpus), batch_size=256, progress=progress)
    return kb, time.perf_counter() - started


@dataclass(frozen=True)
class _Run:
    answers: dict[str, Answer]
    threshold: float
    build_s: float
    ask_p50_ms: float
    deleted: int
    embedder: str


def _ask_on_copy(kb_dir: str | Path | None, corpus: Sequence[Document], questions: Mapping[str, str], *,
                 config: KBConfig | None, embedder: Embedder | None, k: int, calibrator: Calibrator | None,
                 retrieval: RetrievalConfig | None = None, delete: Sequence[str] = (),
                 histories: Mapping[str, Sequence[Turn]] | None = None,
                 progress: ProgressCallback | None = None) -> _Run:
    """Every question asked of a throwaway copy of the whole-corpus knowledge base, after deleting ``delete``;
    ``calibrator`` (if given) replaces the knowledge base's own; ``retrieval`` sets fusion and reranker;
    ``histories`` holds conversations' earlier turns."""
    with tempfile.TemporaryDirectory(prefix="ragkit-abstain-") as scratch:
        kb, build_s = _open_copy(kb_dir, Path(scratch), corpus, config, embedder, retrieval, progress)
        tracker = Progress(progress)
        tracker.total(Stage.ASK, len(questions))
        with kb:
            deleted = kb.delete_many(delete) if delete else 0
            if calibrator is not None:
                kb.calibrator = calibrator
            answers, latencies = {}, []
            for query_id, text in questions.items():
                started = time.perf_counter()
                answers[query_id] = kb.ask(text, k=k, history=(histories or {}).get(query_id, ()))
                latencies.append((time.perf_counter() - started) * 1000.0)
                tracker.advance(Stage.ASK)
            tracker.finish()
            threshold = kb.calibrator.threshold
    p50 = round(sorted(latencies)[len(latencies) // 2], 1) if latencies else 0.0
    return _Run(answers, threshold, build_s, p50, deleted, kb.config.embedder)


def _fit(answers: Mapping[str, Answer], labels: Mapping[str, bool], out: str | Path, description: str) -> dict:
    ids = list(answers)
    calibrator = Calibrator.fit([answers[i].signals for i in ids], [labels[i] for i in ids], fitted_on=description)
    calibrator.save(out)
    confidences = [calibrator.probability(answers[i].signals) for i in ids]
    below = [c < calibrator.threshold for c in confidences]
    answerable = [labels[i] for i in ids]
    return {
        "fitted": str(out),
        "in_sample_auroc": round(auroc(confidences, answerable), 4),
        "in_sample_threshold": calibrator.threshold,
        "in_sample_no_answer_recall": round(sum(b and not a for b, a in zip(below, answerable))
                                            / max(1, answerable.count(False)), 4),
        "weights": dict(zip(calibrator.features, calibrator.weights)),
    }


def evaluate_removed_evidence(dataset: BeirDataset, *, name: str, remove_fraction: float = 0.5, seed: int = 0,
                              kb_dir: str | Path | None = None, config: KBConfig | None = None,
                              embedder: Embedder | None = None, k: int = 5, calibrator: Calibrator | None = None,
                              retrieval: RetrievalConfig | None = None, fit: str | Path | None = None,
                              cross_fit: int = 0, progress: ProgressCallback | None = None) -> dict:
    removed, answerable = removed_evidence(dataset, remove_fraction, seed)
    questions = {query: dataset.queries[query] for query in answerable if query in dataset.queries}
    run = _ask_on_copy(kb_dir, list(dataset.corpus.values()), questions, config=config, embedder=embedder, k=k,
                       calibrator=calibrator, retrieval=retrieval, delete=sorted(removed), progress=progress)
    answers = run.answers
    # The ceiling retrieval sets: an answerable question whose relevant documents are not among the evidence looks
    # unanswerable to any judge of that evidence.
    retrieved = [any(hit.source in dataset.qrels[q] for hit in answers[q].evidence) for q in questions]
    labels = [answerable[q] for q in questions]
    result = {
        "input": name,
        "embedder": run.embedder,
        "protocol": f"removed evidence: relevant documents of {remove_fraction:.0%} of the queries deleted "
                    f"(seed {seed})",
        "documents_deleted": run.deleted,
        **report([answers[q].confidence for q in questions], [answers[q].status for q in questions],
                 [answerable[q] for q in questions], run.threshold),
        "rewritten": sum(answers[q].rewritten_query is not None for q in questions),
        "answerable_with_evidence_retrieved": _share(retrieved, labels),
        "oracle_auroc": round(auroc([float(r) for r in retrieved], labels), 4),
        **({"answer_text": answer_quality(answers, {q: dataset.answers[q] for q in questions
                                                     if answerable[q] and q in dataset.answers})}
           if dataset.answers else {}),
        **({"cross_fitted": cross_fitted([answers[q].signals for q in questions], labels, cross_fit, seed)}
           if cross_fit else {}),
        "build_s": round(run.build_s, 1),
        "ask_p50_ms": run.ask_p50_ms,
    }
    if fit is not None:
        result.update(_fit(answers, {q: answerable[q] for q in questions}, fit,
                           f"{Path(name).name}, {result['protocol']}, {len(questions)} questions, "
                           f"embedder {run.embedder}"))
    return result


def _mtrag_tasks(path: Path) -> Iterator[dict]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield json.loads(line)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read MTRAG-UN tasks from {path} ({exc}); pass its reference.jsonl") from exc


_EXPECTED = {"ANSWERABLE": AnswerStatus.ANSWERED, "UNANSWERABLE": AnswerStatus.NO_ANSWER,
             "UNDERSPECIFIED": AnswerStatus.CLARIFY, "PARTIAL": AnswerStatus.PARTIAL}


def evaluate_mtrag(path: str | Path, *, kb_dir: str | Path | None = None, config: KBConfig | None = None,
                   embedder: Embedder | None = None, k: int = 5, calibrator: Calibrator | None = None,
                   retrieval: RetrievalConfig | None = None, last_turn_only: bool = False, cross_fit: int = 0,
                   seed: int = 0, progress: ProgressCallback | None = None) -> dict:
    """Per-category status accuracy on MTRAG-UN: the last user turn asked with the conversation before it as
    ``history`` (``last_turn_only``: asked alone)."""
    tasks = list(_mtrag_tasks(Path(path)))
    corpus = {c["document_id"]: Document(c["document_id"], c["text"].strip()) for t in tasks for c in t["contexts"]}
    questions, categories, histories, references = {}, {}, {}, {}
    for task in tasks:
        turns = [{"role": turn["speaker"], "content": turn["text"]} for turn in task["input"]]
        last = max((i for i, turn in enumerate(turns) if turn["role"] == "user"), default=None)
        if last is not None and task["answerability"][0] in _EXPECTED:
            questions[task["task_id"]] = turns[last]["content"].strip()
            categories[task["task_id"]] = task["answerability"][0]
            histories[task["task_id"]] = [] if last_turn_only else turns[:last]
            references[task["task_id"]] = {c["document_id"] for c in task["contexts"]}
    run = _ask_on_copy(kb_dir, list(corpus.values()), questions, config=config, embedder=embedder, k=k,
                       calibrator=calibrator, retrieval=retrieval, histories=histories, progress=progress)
    answers = run.answers
    per_category = {}
    for category, expected in _EXPECTED.items():
        ids = [i for i in questions if categories[i] == category]
        got = Counter(answers[i].status.value for i in ids)
        per_category[category.lower()] = {"questions": len(ids), "expected": expected.value,
                                          "accuracy": round(got[expected.value] / len(ids), 4) if ids else None,
                                          "statuses": dict(got)}
    ids = list(questions)
    answerable = [i for i in ids if categories[i] == "ANSWERABLE"]
    return {
        "input": str(path),
        "embedder": run.embedder,
        "protocol": "MTRAG-UN reference passages as corpus; last user turn as the question, "
                    + ("alone" if last_turn_only else "the conversation before it as history"),
        "documents": len(corpus),
        **report([answers[i].confidence for i in ids], [answers[i].status for i in ids],
                 [categories[i] != "UNANSWERABLE" for i in ids], run.threshold),
        "per_category": per_category,
        **({"cross_fitted": cross_fitted([answers[i].signals for i in ids],
                                         [categories[i] != "UNANSWERABLE" for i in ids], cross_fit, seed)}
           if cross_fit else {}),
        # A reference passage of the task among the evidence: did retrieval find what the question is about?
        "answerable_with_reference_retrieved": round(
            sum(any(hit.source in references[i] for hit in answers[i].evidence) for i in answerable)
            / max(1, len(answerable)), 4),
        "build_s": round(run.build_s, 1),
        "ask_p50_ms": run.ask_p50_ms,
    }


def evaluate_squad2(path: str | Path, *, kb_dir: str | Path | None = None, config: KBConfig | None = None,
                    embedder: Embedder | None = None, k: int = 5, calibrator: Calibrator | None = None,
                    retrieval: RetrievalConfig | None = None, cross_fit: int = 0, seed: int = 0,
                    progress: ProgressCallback | None = None) -> dict:
    """SQuAD 2.0: every paragraph a document; answerable = the question has an answer in its paragraph."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"cannot read SQuAD 2.0 JSON from {path} ({exc})") from exc
    corpus, questions, answerable, gold = {}, {}, {}, {}
    for article in data:
        for number, paragraph in enumerate(article["paragraphs"]):
            source = f"{article['title']}#{number}"
            corpus[source] = Document(source, paragraph["context"], {"title": article["title"].replace("_", " ")})
            for qa in paragraph["qas"]:
                questions[qa["id"]] = qa["question"]
                answerable[qa["id"]] = not qa.get("is_impossible", False)
                if answerable[qa["id"]]:
                    gold[qa["id"]] = tuple(a["text"] for a in qa.get("answers", ()))
    run = _ask_on_copy(kb_dir, list(corpus.values()), questions, config=config, embedder=embedder, k=k,
                       calibrator=calibrator, retrieval=retrieval, progress=progress)
    answers = run.answers
    ids = list(questions)
    return {
        "input": str(path),
        "embedder": run.embedder,
        "protocol": "SQuAD 2.0: unanswerable questions about the same articles",
        "documents": len(corpus),
        **report([answers[i].confidence for i in ids], [answers[i].status for i in ids],
                 [answerable[i] for i in ids], run.threshold),
        "answer_text": answer_quality(answers, gold),
        **({"cross_fitted": cross_fitted([answers[i].signals for i in ids], [answerable[i] for i in ids],
                                         cross_fit, seed)} if cross_fit else {}),
        "build_s": round(run.build_s, 1),
        "ask_p50_ms": run.ask_p50_ms,
    }
