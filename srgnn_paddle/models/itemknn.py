"""Item-KNN: items similar to the session's last item, similarity the cosine between the
items' session vectors (Sarwar et al. 2001, as the SR-GNN paper and GRU4Rec's paper use it as
a baseline: "recommends items similar to the previously clicked item in the session, where
similarity is defined as the cosine similarity between the vector of sessions"; GRU4Rec's
paper adds "regularization is also included to avoid coincidental high similarities of
rarely visited items", a constant ``lambda`` added to the denominator, 20 in its code)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from srgnn_paddle.config import Config
from srgnn_paddle.data.datasets import SessionTable
from srgnn_paddle.models.counts import CountModel, last_items, session_item_matrix


class ItemKNN(CountModel):
    """``sim(i, j) = |sessions with i and j| / (sqrt(|sessions with i| * |sessions with j|)
    + lambda)`` over the training sessions (each session counts once per item; ``lambda =
    cfg.itemknn_lambda``, 0: the plain cosine); an item's similarity to itself is left out.
    Score of item ``j`` for a session: ``sim(last item, j)`` (0 for items never seen with it)."""

    name, display_name = "itemknn", "ItemKNN"

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.regularisation = float(cfg.itemknn_lambda)

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """``ItemKNN`` (plain cosine) or ``ItemKNN_lambda<lambda>``."""
        return cls.display_name + (f"_lambda{cfg.itemknn_lambda:g}" if cfg.itemknn_lambda else "")

    def fit(self, sessions: SessionTable) -> None:
        occurs = session_item_matrix(sessions, self.n_items)  # [S, N] binary
        together = (occurs.T @ occurs).tocoo()  # [N, N] sessions holding both items
        support = np.asarray(occurs.sum(axis=0)).ravel()  # sessions holding each item
        off_diagonal = together.row != together.col
        rows, cols = together.row[off_diagonal], together.col[off_diagonal]
        sims = together.data[off_diagonal] / (np.sqrt(support[rows] * support[cols]) + self.regularisation)
        matrix = sp.csr_matrix((sims, (rows, cols)), shape=(self.n_items, self.n_items))
        matrix.sort_indices()
        self.stats = {"indptr": matrix.indptr.astype(np.int64), "indices": matrix.indices.astype(np.int64),
                      "sims": matrix.data.astype(np.float64)}

    def similarity(self) -> sp.csr_matrix:
        """The item-item cosine ``[n_items, n_items]`` (CSR, float32)."""
        return sp.csr_matrix((self.stats["sims"].astype(np.float32), self.stats["indices"], self.stats["indptr"]),
                             shape=(self.n_items, self.n_items))

    def scores(self, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``[B, n_items]``: the rows of the similarity matrix of the last items."""
        return self.similarity()[last_items(history, mask)].toarray()
