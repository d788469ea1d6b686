import pytest

from ragkit.fusion import reciprocal_rank_fusion


def test_rrf_sums_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion({"dense": ["a", "b"], "sparse": ["b", "c"]}, k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)


def test_rrf_orders_by_score_and_weights_shift_the_order():
    rankings = {"dense": ["a", "b"], "sparse": ["b", "a"]}
    assert [item for item, _ in reciprocal_rank_fusion(rankings, k=0, weights={"dense": 2.0})] == ["a", "b"]
    assert [item for item, _ in reciprocal_rank_fusion(rankings, k=0, weights={"sparse": 2.0})] == ["b", "a"]


def test_rrf_does_not_mutate_its_input_and_rejects_negative_k():
    rankings = {"dense": ["a", "b"]}
    reciprocal_rank_fusion(rankings)
    assert rankings == {"dense": ["a", "b"]}
    with pytest.raises(ValueError, match="-1"):
        reciprocal_rank_fusion(rankings, k=-1)
