"""SR, sequential rules (Ludewig & Jannach, "Evaluation of session-based recommendation
algorithms", UMUAI 2018).

A rule ``a -> b`` is counted for every ``b`` that follows ``a`` in a training session at most
``steps`` positions later (``a`` at position ``p``, ``b`` at ``p + d``, ``1 <= d <= steps``,
repeats of an item counted each time, ``a -> a`` included), weighted by a decay of the
distance ``d``: ``1 / d`` by default. The score of item ``b`` for a session is the summed
weight of the rules ``last item -> b``.
"""
from __future__ import annotations

from typing import Callable, Dict

import numpy as np
import scipy.sparse as sp

from srgnn_paddle.config import Config
from srgnn_paddle.data.datasets import SessionTable
from srgnn_paddle.models.counts import CountModel, last_items

#: ``sr_weighting`` -> the weight of a rule over ``d`` steps (``d [n] >= 1`` -> ``[n]``).
RULE_WEIGHTS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "div": lambda d: 1.0 / d,
    "linear": lambda d: np.maximum(1.0 - 0.1 * d, 0.0),
    "same": lambda d: np.ones_like(d, dtype=np.float64),
    "log": lambda d: 1.0 / np.log10(d + 1.7),
    "quadratic": lambda d: 1.0 / (d * d),
}


class SR(CountModel):
    """Sequential rules over ``cfg.sr_steps`` steps, weighted by ``cfg.sr_weighting``."""

    name, display_name = "sr", "SR"
    search_space = {"sr_steps": (1, 2, 3, 5, 7, 10, 15, 20, 30), "sr_weighting": tuple(RULE_WEIGHTS)}

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.steps = int(cfg.sr_steps)
        self.weighting = str(cfg.sr_weighting)

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """``SR_<steps>_<weighting>``."""
        return f"{cls.display_name}_{cfg.sr_steps}_{cfg.sr_weighting}"

    def fit(self, sessions: SessionTable) -> None:
        owners, items = sessions.owners(), sessions.items
        rows, cols, weights = [], [], []
        for d in range(1, self.steps + 1):  # every pair (p, p + d) within one session
            same = owners[:-d] == owners[d:] if len(items) > d else np.zeros(0, dtype=bool)
            if not same.any():
                break  # no session is longer than d
            rows.append(items[:-d][same])
            cols.append(items[d:][same])
            weights.append(np.full(int(same.sum()), RULE_WEIGHTS[self.weighting](np.float64(d))))
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
        rules = sp.csr_matrix((cat(weights, np.float64), (cat(rows, np.int64), cat(cols, np.int64))),
                              shape=(self.n_items, self.n_items))
        rules.sum_duplicates()  # sorted column indices, one entry per rule
        self.stats = {"indptr": rules.indptr.astype(np.int64), "indices": rules.indices.astype(np.int64),
                      "weights": rules.data.astype(np.float64)}

    def rules(self) -> sp.csr_matrix:
        """The rule weights ``[n_items, n_items]`` (CSR; row ``a``, column ``b``: ``a -> b``)."""
        return sp.csr_matrix((self.stats["weights"], self.stats["indices"], self.stats["indptr"]),
                             shape=(self.n_items, self.n_items))

    def scores(self, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``[B, n_items]``: the rows of the rule matrix of the last items."""
        return self.rules()[last_items(history, mask)].astype(np.float32).toarray()
