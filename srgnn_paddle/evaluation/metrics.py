"""Ranking metrics.

* :func:`evaluate` is the notebook's ``evaluate`` (docs/notebook.md §6), exactly:
  every ground-truth entry (duplicates too) found in the top N is a hit, ``recall = hits /
  len(gt)``, and its NDCG discounts each hit by the entry's position *in the ground truth*,
  not by its predicted rank. Vectorised over users; :func:`evaluate_reference` is the plain
  per-user loop kept to check it.
* ``ndcg_rank@N`` (standard binary NDCG discounted by predicted rank over the distinct
  ground-truth items) and ``mrr@N`` (reciprocal rank of the first hit) are offered beside it.
* :func:`hit_mrr_at_k` gives the paper's P@K and MRR@K for single-label session prediction
  from ranked top-K lists; :func:`target_ranks` and :func:`rank_sums` give them from a
  full score matrix (what the paper protocol's evaluator uses).
* :func:`candidate_ranks` and :func:`hr_ndcg_sums` give the leave-one-out protocol's HR@K
  and NDCG@K (NCF, He et al. 2017) from the scores of each user's candidates.
"""
from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np
import paddle

Predictions = Union[Mapping[object, Sequence[int]], Sequence[Sequence[int]], np.ndarray]
GroundTruth = Union[Mapping[object, Sequence[int]], Sequence[Sequence[int]]]


def _aligned(preds: Predictions, test_gd: GroundTruth):
    """Return (list of prediction rows, list of ground-truth lists) in the same user order."""
    if isinstance(test_gd, Mapping):
        keys = list(test_gd.keys())
        gts = [list(test_gd[k]) for k in keys]
        pred_rows = [preds[k] for k in keys]
    else:
        gts = [list(g) for g in test_gd]
        pred_rows = [preds[i] for i in range(len(gts))]
    return pred_rows, gts


def _pred_matrix(pred_rows: Sequence[Sequence[int]], top_n: int) -> np.ndarray:
    """Stack prediction rows (possibly of unequal length) into ``[U, top_n]``, -1 padded."""
    out = np.full((len(pred_rows), top_n), -1, dtype=np.int64)
    for i, row in enumerate(pred_rows):
        row = np.asarray(row, dtype=np.int64)[:top_n]
        out[i, : len(row)] = row
    return out


def evaluate(preds: Predictions, test_gd: GroundTruth, topN: int = 50) -> Dict[str, float]:
    """The notebook's metrics, vectorised.

    Args:
        preds: per user, the ranked predicted item ids (a dict keyed like ``test_gd``, or a
            sequence / ``[U, >=N]`` array aligned with it). Only the first ``topN`` count.
        test_gd: per user, the list of ground-truth item ids (duplicates kept).
        topN: cut-off N.
    Returns:
        ``{'recall@N', 'ndcg@N', 'hitrate@N'}`` (the notebook's definitions, means over
        users) plus ``'ndcg_rank@N'`` and ``'mrr@N'`` (standard rank-discounted versions).
    """
    pred_rows, gts = _aligned(preds, test_gd)
    n_users = len(gts)
    keys = (f"recall@{topN}", f"ndcg@{topN}", f"hitrate@{topN}", f"ndcg_rank@{topN}", f"mrr@{topN}")
    if n_users == 0:
        return {k: 0.0 for k in keys}
    top = _pred_matrix(pred_rows, topN)  # [U, N]
    lengths = np.array([len(g) for g in gts], dtype=np.int64)
    if (lengths == 0).any():
        raise ValueError("every user needs at least one ground-truth item")
    owner = np.repeat(np.arange(n_users), lengths)  # [G] user of each gt entry
    gt_flat = np.concatenate([np.asarray(g, dtype=np.int64) for g in gts])  # [G]
    pos_in_gt = np.arange(len(gt_flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)

    # membership of each gt entry in its user's top N (chunked to bound memory)
    hit = np.zeros(len(gt_flat), dtype=bool)
    chunk = max(1, 4_000_000 // topN)
    for s in range(0, len(gt_flat), chunk):
        e = s + chunk
        hit[s:e] = (top[owner[s:e]] == gt_flat[s:e, None]).any(axis=1)

    discount = 1.0 / np.log2(np.arange(max(topN, lengths.max()) + 2) + 2)
    hits = np.bincount(owner, weights=hit, minlength=n_users)
    dcg = np.bincount(owner, weights=hit * discount[pos_in_gt], minlength=n_users)
    idcg_table = np.concatenate([[0.0], np.cumsum(discount)])
    idcg = idcg_table[hits.astype(np.int64)]
    ndcg = np.divide(dcg, idcg, out=np.zeros(n_users), where=hits > 0)

    # standard metrics from predicted ranks, against the set of distinct gt items
    in_gt = np.zeros(top.shape, dtype=bool)
    for i, g in enumerate(gts):  # O(U) set lookups; N is small
        in_gt[i] = np.isin(top[i], g)
    rank_disc = discount[:topN]
    dcg_rank = (in_gt * rank_disc).sum(axis=1)
    n_rel = np.minimum([len(set(g)) for g in gts], topN)
    idcg_rank = idcg_table[n_rel]
    first = np.where(in_gt.any(axis=1), in_gt.argmax(axis=1), -1)
    mrr = np.zeros(n_users)
    mrr[first >= 0] = 1.0 / (first[first >= 0] + 1)

    return {
        f"recall@{topN}": float(np.mean(hits / lengths)),
        f"ndcg@{topN}": float(np.mean(ndcg)),
        f"hitrate@{topN}": float(np.mean(hits > 0)),
        f"ndcg_rank@{topN}": float(np.mean(dcg_rank / idcg_rank)),
        f"mrr@{topN}": float(np.mean(mrr)),
    }


def evaluate_reference(preds: Predictions, test_gd: GroundTruth, topN: int = 50) -> Dict[str, float]:
    """The notebook's per-user loop, written plainly (the slow reference for :func:`evaluate`)."""
    pred_rows, gts = _aligned(preds, test_gd)
    total_recall = total_ndcg = 0.0
    total_hitrate = 0
    for pred, item_list in zip(pred_rows, gts):
        top = list(pred)[:topN]
        recall = 0
        dcg = 0.0
        for no, item_id in enumerate(item_list):
            if item_id in top:
                recall += 1
                dcg += 1.0 / math.log(no + 2, 2)
        idcg = 0.0
        for no in range(recall):
            idcg += 1.0 / math.log(no + 2, 2)
        total_recall += recall * 1.0 / len(item_list)
        if recall > 0:
            total_ndcg += dcg / idcg
            total_hitrate += 1
    total = len(gts)
    return {
        f"recall@{topN}": total_recall / total,
        f"ndcg@{topN}": total_ndcg / total,
        f"hitrate@{topN}": total_hitrate * 1.0 / total,
    }


def hit_mrr_at_k(top_items: np.ndarray, targets: np.ndarray, ks: Sequence[int] = (20,)) -> Dict[str, float]:
    """The paper's P@K ("Recall@K" in the official code) and MRR@K, in percent.

    Args:
        top_items: ``[B, >=max(ks)]`` ranked predicted ids, best first.
        targets: ``[B]`` the one true next item of each case.
    Returns:
        ``{'P@K': 100 * share of cases whose target is in the top K,
        'MRR@K': 100 * mean of 1/rank (0 when not in the top K)}`` for each K.
    """
    counts = hit_rank_sums(top_items, targets, ks)
    n = max(len(targets), 1)
    return {name: 100.0 * value / n for name, value in counts.items()}


def hit_rank_sums(top_items: np.ndarray, targets: np.ndarray, ks: Sequence[int] = (20,)) -> Dict[str, float]:
    """Sums (not means) of hits and reciprocal ranks at each K; add them up over batches."""
    top_items = np.asarray(top_items)
    targets = np.asarray(targets).reshape(-1, 1)
    match = top_items[:, : max(ks)] == targets  # [B, K]
    out: Dict[str, float] = {}
    for k in ks:
        m = match[:, :k]
        rank = m.argmax(axis=1) + 1
        found = m.any(axis=1)
        out[f"P@{k}"] = float(found.sum())
        out[f"MRR@{k}"] = float((found / rank).sum())
    return out


def target_ranks(scores: Union[paddle.Tensor, np.ndarray], targets: Union[paddle.Tensor, np.ndarray],
                 exclude_padding: bool) -> np.ndarray:
    """Rank (1 = best) of each target among the candidate items of a full score matrix.

    Computed by counting, not by a top-K list, so it is defined for any catalogue size
    (a top-K wider than the catalogue cannot fail) and is deterministic:

    * ties count against the target: ``rank = number of candidates whose score is not
      below the target's`` (the target included), so a model scoring every item alike ranks
      each target last, never first;
    * with ``exclude_padding`` column 0 (the padding item) is not a candidate, whatever its
      score; the candidates are items ``1..C-1``, otherwise ``0..C-1``;
    * a NaN score counts against the target (a NaN target score ranks it last).

    Args:
        scores: ``[B, C]`` float scores, a Paddle tensor (counted on its device) or a numpy
            array; column ``c`` is item ``c``.
        targets: ``[B]`` or ``[B, 1]`` integer target columns.
        exclude_padding: leave column 0 out of the candidates (the paper's scoring).
    Returns:
        ``[B]`` int64 ranks in ``1..n_candidates``.
    """
    if isinstance(scores, np.ndarray):
        targets = np.asarray(targets.numpy() if isinstance(targets, paddle.Tensor) else targets)
        target_scores = np.take_along_axis(scores, targets.reshape(-1, 1).astype(np.int64), axis=1)  # [B, 1]
        below = (scores < target_scores).sum(axis=1)  # [B]
        if exclude_padding:
            below = below - (scores[:, 0] < target_scores[:, 0])
    else:
        targets = paddle.to_tensor(targets) if isinstance(targets, np.ndarray) else targets
        target_scores = paddle.take_along_axis(scores, targets.reshape([-1, 1]).astype("int64"), axis=1)
        # float32 sums of 0/1 are exact below 2**24 candidates and faster than integer sums
        below = (scores < target_scores).astype("float32").sum(axis=1)
        if exclude_padding:
            below = below - (scores[:, 0] < target_scores[:, 0]).astype("float32")
        below = below.numpy()
    n_candidates = scores.shape[1] - (1 if exclude_padding else 0)
    return n_candidates - np.asarray(below).astype(np.int64)


def rank_sums(ranks: np.ndarray, ks: Sequence[int] = (20,)) -> Dict[str, float]:
    """Sums (not means) over cases of the P@K hits and MRR@K reciprocal ranks, from ranks.

    ``P@K`` counts ranks ``<= K``; ``MRR@K`` adds ``1/rank`` for those, 0 for the others.
    A ``K`` at least as large as the number of candidates keeps every case: P@K is then
    the number of cases and MRR@K the plain (uncut) reciprocal-rank sum. Divide by the
    number of cases and multiply by 100 for the paper's percentages.
    """
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1)
    out: Dict[str, float] = {}
    for k in ks:
        found = ranks <= k
        out[f"P@{k}"] = float(found.sum())
        out[f"MRR@{k}"] = float((1.0 / ranks[found]).sum())
    return out


def candidate_ranks(scores: np.ndarray, target: np.ndarray, candidates: Optional[np.ndarray] = None) -> np.ndarray:
    """Rank (1 = best) of each row's target column among the row's candidate columns.

    Ties count against the target (pessimistic): ``rank = 1 + number of other candidates
    whose score is not below the target's``, so a model scoring every candidate alike ranks
    each target last, never first. A NaN score counts against the target too (a NaN target
    score ranks it last).

    Args:
        scores: ``[B, C]`` float scores.
        target: ``[B]`` integer column of each row's target.
        candidates: ``[B, C]`` bool, the columns that compete (the target's column always
            does); None: every column.
    Returns:
        ``[B]`` int64 ranks in ``1..number of candidates``.
    """
    scores = np.asarray(scores)
    rows = np.arange(scores.shape[0])
    target = np.asarray(target, dtype=np.int64).reshape(-1)
    ahead = ~(scores < scores[rows, target][:, None])  # >=, or NaN on either side
    if candidates is not None:
        ahead &= candidates
    ahead[rows, target] = False
    return 1 + np.count_nonzero(ahead, axis=1).astype(np.int64)


def hr_ndcg_sums(ranks: np.ndarray, k: int) -> Dict[str, float]:
    """Sums over users of ``HR@k`` (1 when ``rank <= k``) and ``NDCG@k`` (``1 / log2(rank + 1)``
    when ``rank <= k``, else 0), the single-item leave-one-out metrics; divide by the
    number of users for the means. ``ranks [U]`` -> ``{'HR@k', 'NDCG@k'}``."""
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1)
    found = ranks <= k
    return {f"HR@{k}": float(found.sum()), f"NDCG@{k}": float((1.0 / np.log2(ranks[found] + 1.0)).sum())}
