"""The two protocols' evaluators; the trainer calls one after every epoch, and once on
the test split with the selected weights.

* notebook protocol: :class:`RecallEvaluator`, Faiss recall@N / ndcg@N / hitrate@N of the
  held-out users (spec ``notebook.md`` §6-7), selection on ``recall@N``;
* paper protocol: :class:`NextItemEvaluator`, full-catalogue P@K / MRR@K (spec
  ``paper.md``), selection on P@20 with MRR@20 breaking ties.

Both reach the model through the contract only (:class:`~srgnn_paddle.models.Recommender`).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import paddle
from tqdm import tqdm

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import make_loader
from srgnn_paddle.evaluation.metrics import rank_sums
from srgnn_paddle.evaluation.retrieval import evaluate_model
from srgnn_paddle.models.base import Recommender


def _graph_layout(model: Recommender):
    """The loader's graph option for a model's batch layout."""
    return "packed" if model.batch_layout == "session_graph" else None


class RecallEvaluator:
    """Notebook protocol: Faiss top-N recall of users (``recall@N, ndcg@N, hitrate@N``).

    Args:
        dataset: the held-out users (a ``SequenceDataset`` in its test phase).
        cfg: ``topN``, ``eval_batch_size``, ``index``, ``ivf_nlist``, ``ivf_nprobe``.
        model: the model to be scored (its batch layout decides what the loader builds).
        progress: show a tqdm bar.
    """

    def __init__(self, dataset, cfg: Config, model: Recommender, progress: bool = False) -> None:
        self.loader = make_loader(dataset, cfg.eval_batch_size, graph=_graph_layout(model))
        self.cfg = cfg
        self.progress = progress
        self.key = f"recall@{cfg.topN}"

    def __call__(self, model: Recommender, desc: str = "eval") -> Dict[str, float]:
        loader = tqdm(self.loader, desc=desc, leave=False, disable=not self.progress)
        return evaluate_model(model, loader, model.embedding_dim, self.cfg.topN,
                              index_kind=self.cfg.index, nlist=self.cfg.ivf_nlist, nprobe=self.cfg.ivf_nprobe)

    def score(self, metrics: Dict[str, float]) -> Tuple[float, ...]:
        """The selection key of a result (larger is better)."""
        return (metrics[self.key],)

    def columns(self) -> List[str]:
        """The metric columns of ``log.csv``, in the notebook's order."""
        n = self.cfg.topN
        return [f"recall@{n}", f"ndcg@{n}", f"hitrate@{n}"]


class NextItemEvaluator:
    """Paper protocol: full-catalogue scores, P@K and MRR@K (x100) for K in :attr:`KS`.

    Each target's rank among the catalogue is counted by the run's kernels
    (:meth:`srgnn_paddle.kernels.Kernels.target_ranks`: ties count against the target; the
    padding column is never a candidate, even for a model trained with
    ``score_padding=True``), so a K wider than the catalogue is fine: every target is then
    within the top K (P@K = 100) and MRR@K is the uncut mean reciprocal rank.

    Args:
        dataset: ``(prefix, next item)`` pairs (a ``SessionDataset`` or a subset of one).
        cfg: ``eval_batch_size``, ``num_workers``.
        model: the model to be scored (its batch layout decides what the loader builds).
        kernels: the run's :class:`~srgnn_paddle.kernels.Kernels`.
        progress: show a tqdm bar.
    """

    KS = (10, 20, 50)

    def __init__(self, dataset, cfg: Config, model: Recommender, kernels, progress: bool = False) -> None:
        self.loader = make_loader(dataset, cfg.eval_batch_size, num_workers=cfg.num_workers,
                                  graph=_graph_layout(model))
        self.kernels = kernels
        self.progress = progress
        self.n = len(dataset)

    def __call__(self, model: Recommender, desc: str = "eval") -> Dict[str, float]:
        was_training = model.training
        model.eval()
        sums: Dict[str, float] = {}
        try:
            with paddle.no_grad():
                for batch in tqdm(self.loader, desc=desc, leave=False, disable=not self.progress):
                    for key, value in rank_sums(self.kernels.target_ranks(model, batch), self.KS).items():
                        sums[key] = sums.get(key, 0.0) + value
        finally:
            if was_training:
                model.train()
        return {key: 100.0 * value / self.n for key, value in sums.items()}

    def score(self, metrics: Dict[str, float]) -> Tuple[float, ...]:
        """The selection key: ``(P@20, MRR@20)``, compared lexicographically."""
        return (metrics["P@20"], metrics["MRR@20"])

    def columns(self) -> List[str]:
        """The metric columns of ``log.csv``."""
        return ["P@20", "MRR@20", "P@10", "MRR@10", "P@50", "MRR@50"]


def make_evaluator(cfg: Config, dataset, model: Recommender, kernels, progress: bool = False):
    """The protocol's evaluator on ``dataset``: :class:`NextItemEvaluator` (paper) or
    :class:`RecallEvaluator` (notebook)."""
    if cfg.protocol == "paper":
        return NextItemEvaluator(dataset, cfg, model, kernels, progress)
    return RecallEvaluator(dataset, cfg, model, progress)
