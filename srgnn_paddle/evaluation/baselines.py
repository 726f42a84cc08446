"""Baselines scored with the models' own metrics: the most popular training items given to
every user (notebook protocol) or every test prefix (paper protocol)."""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from srgnn_paddle.evaluation.metrics import evaluate


def top_by_count(counts: np.ndarray, top_n: int) -> np.ndarray:
    """The ``top_n`` ids with the largest counts (ties: smaller id first; ids never seen
    are never listed). ``counts [n_ids] -> [<= top_n]``."""
    counts = np.asarray(counts)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    return order[:top_n]


def popularity_ranking(train_item_ids: np.ndarray, top_n: int) -> np.ndarray:
    """The ``top_n`` most frequent training items (ties: smaller id first). ``[N] -> [top_n]``."""
    return top_by_count(np.bincount(np.asarray(train_item_ids, dtype=np.int64)), top_n)


def evaluate_fixed_ranking(top: np.ndarray, test_gd: Sequence[Sequence[int]] | Dict,
                           topN: int = 50) -> Dict[str, float]:
    """Score one ranking given to every user, with the model's metrics (:func:`evaluate`)."""
    gts = list(test_gd.values()) if isinstance(test_gd, dict) else list(test_gd)
    preds = np.broadcast_to(np.asarray(top)[:topN], (len(gts), min(len(top), topN)))
    return evaluate(preds, gts, topN=topN)


def evaluate_popularity(train_item_ids: np.ndarray, test_gd: Sequence[Sequence[int]] | Dict,
                        topN: int = 50) -> Dict[str, float]:
    """The popularity baseline, scored exactly like the model: every user gets the same
    ``topN`` most popular training items."""
    return evaluate_fixed_ranking(popularity_ranking(train_item_ids, topN), test_gd, topN)
