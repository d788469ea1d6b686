"""Ranking metrics as pure functions, matching trec_eval's definitions (tested against pytrec_eval).

``ranking`` is a list of ids, best first; ``qrels`` maps relevant ids to graded relevance (> 0 is relevant).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gains, as trec_eval's ``ndcg_cut`` (Järvelin & Kekäläinen, 2002)."""
    gains = sorted((rel for rel in qrels.values() if rel > 0), reverse=True)
    ideal = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains[:k]))
    if ideal == 0:
        return 0.0
    dcg = sum(max(qrels.get(item, 0), 0) / math.log2(rank + 2) for rank, item in enumerate(ranking[:k]))
    return dcg / ideal


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = {item for item, rel in qrels.items() if rel > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    for rank, item in enumerate(ranking[:k], start=1):
        if qrels.get(item, 0) > 0:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation, as numpy's default."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def evaluate_run(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], *,
    recall_ks: Sequence[int] = (2, 5, 10, 100)
) -> dict[str, float]:
    """Mean metrics over the queries of ``qrels`` (a query missing from ``run`` counts as an empty ranking)."""
    if not qrels:
        return {}
    names = ["ndcg@10", "mrr@10", *(f"recall@{k}" for k in recall_ks)]
    totals = dict.fromkeys(names, 0.0)
    for query_id, judged in qrels.items():
        ranking = run.get(query_id, [])
        totals["ndcg@10"] += ndcg_at_k(ranking, judged, 10)
        totals["mrr@10"] += mrr_at_k(ranking, judged, 10)
        for k in recall_ks:
            totals[f"recall@{k}"] += recall_at_k(ranking, judged, k)
    return {name: round(total / len(qrels), 4) for name, total in totals.items()}
