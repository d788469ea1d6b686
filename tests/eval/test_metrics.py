import random

import pytest
import pytrec_eval

from ragkit.eval.metrics import evaluate_run, mrr_at_k, ndcg_at_k, percentile, recall_at_k


def _random_case(rng: random.Random) -> tuple[dict, dict]:
    docs = [f"d{i}" for i in range(60)]
    qrels, run = {}, {}
    for q in range(40):
        judged = rng.sample(docs, rng.randint(1, 5))
        qrels[f"q{q}"] = {doc: rng.choice([1, 1, 2]) for doc in judged}
        ranking = rng.sample(docs, rng.randint(0, 50))
        run[f"q{q}"] = ranking
    return qrels, run


def test_metrics_match_pytrec_eval_on_random_runs():
    qrels, run = _random_case(random.Random(7))
    # pytrec_eval ranks by score; give strictly decreasing scores so both sides see the same order.
    scored = {q: {doc: float(len(ranking) - i) for i, doc in enumerate(ranking)} for q, ranking in run.items()}
    measures = {"ndcg_cut.10", "recall.5", "recall.10", "recall.100", "recip_rank"}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    reference = evaluator.evaluate(scored)
    for q, judged in qrels.items():
        expected = reference.get(q, {})
        assert ndcg_at_k(run[q], judged, 10) == pytest.approx(expected.get("ndcg_cut_10", 0.0), abs=1e-6)
        assert recall_at_k(run[q], judged, 5) == pytest.approx(expected.get("recall_5", 0.0), abs=1e-6)
        assert recall_at_k(run[q], judged, 100) == pytest.approx(expected.get("recall_100", 0.0), abs=1e-6)
        # trec_eval's recip_rank has no cut-off; ours at 10 agrees whenever the first hit is in the top 10.
        if expected.get("recip_rank", 0.0) >= 0.1:
            assert mrr_at_k(run[q], judged, 10) == pytest.approx(expected["recip_rank"], abs=1e-6)


def test_evaluate_run_counts_queries_without_results_as_zero():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    metrics = evaluate_run({"q1": ["a"]}, qrels)
    assert metrics["ndcg@10"] == 0.5
    assert metrics["recall@2"] == 0.5
    assert metrics["mrr@10"] == 0.5


def test_percentile_interpolates_like_numpy():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(4.8)
    assert percentile([], 50) == 0.0
