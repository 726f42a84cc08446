"""S-POP: the items of the current session, most frequent in it first (ties: the more
popular in training first), then every other item by training popularity (the SR-GNN
paper's second baseline)."""
from __future__ import annotations

import numpy as np

from srgnn_paddle.data.datasets import SessionTable
from srgnn_paddle.models.counts import CountModel, history_matrix


class SPOP(CountModel):
    """Score of item ``i`` for a session: ``count_in_session(i) * R + popularity_rank(i)``,
    where ``popularity_rank`` numbers the distinct training click counts ``0 .. R-1``
    (equal counts share a rank, so they tie). Whole numbers, exact in float32 while
    ``max count_in_session * R < 2**24``."""

    name, display_name = "spop", "SPOP"

    def fit(self, sessions: SessionTable) -> None:
        self.stats = {"counts": np.bincount(sessions.items, minlength=self.n_items).astype(np.int64)}

    def scores(self, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``[B, n_items]``: session counts first, training popularity breaks ties."""
        levels, rank = np.unique(self.stats["counts"], return_inverse=True)
        in_session = history_matrix(history, mask, self.n_items).tocoo()
        scores = np.tile(rank.astype(np.float32), (len(history), 1))
        scores[in_session.row, in_session.col] += (in_session.data * len(levels)).astype(np.float32)
        return scores
