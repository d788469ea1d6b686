"""Rank fusion as pure functions over ranked id lists."""

from __future__ import annotations

from typing import Mapping, Sequence


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]], *, k: int = 60, weights: Mapping[str, float] | None = None,
    first_rank: int = 1,
) -> list[tuple[str, float]]:
    """Weighted reciprocal-rank fusion: ``score(d) = Σ_r w_r / (k + rank_r(d))``.

    Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual Rank Learning
    Methods", SIGIR 2009 (k = 60, ranks from 1). Qdrant, which fuses ragkit's hybrid queries, counts ranks from 0
    (``first_rank=0``). Ties keep the order in which ids were first seen, so results are stable.
    """
    if k < 0:
        raise ValueError(f"RRF k must be non-negative, got {k}")
    scores: dict[str, float] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, item in enumerate(ranking, start=first_rank):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
