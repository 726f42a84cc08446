"""What the counted baselines' reference tests share (tests/models/test_baselines.py,
tests/models/test_counted_baselines.py): the rank and metric definitions the slow reference
scorers are scored with, a model fitted as runs fit it, and random sessions with popular
items and repeats."""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import numpy as np

from srgnn_paddle.config import Config
from srgnn_paddle.data import SessionDataset, augment_prefixes
from srgnn_paddle.evaluation import NextItemEvaluator
from srgnn_paddle.models import build_model

N_ITEMS = 13  # ids 1..12; 12 is never in training
#: a reference scorer: a history -> {item: score} for items 1..N-1
Scorer = Callable[[List[int]], Dict[int, object]]


def ref_ranks(scorer: Scorer, histories: Sequence[List[int]], labels: Sequence[int]) -> List[int]:
    """Rank of each label among items 1..N-1: how many score at least as high (ties count
    against the label)."""
    ranks = []
    for history, label in zip(histories, labels):
        scores = scorer(list(history))
        ranks.append(sum(1 for i in scores if scores[i] >= scores[label]))
    return ranks


def ref_metrics(ranks: Sequence[int]) -> Dict[str, float]:
    """P@K and MRR@K (percent) of ``ranks`` at the evaluator's cut-offs."""
    out = {}
    for k in NextItemEvaluator.KS:
        out[f"P@{k}"] = 100.0 * sum(r <= k for r in ranks) / len(ranks)
        out[f"MRR@{k}"] = 100.0 * sum(1.0 / r for r in ranks if r <= k) / len(ranks)
    return out


def fitted_model(name: str, sessions: Sequence[Sequence[int]], n_items: int = N_ITEMS, **options):
    """Counted model ``name`` fitted on the prefix pairs of ``sessions``, as runs fit it."""
    model = build_model(Config(model=name, n_items=n_items, **options))
    model.fit(SessionDataset(*augment_prefixes(sessions), n_items).sessions())
    return model


def random_sessions(seed: int, n: int, lo: int = 2, hi: int = 7) -> List[List[int]]:
    """``n`` seeded sessions of ``lo``..``hi - 1`` items from 1..N_ITEMS-2, three items
    popular, so that ties and shared neighbours are common."""
    rng = np.random.default_rng(seed)
    return [rng.choice(np.arange(1, N_ITEMS - 1), size=int(rng.integers(lo, hi)),
                       p=np.r_[[0.2, 0.15, 0.15], np.full(N_ITEMS - 5, 0.5 / (N_ITEMS - 5))]).tolist()
            for _ in range(n)]
