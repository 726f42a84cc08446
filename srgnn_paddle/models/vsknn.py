"""V-SKNN, vector-multiplication session kNN (Ludewig & Jannach, "Evaluation of session-based
recommendation algorithms", UMUAI 2018).

SKNN (:mod:`~srgnn_paddle.models.sknn`) with the current session ``s`` (length ``L``) as a
real-valued vector: its item at position ``p`` (1-based; a repeated item at its last position)
weighs ``w(p, L)``, ``p / L`` by default (linear decay: earlier items count less), times the
item's IDF ``log(S / S_i)`` (``S`` training sessions, ``S_i`` of them holding ``i``) with
``vsknn_idf``. The training sessions stay binary item vectors; the similarity is the dot
product over the number of distinct items of ``s``, ``sim(s, n) = sum_{i in s & n} w_i / |s|``.
As in SKNN the candidates are the training sessions sharing an item with ``s``, at most the
``sample_size`` most recent (training sessions in date order: a session's index in the training
file is its time), the ``k`` most similar are the neighbours (ties: the more recent first), and
the score of item ``i`` is the sum of the similarities of the neighbours holding ``i``.
"""
from __future__ import annotations

from typing import Callable, Dict

import numpy as np
import scipy.sparse as sp

from srgnn_paddle.config import Config
from srgnn_paddle.data.datasets import SessionTable
from srgnn_paddle.models.counts import (CountModel, history_matrix, history_positions, nearest, recent_candidates,
                                        session_item_matrix)

#: ``vsknn_weighting`` -> the weight of the item at position ``p`` (1-based) of a session of
#: length ``L`` (``p, L [M]`` -> ``[M]``).
POSITION_WEIGHTS: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "linear": lambda p, L: p / L,
    "same": lambda p, L: np.ones(len(p)),
    "div": lambda p, L: 1.0 / (L - p + 1),
    "log": lambda p, L: 1.0 / np.log10(L - p + 2.7),
    "quadratic": lambda p, L: (p / L) ** 2,
}


class VSKNN(CountModel):
    """V-SKNN with ``k = cfg.vsknn_neighbors``, ``sample_size = cfg.vsknn_sample_size`` (0:
    every candidate), position weights ``cfg.vsknn_weighting`` and IDF with ``cfg.vsknn_idf``."""

    name, display_name = "vsknn", "VSKNN"
    search_space = {"vsknn_neighbors": (50, 100, 200, 500, 1000),
                    "vsknn_sample_size": (500, 1000, 2500, 5000, 10000, 0),
                    "vsknn_weighting": tuple(POSITION_WEIGHTS), "vsknn_idf": (False, True)}

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.k = int(cfg.vsknn_neighbors)
        self.sample_size = int(cfg.vsknn_sample_size)
        self.weighting = str(cfg.vsknn_weighting)
        self.idf = bool(cfg.vsknn_idf)

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """``VSKNN_<k>_<sample_size>_<weighting>[_idf]``."""
        return (f"{cls.display_name}_{cfg.vsknn_neighbors}_{cfg.vsknn_sample_size}_{cfg.vsknn_weighting}"
                + ("_idf" if cfg.vsknn_idf else ""))

    def fit(self, sessions: SessionTable) -> None:
        occurs = session_item_matrix(sessions, self.n_items)  # [S, N] binary, columns sorted
        holding = np.asarray(occurs.sum(axis=0)).ravel()
        idf = np.log(len(sessions) / np.maximum(holding, 1)) * (holding > 0)
        self.stats = {"indptr": occurs.indptr.astype(np.int64), "indices": occurs.indices.astype(np.int64),
                      "idf": idf.astype(np.float64)}

    def sessions_matrix(self) -> sp.csr_matrix:
        """The training sessions' binary item vectors ``[S, n_items]`` (CSR)."""
        indices = self.stats["indices"]
        n_sessions = len(self.stats["indptr"]) - 1
        return sp.csr_matrix((np.ones(len(indices)), indices, self.stats["indptr"]), shape=(n_sessions, self.n_items))

    def session_vectors(self, history: np.ndarray, mask: np.ndarray) -> sp.csr_matrix:
        """``[B, n_items]`` CSR: the weight of each item of each history (position, IDF)."""
        rows, items, positions, lengths = history_positions(history, mask)
        weights = POSITION_WEIGHTS[self.weighting](positions.astype(np.float64), lengths.astype(np.float64))
        if self.idf:
            weights = weights * self.stats["idf"][items]
        return sp.csr_matrix((weights, (rows, items)), shape=(len(history), self.n_items))

    def neighbours(self, history: np.ndarray, mask: np.ndarray) -> sp.csr_matrix:
        """``[B, S]`` CSR: the similarity of each history to each of its ``k`` neighbours."""
        occurs = self.sessions_matrix()
        query = history_matrix(history, mask, self.n_items, binary=True)  # [B, N]
        rows, cols = recent_candidates(query @ occurs.T, self.sample_size)
        dots = (self.session_vectors(history, mask) @ occurs.T).tocsr()  # [B, S] (zero sums dropped)
        shared = np.asarray(dots[rows, cols]).ravel() if len(rows) else np.zeros(0)
        sims = shared / np.asarray(query.sum(axis=1)).ravel()[rows]
        return nearest(rows, cols, sims, (len(history), occurs.shape[0]), self.k)

    def scores(self, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``[B, n_items]``: summed neighbour similarities of the items they hold."""
        return (self.neighbours(history, mask) @ self.sessions_matrix()).astype(np.float32).toarray()
