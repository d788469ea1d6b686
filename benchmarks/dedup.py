"""Inject near-copies (small edits) of corpus documents and measure how many the cleaning stage removes.

    python benchmarks/dedup.py --beir "$RAGKIT_DATASETS/scifact_beir" --seed 0 --json

Originals are registered first, then the copies; a removed copy is a true positive, a removed original a false one
(it may also be a real duplicate inside the corpus — the examples show which).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

from _common import emit, parser

from ragkit import CleaningConfig, Document, IngestError
from ragkit.cleaning import Cleaner, DuplicateFinder
from ragkit.errors import SkipCode
from ragkit.eval.beir import load_beir
from ragkit.registry import DocumentWrite, Registry
from ragkit.text import split_sentences

BOILERPLATE = ("Copyright © 2019 The Authors. Published by Elsevier Inc. All rights reserved.",
               "This is a preprint; it has not been peer reviewed.")


def _substitute_words(text: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    words = text.split(" ")
    for index in rng.sample(range(len(words)), max(1, len(words) * 3 // 100)):
        words[index] = rng.choice(vocabulary)
    return " ".join(words)


def _typos(text: str, rng: random.Random, _: Sequence[str]) -> str:
    words = text.split(" ")
    for index in rng.sample(range(len(words)), max(1, len(words) * 3 // 100)):
        word = words[index]
        if len(word) > 3:
            i = rng.randrange(len(word) - 1)
            words[index] = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return " ".join(words)


def _drop_sentence(text: str, rng: random.Random, _: Sequence[str]) -> str:
    spans = split_sentences(text)
    if len(spans) < 5:
        return _typos(text, rng, _)
    start, end = spans[rng.randrange(1, len(spans))]
    return (text[:start] + text[end:]).strip()


def _add_boilerplate(text: str, rng: random.Random, _: Sequence[str]) -> str:
    return f"{text}\n\n{rng.choice(BOILERPLATE)}"


def _reformat(text: str, rng: random.Random, _: Sequence[str]) -> str:
    return "\n".join(line.upper() if rng.random() < 0.3 else line for line in text.replace(". ", ".\n").split("\n"))


EDITS: dict[str, Callable[[str, random.Random, Sequence[str]], str]] = {
    "substitute_3pct_words": _substitute_words,
    "typos_3pct_words": _typos,
    "drop_one_sentence": _drop_sentence,
    "add_boilerplate": _add_boilerplate,
    "reflow_and_case": _reformat,
}


def near_copies(corpus: Sequence[Document], fraction: float, seed: int) -> list[tuple[Document, str, str]]:
    """(copy, original source, edit name) for a random ``fraction`` of the corpus, one random edit each."""
    rng = random.Random(seed)
    vocabulary = [word for document in corpus[:500] for word in document.text.split()]
    chosen = rng.sample(list(corpus), int(len(corpus) * fraction))
    copies = []
    for number, original in enumerate(chosen):
        edit = rng.choice(sorted(EDITS))
        text = EDITS[edit](original.text, rng, vocabulary)
        copy = Document(f"copy-{number}:{original.source}", text, dict(original.metadata))
        copies.append((copy, original.source, edit))
    return copies


def evaluate_dedup(corpus: Sequence[Document], *, fraction: float = 0.1, seed: int = 0,
                   config: CleaningConfig | None = None) -> dict:
    config = config or CleaningConfig()
    copies = near_copies(corpus, fraction, seed)
    cleaner = Cleaner(config)
    removed_originals: list[str] = []
    caught: Counter[str] = Counter()
    injected = Counter(edit for _, _, edit in copies)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ragkit-dedup-") as scratch:
        registry = Registry(Path(scratch) / "registry.sqlite")
        finder = DuplicateFinder(config, registry.duplicates)
        stream = [(document, None) for document in corpus] + [(copy, edit) for copy, _, edit in copies]
        batch: list[DocumentWrite] = []
        for document, edit in stream:
            try:
                cleaned = cleaner.clean(document)
                keys = finder.keys(cleaned)
                finder.check(cleaned, keys)
            except IngestError as exc:
                if exc.code in (SkipCode.EXACT_DUPLICATE, SkipCode.NEAR_DUPLICATE):
                    if edit is None:
                        removed_originals.append(f"{document.source}: {exc.reason}")
                    else:
                        caught[edit] += 1
                continue
            finder.remember(cleaned, keys)
            batch.append(DocumentWrite(cleaned, cleaned.fingerprint(), [], [], keys))
            if len(batch) == 256:
                registry.documents.begin_replace(batch)
                registry.documents.finish()
                finder.forget_batch()
                batch = []
        registry.close()
    seconds = time.perf_counter() - started
    removed_copies = sum(caught.values())
    removed = removed_copies + len(removed_originals)
    return {
        "originals": len(corpus),
        "copies": len(copies),
        "copies_removed": removed_copies,
        "recall": round(removed_copies / len(copies), 4) if copies else 0.0,
        "originals_removed": len(removed_originals),
        "original_removal_rate": round(len(removed_originals) / len(corpus), 4) if corpus else 0.0,
        "precision": round(removed_copies / removed, 4) if removed else 1.0,
        "recall_by_edit": {edit: round(caught[edit] / n, 4) for edit, n in sorted(injected.items())},
        "threshold": config.near_duplicate_threshold,
        "shingle_size": config.shingle_size,
        "docs_per_s": round((len(corpus) + len(copies)) / seconds, 1),
        "originals_removed_examples": removed_originals[:5],
        "seed": seed,
    }


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--fraction", type=float, default=0.1, help="share of documents copied with an edit")
    arguments.add_argument("--seed", type=int, default=0)
    arguments.add_argument("--threshold", type=float, help="near-duplicate Jaccard threshold (default: the config's)")
    args = arguments.parse_args(argv)
    corpus = list(load_beir(args.beir, args.split).corpus.values())
    config = CleaningConfig(near_duplicate_threshold=args.threshold) if args.threshold else CleaningConfig()
    return emit(evaluate_dedup(corpus, fraction=args.fraction, seed=args.seed, config=config))


if __name__ == "__main__":
    sys.exit(main())
