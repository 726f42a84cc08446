"""Faiss recall (spec notebook.md §6): top-N vs brute force, IVF, popularity."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.evaluation.metrics import evaluate
from srgnn_paddle.evaluation.baselines import evaluate_popularity, popularity_ranking
from srgnn_paddle.evaluation.retrieval import build_index, evaluate_model, get_predict, l2_normalize

D = 8


class FakeModel(paddle.nn.Layer):
    """A notebook-style layer: ``output_items()`` is a fixed table; the user vector of a row
    is ``users[item_seq[:, 0]]`` (``[B, D]``)."""

    def __init__(self, items, users):
        super().__init__()
        self.items = paddle.to_tensor(items.astype("float32"))
        self.users = users.astype("float32")
        self.calls = []

    def output_items(self):
        return self.items

    def forward(self, item_seq, mask, item=None, train=True, graph=None):
        self.calls.append(self.training)
        idx = np.asarray(item_seq.numpy() if isinstance(item_seq, paddle.Tensor) else item_seq)[:, 0]
        return {"user_emb": paddle.to_tensor(self.users[idx])}


def loader_of(n_users, batch_size, gts):
    """Batches ``(item_seq, mask, ground truth lists)`` where item_seq[:, 0] is the user index."""
    batches = []
    for s in range(0, n_users, batch_size):
        idx = np.arange(s, min(s + batch_size, n_users))
        seq = np.zeros((len(idx), 4), dtype=np.int64)
        seq[:, 0] = idx
        batches.append((paddle.to_tensor(seq), paddle.to_tensor((seq > 0).astype("float32")),
                        [gts[i] for i in idx]))
    return batches


def brute_scores(items, users):
    return l2_normalize(users).astype(np.float64) @ l2_normalize(items).astype(np.float64).T


def assert_top_n(pred_ids, scores_row, top_n):
    """``pred_ids`` is a correct top-N of ``scores_row`` (robust to ties and float rounding)."""
    pred_ids = np.asarray(pred_ids)
    assert len(pred_ids) == top_n and len(set(pred_ids.tolist())) == top_n
    got = scores_row[pred_ids]
    best = np.sort(scores_row)[::-1][:top_n]
    np.testing.assert_allclose(got, best, atol=1e-5)  # same scores, in descending order


@pytest.fixture
def tables():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(300, D)) * rng.uniform(0.2, 3.0, size=(300, 1))  # unequal norms
    users = rng.normal(size=(37, D)) * 5.0
    return items, users


def test_flat_top_n_equals_brute_force(tables):
    items, users = tables
    gts = {u: [u % 300 + 1] for u in range(len(users))}
    model = FakeModel(items, users)
    model.train()
    test_gd, preds = get_predict(model, loader_of(len(users), 10, gts), D, topN=20)
    assert list(test_gd) == list(range(len(users))) and list(preds) == list(range(len(users)))
    assert test_gd == gts
    scores = brute_scores(items, users)
    for u in range(len(users)):
        assert_top_n(preds[u], scores[u], 20)
    # the model was put in eval mode for the forward passes and restored afterwards
    assert model.calls and not any(model.calls)
    assert model.training


def test_padding_row_is_not_filtered(tables):
    items, users = tables
    items = items.copy()
    items[0] = users[3]  # row 0 is user 3's best match
    model = FakeModel(items, users)
    _, preds = get_predict(model, loader_of(len(users), 16, {u: [1] for u in range(len(users))}), D, topN=5)
    assert preds[3][0] == 0


def test_hidden_size_mismatch_raises(tables):
    items, users = tables
    with pytest.raises(SrgnnError, match="hidden_size 9 is not the item embedding size 8"):
        get_predict(FakeModel(items, users), loader_of(2, 2, {0: [1], 1: [1]}), D + 1, topN=5)


def test_ivf_with_all_lists_probed_equals_flat(tables):
    items, users = tables
    gts = {u: [1] for u in range(len(users))}
    model = FakeModel(items, users)
    _, flat = get_predict(model, loader_of(len(users), 8, gts), D, topN=15)
    _, ivf = get_predict(model, loader_of(len(users), 8, gts), D, topN=15, index_kind="ivf", nlist=4, nprobe=4)
    scores = brute_scores(items, users)
    for u in range(len(users)):
        assert_top_n(ivf[u], scores[u], 15)
        np.testing.assert_allclose(scores[u][ivf[u]], scores[u][flat[u]], atol=1e-5)
    index = build_index(l2_normalize(items), "ivf", nlist=4, nprobe=4, use_gpu=False)
    assert index.nlist == 4 and index.nprobe == 4 and index.ntotal == len(items)
    with pytest.raises(ValueError):
        build_index(l2_normalize(items), "hnsw", use_gpu=False)


def test_build_index_flat_search_matches_numpy(tables):
    items, users = tables
    index = build_index(l2_normalize(items), "flat", use_gpu=False)
    dist, ids = index.search(l2_normalize(users), 10)
    scores = brute_scores(items, users)
    for u in range(len(users)):
        assert_top_n(ids[u], scores[u], 10)
        np.testing.assert_allclose(dist[u], scores[u][ids[u]], atol=1e-5)


def test_evaluate_model_is_get_predict_then_evaluate(tables):
    items, users = tables
    rng = np.random.default_rng(2)
    gts = {u: rng.integers(1, 300, size=3).tolist() for u in range(len(users))}
    model = FakeModel(items, users)
    _, preds = get_predict(model, loader_of(len(users), 10, gts), D, topN=50)
    m = evaluate_model(model, loader_of(len(users), 10, gts), D, topN=50)
    assert m == evaluate(preds, gts, topN=50)
    assert set(m) >= {"recall@50", "ndcg@50", "hitrate@50"}
    assert 0.0 < m["recall@50"] < 1.0


def test_popularity_hand_case():
    train = np.array([3, 3, 3, 1, 1, 2, 5, 5])
    # counts: 3 -> 3, 1 -> 2, 5 -> 2, 2 -> 1; tie 1 vs 5 broken by the smaller id
    np.testing.assert_array_equal(popularity_ranking(train, 3), [3, 1, 5])
    np.testing.assert_array_equal(popularity_ranking(train, 10), [3, 1, 5, 2])  # unseen ids never listed
    gts = {10: [1, 9], 11: [2]}
    # top3 [3, 1, 5]: user 10 hits 1 at gt position 0 -> recall 1/2, ndcg 1, hit; user 11 misses
    m = evaluate_popularity(train, gts, topN=3)
    assert m["recall@3"] == pytest.approx(0.25)
    assert m["ndcg@3"] == pytest.approx(0.5)
    assert m["hitrate@3"] == pytest.approx(0.5)
    # top4 adds item 2: user 11 hits too
    m4 = evaluate_popularity(train, list(gts.values()), topN=4)
    assert m4["recall@4"] == pytest.approx(0.75)
    assert m4["hitrate@4"] == pytest.approx(1.0)
