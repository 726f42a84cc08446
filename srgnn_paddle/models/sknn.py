"""SKNN, session-based k-nearest neighbours (Jannach & Ludewig, "When Recurrent Neural
Networks meet the Neighborhood for Session-Based Recommendation", RecSys 2017).

For the current session ``s`` (its set of items): the candidate neighbours are the training
sessions that share at least one item with ``s``, at most the ``sample_size`` most recent of
them (training sessions are in date order; later is more recent); each candidate ``n`` gets
``sim(s, n) = |s & n| / sqrt(|s| * |n|)`` (cosine of the binary item vectors); the ``k`` most
similar are the neighbours (ties: the more recent first); the score of item ``i`` is the sum
of the similarities of the neighbours that contain ``i``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from srgnn_paddle.config import Config
from srgnn_paddle.data.datasets import SessionTable
from srgnn_paddle.models.counts import CountModel, history_matrix, session_item_matrix


class SKNN(CountModel):
    """Session-kNN with ``k = cfg.sknn_neighbors`` and ``sample_size = cfg.sknn_sample_size``
    (0: every candidate)."""

    name, display_name = "sknn", "SKNN"
    search_space = {"sknn_neighbors": (20, 50, 100, 200, 500, 1000),
                    "sknn_sample_size": (500, 1000, 2500, 5000, 10000, 0)}

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.k = int(cfg.sknn_neighbors)
        self.sample_size = int(cfg.sknn_sample_size)

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """``SKNN_<k>_<sample_size>``."""
        return f"{cls.display_name}_{cfg.sknn_neighbors}_{cfg.sknn_sample_size}"

    def fit(self, sessions: SessionTable) -> None:
        occurs = session_item_matrix(sessions, self.n_items)  # [S, N] binary, columns sorted
        self.stats = {"indptr": occurs.indptr.astype(np.int64), "indices": occurs.indices.astype(np.int64)}

    def sessions_matrix(self) -> sp.csr_matrix:
        """The training sessions' binary item vectors ``[S, n_items]`` (CSR)."""
        indices = self.stats["indices"]
        n_sessions = len(self.stats["indptr"]) - 1
        return sp.csr_matrix((np.ones(len(indices)), indices, self.stats["indptr"]), shape=(n_sessions, self.n_items))

    def neighbours(self, history: np.ndarray, mask: np.ndarray) -> sp.csr_matrix:
        """``[B, S]`` CSR: the similarity of each history to each of its ``k`` neighbours."""
        occurs = self.sessions_matrix()
        query = history_matrix(history, mask, self.n_items, binary=True)  # [B, N]
        overlap = (query @ occurs.T).tocsr()  # [B, S] shared items, candidates only
        overlap.sort_indices()  # within a row: older sessions first
        rows = np.repeat(np.arange(len(history)), np.diff(overlap.indptr))
        cols, shared = overlap.indices.astype(np.int64), overlap.data
        if self.sample_size:  # the most recent sample_size candidates: the last entries of each row
            from_end = overlap.indptr[rows + 1] - 1 - np.arange(len(cols))
            keep = from_end < self.sample_size
            rows, cols, shared = rows[keep], cols[keep], shared[keep]
        query_size = np.asarray(query.sum(axis=1)).ravel()
        session_size = np.diff(occurs.indptr)
        sims = shared / np.sqrt(query_size[rows] * session_size[cols])
        order = np.lexsort((-cols, -sims, rows))  # per row: most similar, then most recent
        rows, cols, sims = rows[order], cols[order], sims[order]
        row_start = np.searchsorted(rows, np.arange(len(history)))
        keep = np.arange(len(rows)) - row_start[rows] < self.k
        return sp.csr_matrix((sims[keep], (rows[keep], cols[keep])), shape=(len(history), occurs.shape[0]))

    def scores(self, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``[B, n_items]``: summed neighbour similarities of the items they hold."""
        return (self.neighbours(history, mask) @ self.sessions_matrix()).astype(np.float32).toarray()
