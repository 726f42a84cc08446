"""POP: the most popular training items, the same list for every session (the SR-GNN
paper's first baseline, Table 2)."""
from __future__ import annotations

import numpy as np

from srgnn_paddle.data.datasets import SessionTable
from srgnn_paddle.models.counts import CountModel


class POP(CountModel):
    """Score of item ``i``: its number of clicks in the training sessions."""

    name, display_name = "pop", "POP"

    def fit(self, sessions: SessionTable) -> None:
        self.stats = {"counts": np.bincount(sessions.items, minlength=self.n_items).astype(np.int64)}

    def scores(self, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The training counts, one row per history: ``[B, n_items]``."""
        return np.tile(self.stats["counts"].astype(np.float32), (len(history), 1))
