"""Ranking metrics (spec notebook.md §6) on hand-computed cases and against the plain loop."""
from __future__ import annotations

import math

import numpy as np
import pytest

from srgnn_paddle.evaluation.metrics import evaluate, evaluate_reference, hit_mrr_at_k

LOG2_3 = 1.0 / math.log2(3)  # 0.6309..., discount of position 1
LOG2_6 = 1.0 / math.log2(6)  # 0.3868..., discount of position 4


def approx(value):
    return pytest.approx(value, rel=1e-12, abs=1e-12)


def test_duplicates_in_ground_truth():
    # gt [3, 3, 7], top3 [5, 3, 9]: both 3s are hits (duplicates count), 7 misses.
    # hits = 2, recall = 2/3; dcg = 1/log2(0+2) + 1/log2(1+2) = 1 + 0.6309 = idcg -> ndcg 1.
    # rank NDCG: distinct gt {3, 7}; 3 at predicted rank index 1 -> dcg = 0.6309,
    # idcg over min(2, 3) = 2 relevant = 1 + 0.6309 -> 0.6309 / 1.6309; mrr = 1/2.
    m = evaluate([[5, 3, 9]], [[3, 3, 7]], topN=3)
    assert m["recall@3"] == approx(2 / 3)
    assert m["ndcg@3"] == approx(1.0)
    assert m["hitrate@3"] == approx(1.0)
    assert m["ndcg_rank@3"] == approx(LOG2_3 / (1 + LOG2_3))
    assert m["mrr@3"] == approx(0.5)


def test_no_hits():
    m = evaluate([[1, 2, 3]], [[4]], topN=3)
    assert m == {"recall@3": 0.0, "ndcg@3": 0.0, "hitrate@3": 0.0, "ndcg_rank@3": 0.0, "mrr@3": 0.0}


def test_all_hits():
    # gt [2, 1], top3 [1, 2, 3]: hits 2, recall 1; dcg = 1 + 0.6309 = idcg -> 1.
    # rank NDCG: 1 at rank 0, 2 at rank 1 -> (1 + 0.6309) / (1 + 0.6309) = 1; mrr = 1.
    m = evaluate([[1, 2, 3]], [[2, 1]], topN=3)
    assert m == {k: approx(1.0) for k in ("recall@3", "ndcg@3", "hitrate@3", "ndcg_rank@3", "mrr@3")}


def test_gt_position_ndcg_differs_from_rank_ndcg():
    # gt [5, 1, 2], top5 [9, 8, 7, 6, 5]: only 5 hits, at gt position 0 -> dcg 1, idcg 1,
    # notebook ndcg = 1. The hit is at predicted rank 4: rank dcg = 1/log2(6) = 0.3869,
    # idcg over min(3, 5) = 3 relevant = 1 + 0.6309 + 0.5 -> 0.3869 / 2.1309 = 0.1815.
    # recall = 1/3, mrr = 1/5.
    m = evaluate([[9, 8, 7, 6, 5]], [[5, 1, 2]], topN=5)
    assert m["ndcg@5"] == approx(1.0)
    assert m["ndcg_rank@5"] == approx(LOG2_6 / (1 + LOG2_3 + 0.5))
    assert m["recall@5"] == approx(1 / 3)
    assert m["mrr@5"] == approx(0.2)
    # gt [1, 2, 5], same predictions: the hit is now gt position 2 -> dcg 1/log2(4) = 0.5,
    # idcg (1 hit) = 1 -> notebook ndcg 0.5, while the rank NDCG does not change.
    m2 = evaluate([[9, 8, 7, 6, 5]], [[1, 2, 5]], topN=5)
    assert m2["ndcg@5"] == approx(0.5)
    assert m2["ndcg_rank@5"] == approx(m["ndcg_rank@5"])


def test_only_top_n_predictions_count():
    # 4 is the 4th prediction: outside the top 3
    assert evaluate([[1, 2, 3, 4]], [[4]], topN=3)["recall@3"] == 0.0
    assert evaluate([[1, 2, 3, 4]], [[4]], topN=4)["recall@4"] == approx(1.0)
    # fewer predictions than N is fine
    assert evaluate([[4]], [[4, 9]], topN=3)["recall@3"] == approx(0.5)


def test_mean_over_users():
    preds = [[5, 3, 9], [1, 2, 3], [1, 2, 3]]
    gts = [[3, 3, 7], [4], [2, 1]]
    m = evaluate(preds, gts, topN=3)
    # per user: recall 2/3, 0, 1; ndcg 1, 0, 1; hitrate 1, 0, 1; ndcg_rank 0.6309/1.6309, 0, 1;
    # mrr 1/2, 0, 1
    assert m["recall@3"] == approx((2 / 3 + 0 + 1) / 3)
    assert m["ndcg@3"] == approx(2 / 3)
    assert m["hitrate@3"] == approx(2 / 3)
    assert m["ndcg_rank@3"] == approx((LOG2_3 / (1 + LOG2_3) + 1) / 3)
    assert m["mrr@3"] == approx(0.5)


def test_ndcg_rank_and_mrr_hand_cases():
    # top4 [7, 1, 8, 2], gt [1, 2]: hits at ranks 1 and 3 -> dcg = 1/log2(3) + 1/log2(5);
    # idcg = 1 + 1/log2(3); first hit at rank index 1 -> mrr 1/2
    m = evaluate([[7, 1, 8, 2]], [[1, 2]], topN=4)
    assert m["ndcg_rank@4"] == approx((LOG2_3 + 1 / math.log2(5)) / (1 + LOG2_3))
    assert m["mrr@4"] == approx(0.5)
    # more distinct relevant items than N: idcg stops at N = 2
    m = evaluate([[1, 9]], [[1, 2, 3]], topN=2)
    assert m["ndcg_rank@2"] == approx(1 / (1 + LOG2_3))
    assert m["mrr@2"] == approx(1.0)


def test_dict_list_and_array_inputs_agree():
    preds_list = [[5, 3, 9], [1, 2, 3], [9, 8, 7]]
    gts = [[3, 3, 7], [4], [7, 9]]
    expected = evaluate(preds_list, gts, topN=3)
    keys = [101, 7, 55]
    as_dict = evaluate(dict(zip(keys, preds_list)), dict(zip(keys, gts)), topN=3)
    as_array = evaluate(np.array(preds_list), gts, topN=3)
    as_tuple_rows = evaluate([tuple(p) for p in preds_list], [np.array(g) for g in gts], topN=3)
    assert as_dict == expected
    assert as_array == expected
    assert as_tuple_rows == expected
    # the dict is matched by key, not by position
    shuffled = dict(zip(reversed(keys), reversed(preds_list)))
    assert evaluate(shuffled, dict(zip(keys, gts)), topN=3) == expected


def test_evaluate_matches_reference_loop_on_random_data():
    rng = np.random.default_rng(0)
    n_users, n_items, top_n = 400, 60, 10
    preds = {u: rng.choice(np.arange(n_items), size=top_n + 5, replace=False).tolist() for u in range(n_users)}
    gts = {u: rng.integers(0, n_items, size=int(rng.integers(1, 25))).tolist() for u in range(n_users)}
    fast = evaluate(preds, gts, topN=top_n)
    ref = evaluate_reference(preds, gts, topN=top_n)
    assert set(ref) == {f"recall@{top_n}", f"ndcg@{top_n}", f"hitrate@{top_n}"}
    for k, v in ref.items():
        assert fast[k] == pytest.approx(v, rel=1e-10, abs=1e-12), k
    assert 0.0 < ref[f"recall@{top_n}"] < 1.0 and 0.0 < ref[f"ndcg@{top_n}"] < 1.0


def test_reference_loop_hand_case():
    m = evaluate_reference([[9, 8, 7, 6, 5]], [[1, 2, 5]], topN=5)
    assert m == {"recall@5": approx(1 / 3), "ndcg@5": approx(0.5), "hitrate@5": approx(1.0)}


def test_default_top_n_is_50_and_empty_ground_truth_raises():
    m = evaluate([list(range(1, 61))], [[55]])
    assert m["recall@50"] == 0.0 and set(m) == {"recall@50", "ndcg@50", "hitrate@50", "ndcg_rank@50", "mrr@50"}
    with pytest.raises(ValueError):
        evaluate([[1, 2]], [[]], topN=2)


def test_hit_mrr_at_k_hand_ranks():
    top = np.array([[3, 1, 2], [5, 6, 7], [9, 8, 4], [4, 0, 0]])
    targets = np.array([1, 4, 4, 4])
    # ranks: 2, none, 3, 1
    m = hit_mrr_at_k(top, targets, ks=(1, 3))
    assert m["P@1"] == approx(100 * 1 / 4)
    assert m["MRR@1"] == approx(100 * 1 / 4)
    assert m["P@3"] == approx(100 * 3 / 4)
    assert m["MRR@3"] == approx(100 * (1 / 2 + 0 + 1 / 3 + 1) / 4)
    m2 = hit_mrr_at_k(top, targets.reshape(-1, 1), ks=(2,))
    assert m2 == {"P@2": approx(50.0), "MRR@2": approx(100 * (1 / 2 + 1) / 4)}
