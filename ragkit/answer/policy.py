"""The answerer's tuned constants, in one frozen object: where each was chosen is said beside it.

``AnswerPolicy()`` is what ragkit ships and what every number in the README was measured with (``ragkit eval
abstention``); a different policy is passed as ``Answerer(..., policy=AnswerPolicy(max_sentences=5))``. The cosine
constants (``clear_lead``, ``unrelated_cosine``, ``closeness_window``) were tuned with the PyTorch all-MiniLM-L6-v2,
the default embedder then; they have not been re-tuned for bge-small-en-v1.5, whose cosines run higher
(docs/limits.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from ragkit.errors import ConfigError


@dataclass(frozen=True)
class AnswerPolicy:
    """How confident is confident enough, when an ambiguity counts as settled, and how answer sentences are chosen."""

    # The confidence at or above which a question is answered; None: the calibrator's own, chosen when it was fitted
    # to refuse at most ~10 % of answerable questions (``Calibrator.fit``).
    threshold: float | None = None
    # A question some of whose names the evidence does not state is answered in part from this share of the
    # threshold, if the evidence states another of its names (the first answerer, 0edad9f).
    partial_share: float = 0.5
    # A dense-score lead of the best hit over the next that settles what an unnamed "it" means (0edad9f).
    clear_lead: float = 0.1
    # A follow-up whose cosine to every earlier user turn is below this has changed the subject (MiniLM; on MTRAG-UN
    # the underspecified questions with an unintroduced description sit below it, the answerable follow-ups above:
    # underspecified → clarify 25.6 % → 37.2 %, e230673).
    unrelated_cosine: float = 0.2
    # The best hits whose topics a clarifying question offers and a refusal names (0edad9f).
    named_hits: int = 3
    # Evidence sentences quoted in an extractive answer, shared between the parts of a compound question (0edad9f).
    max_sentences: int = 3
    # Sentence ranking: cosine to the question, plus these. The share of the question's term weight (IDF) a sentence
    # states (SQuAD: the first quote holds the gold answer 72.0 → 78.2 %, 9597a9f)…
    coverage_weight: float = 0.5
    # …with a term of its document's title counting at this weight, being implied, not said (HotpotQA: gold answer
    # in the text 37.2 → 39.5 %, 1376ed1)…
    title_weight: float = 0.5
    # …a number it states that the question does not, when the question asks for one (HotpotQA 41.9 → 44.2 %,
    # 0d286f8)…
    number_weight: float = 0.1
    # …less this per place its hit is below the best (with the coverage weight, 9597a9f).
    rank_penalty: float = 0.02
    # Only sentences within this much of the best score are quoted (0edad9f).
    closeness_window: float = 0.15
    # Evidence sentences' vectors (and token vectors, in float16) kept between questions: ~25 KB each at 384
    # dimensions, so ~100 MB when full (69a4071).
    sentence_cache: int = 4_000

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.max_sentences < 1:
            raise ConfigError(f"max_sentences must be at least 1, got {self.max_sentences}")
        if self.named_hits < 1:
            raise ConfigError(f"named_hits must be at least 1, got {self.named_hits}")
        if self.sentence_cache < 0:
            raise ConfigError(f"sentence_cache must be 0 or more, got {self.sentence_cache}")
