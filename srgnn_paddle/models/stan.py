"""STAN, sequence and time aware neighbourhood (Garg, Gupta, Malhotra, Vig, Shroff, "Sequence
and Time Aware Neighborhood for Session-based Recommendations", SIGIR 2019).

Session kNN with three exponential decays:

1. the current session ``s`` (length ``l``) is a real-valued vector: its item at position ``p``
   (1-based; a repeated item at its last position) weighs ``w1 = exp((p - l) / lambda_1)``;
   ``sim1(s, n) = sum_{i in s & n} w1(i) / sqrt(|s| |n|)`` with the training sessions binary
   and ``|.|`` the number of distinct items;
2. recency of the neighbour: ``sim2(s, n) = sim1(s, n) * exp(-(t_now - t_n) / lambda_2)``. The
   published pickles carry no timestamps, so a session's time is its index in the training file
   (the files are in date order): ``t_n = n`` (0-based), ``t_now`` the number of training
   sessions (the session being scored comes after all of them); ``lambda_2`` is in sessions,
   0 = no recency decay;
3. position in the neighbour: item ``i`` of neighbour ``n`` votes with ``sim2(s, n) *
   exp(-|p_n(i) - p_n(m)| / lambda_3)``, ``m`` the most recent item of ``s`` that ``n`` holds and
   ``p_n`` positions in ``n`` (a repeated item at its last position).

Candidates: the training sessions sharing an item with ``s`` (at most the ``sample_size`` most
recent; 0: all, the paper's choice); the ``k`` with the highest ``sim2`` are the neighbours
(ties: the more recent first); the score of item ``i`` is the sum of its neighbours' votes.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from srgnn_paddle.config import Config
from srgnn_paddle.data.datasets import SessionTable
from srgnn_paddle.models.counts import CountModel, history_positions, nearest, recent_candidates


class STAN(CountModel):
    """STAN with ``k = cfg.stan_neighbors``, ``sample_size = cfg.stan_sample_size`` and the
    decays ``cfg.stan_lambda1`` / ``stan_lambda2`` / ``stan_lambda3``."""

    name, display_name = "stan", "STAN"
    #: lambda2 in sessions (a session's index in the training file is its time), 0 = no recency decay
    search_space = {"stan_neighbors": (50, 100, 200, 500, 1000),
                    "stan_sample_size": (0, 1000, 2500, 5000, 10000),
                    "stan_lambda1": (0.5, 1.02, 2.05, 4.1, 8.2),
                    "stan_lambda2": (0.0, 2500.0, 10000.0, 50000.0, 200000.0),
                    "stan_lambda3": (0.5, 1.02, 2.05, 4.1, 8.2)}

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.k = int(cfg.stan_neighbors)
        self.sample_size = int(cfg.stan_sample_size)
        self.lambda1, self.lambda2, self.lambda3 = float(cfg.stan_lambda1), float(cfg.stan_lambda2), float(cfg.stan_lambda3)

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """``STAN_<k>_<sample_size>_<lambda1>_<lambda2>_<lambda3>``."""
        return (f"{cls.display_name}_{cfg.stan_neighbors}_{cfg.stan_sample_size}_{cfg.stan_lambda1:g}_"
                f"{cfg.stan_lambda2:g}_{cfg.stan_lambda3:g}")

    def fit(self, sessions: SessionTable) -> None:
        """Per training session its distinct items (sorted) at their last position (1-based), and
        each item's IDF (what VSTAN weighs with)."""
        owners, items = sessions.owners(), sessions.items.astype(np.int64)
        positions = np.arange(len(items), dtype=np.int64) - sessions.offsets[owners] + 1
        key = owners * self.n_items + items
        unique, last = np.unique(key[::-1], return_index=True)  # sorted by (session, item); the last occurrence
        pick = len(key) - 1 - last
        counts = np.bincount(owners[pick], minlength=len(sessions))
        holding = np.bincount(items[pick], minlength=self.n_items)
        self.stats = {"indptr": np.r_[0, np.cumsum(counts)].astype(np.int64), "indices": unique % self.n_items,
                      "positions": positions[pick],
                      "idf": np.log(len(sessions) / np.maximum(holding, 1)) * (holding > 0)}

    def sessions_matrix(self, values: np.ndarray | None = None) -> sp.csr_matrix:
        """``[S, n_items]`` CSR of the training sessions: binary, or ``values`` per entry."""
        indices = self.stats["indices"]
        data = np.ones(len(indices)) if values is None else values
        return sp.csr_matrix((data, indices, self.stats["indptr"]), shape=(len(self.stats["indptr"]) - 1, self.n_items))

    def session_weights(self, items: np.ndarray, positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``[M]`` the weights of the session vectors' entries: ``exp((p - l) / lambda_1)``."""
        return np.exp((positions - lengths) / self.lambda1)

    def vote_decay(self, lengths: np.ndarray, match_positions: np.ndarray) -> np.ndarray:
        """``[E]`` a factor on each neighbour's votes (VSTAN's); STAN: 1."""
        return np.ones(len(lengths))

    def scores(self, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``[B, n_items]``: summed neighbour votes (similarity times the in-neighbour decay)."""
        batch, occurs = len(history), self.sessions_matrix()
        n_sessions = occurs.shape[0]
        rows, items, positions, lengths = history_positions(history, mask)  # sorted by (row, item)
        weights = self.session_weights(items, positions.astype(np.float64), lengths.astype(np.float64))
        query = sp.csr_matrix((np.ones(len(rows)), (rows, items)), shape=(batch, self.n_items))
        cand_rows, cand_cols = recent_candidates(query @ occurs.T, self.sample_size)
        dots = (sp.csr_matrix((weights, (rows, items)), shape=(batch, self.n_items)) @ occurs.T).tocsr()
        shared = np.asarray(dots[cand_rows, cand_cols]).ravel() if len(cand_rows) else np.zeros(0)
        query_size = np.bincount(rows, minlength=batch).astype(np.float64)
        sims = shared / np.sqrt(query_size[cand_rows] * np.diff(self.stats["indptr"])[cand_cols])
        if self.lambda2:
            sims = sims * np.exp(-(n_sessions - cand_cols) / self.lambda2)
        neighbours = nearest(cand_rows, cand_cols, sims, (batch, n_sessions), self.k).tocoo()
        e_rows, e_cols, e_sims = neighbours.row.astype(np.int64), neighbours.col.astype(np.int64), neighbours.data
        if not len(e_rows):
            return np.zeros((batch, self.n_items), dtype=np.float32)
        # every item of every neighbour: neighbour e's session e_cols[e], its items one contiguous group
        starts, sizes = self.stats["indptr"][e_cols], np.diff(self.stats["indptr"])[e_cols]
        group = np.repeat(np.arange(len(e_cols)), sizes)
        bounds = np.cumsum(sizes) - sizes
        flat = np.repeat(starts, sizes) + np.arange(int(sizes.sum())) - np.repeat(bounds, sizes)
        held, held_pos = self.stats["indices"][flat], self.stats["positions"][flat]
        # each held item's position in the scored session (0: not in it): lookup in its sorted (row, item) keys
        keys, wanted = rows * self.n_items + items, e_rows[group] * self.n_items + held
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        in_session = np.where(keys[at] == wanted, positions[at], 0)
        match = np.maximum.reduceat(in_session, bounds)  # [E] position in s of the most recent shared item
        is_match = (in_session == match[group]) & (in_session > 0)
        match_in_neighbour = np.zeros(len(e_cols), dtype=np.int64)
        match_in_neighbour[group[is_match]] = held_pos[is_match]
        row_lengths = np.zeros(batch, dtype=np.float64)
        row_lengths[rows] = lengths
        votes = (e_sims * self.vote_decay(row_lengths[e_rows], match.astype(np.float64)))[group] \
            * np.exp(-np.abs(held_pos - match_in_neighbour[group]) / self.lambda3)
        out = sp.csr_matrix((votes, (e_rows[group], held)), shape=(batch, self.n_items))  # summed in float64
        return out.astype(np.float32).toarray()
