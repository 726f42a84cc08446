"""The counted models' contract: statistics counted from the training sessions instead of
trained weights, and full-catalogue scores computed with numpy / scipy.sparse.

A :class:`CountModel` is a :class:`~srgnn_paddle.models.base.Scorer` (the declarations and
``full_scores`` every model has), not a ``paddle.nn.Layer``: it has no parameters, no
``encode`` and no item table. Its contract is three things:

* :meth:`~CountModel.fit`: count the statistics from the training sessions (the trainer
  calls it once, in place of the epochs);
* :meth:`~CountModel.full_scores`: ``[B, n_items]`` scores of every item for a batch of
  histories (ranked by the same evaluators as a trained model's);
* its state: the counted numpy arrays in :attr:`CountModel.stats`, carried as tensors by
  :meth:`~CountModel.state_dict` / :meth:`~CountModel.set_state_dict`, so ``model.pdparams``,
  ``evaluate`` and ``predict`` work as for the trained models.

``train()`` / ``eval()`` / ``training`` are there because the evaluators switch any model to
evaluation mode and back; counting has no mode.
"""
from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Tuple

import numpy as np
import paddle
import scipy.sparse as sp

from srgnn_paddle.config import Config
from srgnn_paddle.data.datasets import SessionTable
from srgnn_paddle.models.base import PADDING_SCORE, Scorer


def session_item_matrix(sessions: SessionTable, n_items: int, binary: bool = True) -> sp.csr_matrix:
    """``[S, n_items]`` CSR: how often each session holds each item (1/0 with ``binary``),
    column indices sorted."""
    data = np.ones(len(sessions.items), dtype=np.float64)
    matrix = sp.csr_matrix((data, (sessions.owners(), sessions.items)), shape=(len(sessions), n_items))
    matrix.sum_duplicates()
    if binary:
        matrix.data[:] = 1.0
    return matrix


def history_matrix(history: np.ndarray, mask: np.ndarray, n_items: int, binary: bool = False) -> sp.csr_matrix:
    """``[B, n_items]`` CSR of a batch's histories (``history [B, L]``, ``mask [B, L]``):
    each item's count in the row's history (1/0 with ``binary``)."""
    rows, cols = np.nonzero(np.asarray(mask) > 0)
    items = np.asarray(history)[rows, cols]
    matrix = sp.csr_matrix((np.ones(len(items)), (rows, items)), shape=(len(history), n_items))
    matrix.sum_duplicates()
    if binary:
        matrix.data[:] = 1.0
    return matrix


def last_items(history: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[B]`` the last real item of each right-padded history ``[B, L]``."""
    lengths = (np.asarray(mask) > 0).sum(axis=1)
    return np.asarray(history)[np.arange(len(history)), np.maximum(lengths - 1, 0)]


class CountModel(Scorer):
    """Base of the baselines without training: :meth:`fit` counts, :meth:`scores` scores.

    Subclasses implement :meth:`fit` (fill :attr:`stats`) and :meth:`scores`.
    """

    trainable: ClassVar[bool] = False
    inner_product: ClassVar[bool] = False
    batch_layout: ClassVar[str] = "sequence"
    #: The options ``tune`` searches (:mod:`srgnn_paddle.training.search`): config key -> the
    #: values tried, the config's default among them. Empty: the model has nothing to tune.
    search_space: ClassVar[Mapping[str, Tuple[Any, ...]]] = {}

    def __init__(self, cfg: Config) -> None:
        self.n_items = int(cfg.n_items)
        self.score_padding = False
        self.stats: Dict[str, np.ndarray] = {}
        self.training = True

    @classmethod
    def from_config(cls, cfg: Config, **options: Any) -> "CountModel":
        """The model for ``cfg``; ``options`` (gradient settings of the trained models) do
        not apply to counts and are ignored."""
        return cls(cfg)

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """Just the display name: learning rate, batch size and dimension do not apply."""
        return cls.display_name

    def fit(self, sessions: SessionTable) -> None:
        """Count :attr:`stats` from the training sessions
        (:class:`~srgnn_paddle.data.datasets.SessionTable`)."""
        raise NotImplementedError

    # -- state: the counted arrays
    def state_dict(self) -> Dict[str, paddle.Tensor]:
        """:attr:`stats` as tensors (what ``model.pdparams`` holds)."""
        return {name: paddle.to_tensor(value) for name, value in self.stats.items()}

    def set_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :attr:`stats` from :meth:`state_dict`'s output (tensors or arrays)."""
        self.stats = {name: np.asarray(value.numpy() if isinstance(value, paddle.Tensor) else value)
                      for name, value in state_dict.items()}

    def n_parameters(self) -> int:
        """No trained numbers: 0."""
        return 0

    def train(self) -> None:
        """Counting has no training mode (kept for the evaluators' mode switch)."""
        self.training = True

    def eval(self) -> None:
        """Counting has no evaluation mode (kept for the evaluators' mode switch)."""
        self.training = False

    # -- scoring
    def scores(self, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``[B, n_items]`` float32 scores of every item for each history (``[B, L]``), a
        new array (sums are taken in float64 and rounded once)."""
        raise NotImplementedError

    def full_scores(self, batch: Any) -> paddle.Tensor:
        """:meth:`scores` of the batch as a float32 tensor ``[B, n_items]``, the padding
        column at ``-1e9``."""
        if not self.stats:
            raise RuntimeError(f"{type(self).__name__} has no statistics: call fit() or set_state_dict() first")
        scores = self.scores(np.asarray(batch.history), np.asarray(batch.mask))
        scores[:, 0] = PADDING_SCORE
        return paddle.to_tensor(scores)


def recent_candidates(overlap: sp.csr_matrix, sample_size: int) -> tuple:
    """The candidate neighbours of each row of ``overlap [B, S]`` (its nonzero entries: the
    training sessions sharing an item with the row's history; sessions in date order), at most
    the ``sample_size`` most recent of them per row (0: all): ``(rows [M], cols [M])`` int64."""
    overlap = overlap.tocsr()
    overlap.sort_indices()  # within a row: older sessions first
    rows = np.repeat(np.arange(overlap.shape[0], dtype=np.int64), np.diff(overlap.indptr))
    cols = overlap.indices.astype(np.int64)
    if sample_size:  # the last entries of each row
        from_end = overlap.indptr[rows + 1] - 1 - np.arange(len(cols))
        keep = from_end < sample_size
        rows, cols = rows[keep], cols[keep]
    return rows, cols


def nearest(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, shape: tuple, k: int) -> sp.csr_matrix:
    """``shape = (B, S)`` CSR of the ``k`` most similar candidates of each row (``rows``,
    ``cols``, ``sims`` ``[M]``; ties: the more recent, larger ``col``, first) with their
    similarities."""
    order = np.lexsort((-cols, -sims, rows))  # per row: most similar, then most recent
    rows, cols, sims = rows[order], cols[order], sims[order]
    row_start = np.searchsorted(rows, np.arange(shape[0]))
    keep = np.arange(len(rows)) - row_start[rows] < k
    return sp.csr_matrix((sims[keep], (rows[keep], cols[keep])), shape=shape)


def history_positions(history: np.ndarray, mask: np.ndarray) -> tuple:
    """The distinct items of each right-padded history ``[B, L]`` at their last position:
    ``(rows [M], items [M], positions [M] (1-based), lengths [M])`` int64, ``lengths`` the
    row's history length."""
    history, real = np.asarray(history), np.asarray(mask) > 0
    rows, cols = np.nonzero(real)
    items = history[rows, cols].astype(np.int64)
    key = rows.astype(np.int64) * (int(items.max(initial=0)) + 1) + items
    _, last = np.unique(key[::-1], return_index=True)  # first in reverse = last occurrence
    pick = len(key) - 1 - last
    lengths = real.sum(axis=1).astype(np.int64)
    return rows[pick].astype(np.int64), items[pick], cols[pick].astype(np.int64) + 1, lengths[rows[pick]]
