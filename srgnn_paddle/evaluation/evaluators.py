"""The protocols' evaluators; the trainer calls one after every epoch, and once on the
test split with the selected weights (each protocol of :mod:`srgnn_paddle.protocols`
builds its own; see ``docs/protocols.md``).

* notebook protocol: :class:`RecallEvaluator`, Faiss recall@N / ndcg@N / hitrate@N of the
  held-out users, selection on ``recall@N``;
* paper protocol: :class:`NextItemEvaluator`, full-catalogue P@K / MRR@K, selection on
  P@K with MRR@K breaking ties (K = ``topN``, 20 by default);
* loo protocol: :class:`LeaveOneOutEvaluator`, HR@K / NDCG@K of each user's held-out item
  among it and its sampled negatives, and among the full catalogue; selection on the
  sampled HR@K with NDCG@K breaking ties.

All reach the model through the contract only (:class:`~srgnn_paddle.models.Recommender`).
Each has ``n`` (the cases it scores: users, or (prefix, next item) pairs) and ``ranks``:
after a call, the ``[n]`` int32 rank of every case's target in the dataset's order where
the protocol has one target per case (the paper protocol's; the trainer saves the test
split's as ``test_ranks.npy`` for paired significance tests,
:mod:`srgnn_paddle.evaluation.significance`), else None.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import paddle
from tqdm import tqdm

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import make_loader
from srgnn_paddle.data.pairs import HeldOutDataset, PairBatch
from srgnn_paddle.evaluation.metrics import candidate_ranks, hr_ndcg_sums, rank_sums
from srgnn_paddle.evaluation.retrieval import evaluate_model
from srgnn_paddle.models.base import Recommender
from srgnn_paddle.protocols import get_protocol


class RecallEvaluator:
    """Notebook protocol: Faiss top-N recall of users (``recall@N, ndcg@N, hitrate@N``).

    Args:
        dataset: the held-out users (a ``SequenceDataset`` in its test phase).
        cfg: ``topN``, ``eval_batch_size``, ``index``, ``ivf_nlist``, ``ivf_nprobe``.
        model: the model to be scored (its batch layout decides what the loader builds).
        progress: show a tqdm bar.
    """

    def __init__(self, dataset, cfg: Config, model: Recommender, progress: bool = False) -> None:
        self.loader = make_loader(dataset, cfg.eval_batch_size, layout=model.batch_layout)
        self.cfg = cfg
        self.progress = progress
        self.key = f"recall@{cfg.topN}"
        self.n = len(dataset)
        self.ranks: Optional[np.ndarray] = None  # several ground-truth items per user: no single rank

    def __call__(self, model: Recommender, desc: str = "eval") -> Dict[str, float]:
        loader = tqdm(self.loader, desc=desc, leave=False, disable=not self.progress)
        return evaluate_model(model, loader, getattr(model, "embedding_dim", 0), self.cfg.topN,
                              index_kind=self.cfg.index, nlist=self.cfg.ivf_nlist, nprobe=self.cfg.ivf_nprobe)

    def score(self, metrics: Dict[str, float]) -> Tuple[float, ...]:
        """The selection key of a result (larger is better)."""
        return (metrics[self.key],)

    def columns(self) -> List[str]:
        """The metric columns of ``log.csv``, in the notebook's order."""
        n = self.cfg.topN
        return [f"recall@{n}", f"ndcg@{n}", f"hitrate@{n}"]


class NextItemEvaluator:
    """Paper protocol: full-catalogue scores, P@K and MRR@K (x100) for K in ``ks``
    (default :attr:`KS`), selected on ``(P@k, MRR@k)``.

    Each target's rank among the catalogue is counted by the run's kernels
    (:meth:`srgnn_paddle.kernels.Kernels.target_ranks`: ties count against the target; the
    padding column is never a candidate, even for a model trained with
    ``score_padding=True``), so a K wider than the catalogue is fine: every target is then
    within the top K (P@K = 100) and MRR@K is the uncut mean reciprocal rank. After a call,
    ``ranks`` holds those ranks, ``[n]`` int32 in the dataset's order.

    Args:
        dataset: ``(prefix, next item)`` pairs (a ``SessionDataset`` or a subset of one).
        cfg: ``eval_batch_size``, ``num_workers``.
        model: the model to be scored (its batch layout decides what the loader builds).
        kernels: the run's :class:`~srgnn_paddle.kernels.Kernels`.
        progress: show a tqdm bar.
        ks: the cut-offs scored.
        k: the cut-off of the selection key and of the first log columns (one of ``ks``).
    """

    KS = (10, 20, 50)

    def __init__(self, dataset, cfg: Config, model: Recommender, kernels, progress: bool = False,
                 ks: Sequence[int] = KS, k: int = 20) -> None:
        self.loader = make_loader(dataset, cfg.eval_batch_size, num_workers=cfg.num_workers,
                                  layout=model.batch_layout)
        self.ks = tuple(ks)
        self.k = int(k)
        if self.k not in self.ks:
            raise ValueError(f"the selection cut-off k={self.k} must be one of ks {self.ks}")
        self.kernels = kernels
        self.progress = progress
        self.n = len(dataset)
        self.ranks: Optional[np.ndarray] = None

    def __call__(self, model: Recommender, desc: str = "eval") -> Dict[str, float]:
        was_training = model.training
        model.eval()
        sums: Dict[str, float] = {}
        parts: List[np.ndarray] = []
        try:
            with paddle.no_grad():
                for batch in tqdm(self.loader, desc=desc, leave=False, disable=not self.progress):
                    ranks = np.asarray(self.kernels.target_ranks(model, batch)).reshape(-1)
                    parts.append(ranks.astype(np.int32))
                    for key, value in rank_sums(ranks, self.ks).items():
                        sums[key] = sums.get(key, 0.0) + value
        finally:
            if was_training:
                model.train()
        self.ranks = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        return {key: 100.0 * value / self.n for key, value in sums.items()}

    def score(self, metrics: Dict[str, float]) -> Tuple[float, ...]:
        """The selection key: ``(P@k, MRR@k)``, compared lexicographically."""
        return (metrics[f"P@{self.k}"], metrics[f"MRR@{self.k}"])

    def columns(self) -> List[str]:
        """The metric columns of ``log.csv``: ``P@k, MRR@k``, then the other cut-offs."""
        order = [self.k] + [k for k in self.ks if k != self.k]
        return [name for k in order for name in (f"P@{k}", f"MRR@{k}")]


class LeaveOneOutEvaluator:
    """Leave-one-out protocol (NCF, He et al. 2017): for every user, the rank of the held-out
    item (1) among it and its sampled negatives (1 + 99 in the NCF files): ``HR@K``,
    ``NDCG@K``; and (2) among the full catalogue less the items the user has training
    interactions with (the held-out item itself always competes; the padding item never):
    ``full_HR@K``, ``full_NDCG@K``. Fractions in [0, 1], means over users.

    Ranks are counted, ties against the held-out item (:func:`candidate_ranks`): a model
    scoring a negative exactly as the positive loses that comparison (the authors' ``heapq``
    top-K does the same, as the positive comes last in its list). All users of a batch are
    scored at once (``score_items`` on ``[B, 1 + C]`` candidates, ``full_scores`` for the
    catalogue): no per-user Python loop.

    Args:
        dataset: a :class:`~srgnn_paddle.data.pairs.HeldOutDataset`.
        cfg: ``topN`` (the K), ``eval_batch_size``.
        model: the model to be scored.
        kernels: unused (the ranks are counted in numpy), kept for the common signature.
        progress: show a tqdm bar.
        full_ranking: also rank the full catalogue (else the ``full_*`` metrics are NaN);
            default: always on the test split, on the validation split with
            ``cfg.valid_full_ranking``.
    """

    def __init__(self, dataset: HeldOutDataset, cfg: Config, model: Optional[Recommender] = None, kernels=None,
                 progress: bool = False, full_ranking: Optional[bool] = None) -> None:
        self.dataset = dataset
        self.loader = make_loader(dataset, cfg.eval_batch_size, layout="pairs")
        self.k = cfg.topN
        self.n = len(dataset)
        self.ranks: Optional[np.ndarray] = None  # two rankings per user (sampled, full): none saved
        self.progress = progress
        self.full_ranking = (dataset.split == "test" or cfg.valid_full_ranking) if full_ranking is None else full_ranking

    def __call__(self, model: Recommender, desc: str = "eval") -> Dict[str, float]:
        was_training = model.training
        model.eval()
        try:
            with paddle.no_grad():
                return self._metrics(lambda batch: model.score_items(batch, batch.candidates).numpy(),
                                     lambda batch: model.full_scores(batch).numpy(), desc)
        finally:
            if was_training:
                model.train()

    def fixed_scores(self, item_scores: np.ndarray, desc: str = "eval") -> Dict[str, float]:
        """The metrics of one score per item given to every user (e.g. training counts: the
        popularity ranking), ``item_scores [n_items]``."""
        item_scores = np.asarray(item_scores, dtype=np.float64)
        return self._metrics(lambda batch: item_scores[batch.candidates],
                             lambda batch: np.broadcast_to(item_scores, (len(batch), len(item_scores))), desc)

    def _metrics(self, sampled: Callable[[PairBatch], np.ndarray], full: Callable[[PairBatch], np.ndarray],
                 desc: str) -> Dict[str, float]:
        """Means over users of the sampled and full-catalogue metrics, from the score functions."""
        keys = self.columns()
        sums = dict.fromkeys(keys, 0.0)
        for batch in tqdm(self.loader, desc=desc, leave=False, disable=not self.progress):
            for key, value in hr_ndcg_sums(candidate_ranks(sampled(batch), np.zeros(len(batch))), self.k).items():
                sums[key] += value
            if self.full_ranking:
                for key, value in hr_ndcg_sums(self.full_ranks(full(batch), batch), self.k).items():
                    sums["full_" + key] += value
        n = max(len(self.dataset), 1)
        return {key: (value / n if self.full_ranking or not key.startswith("full_") else float("nan"))
                for key, value in sums.items()}

    def full_ranks(self, scores: np.ndarray, batch: PairBatch) -> np.ndarray:
        """``[B]`` ranks of the held-out items among ``scores [B, n_items]``, without the
        padding column and the users' training items."""
        competes = np.ones(scores.shape, dtype=bool)
        competes[:, 0] = False
        rows, items = self.dataset.excluded(batch.user)
        competes[rows, items] = False
        competes[np.arange(len(batch)), batch.item] = True
        return candidate_ranks(scores, batch.item, competes)

    def score(self, metrics: Dict[str, float]) -> Tuple[float, ...]:
        """The selection key: ``(HR@K, NDCG@K)`` over the sampled candidates, compared
        lexicographically."""
        return (metrics[f"HR@{self.k}"], metrics[f"NDCG@{self.k}"])

    def columns(self) -> List[str]:
        """The metric columns of ``log.csv``: sampled, then full-catalogue."""
        k = self.k
        return [f"HR@{k}", f"NDCG@{k}", f"full_HR@{k}", f"full_NDCG@{k}"]


def make_evaluator(cfg: Config, dataset, model: Recommender, kernels, progress: bool = False):
    """The evaluator of ``cfg.protocol`` on ``dataset`` (:meth:`srgnn_paddle.protocols.Protocol.evaluator`)."""
    return get_protocol(cfg.protocol).evaluator(cfg, dataset, model, kernels, progress)
