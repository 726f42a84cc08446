"""The model contracts: everything the trainer, the evaluators, retrieval, t-SNE and the
report may ask of a model (in the spirit of RecBole's ``calculate_loss`` /
``full_sort_predict``, kept small).

Every model, trained or counted, is a :class:`Scorer`: it declares (class attributes)
:attr:`~Scorer.name` (the ``--model`` key), :attr:`~Scorer.batch_layout` (what the loader
must build), :attr:`~Scorer.inner_product` and :attr:`~Scorer.trainable`, is built from a
:class:`~srgnn_paddle.config.Config` by :meth:`~Scorer.from_config`, and scores every item
for a batch (:meth:`~Scorer.full_scores`, ``[B, n_items]``).

A trained model is a ``paddle.nn.Layer`` subclass of :class:`Recommender` that

* declares :attr:`~Scorer.inner_product` (scores rank the items as ``encode(batch) @
  item_embeddings().T`` does, so the full softmax, the rank counting and Faiss retrieval
  apply; a model may add a constant per row, e.g. GMF's output bias);
* implements :meth:`~Recommender.encode` (``[B, D]`` session/user vectors) and
  :meth:`~Recommender.item_embeddings` (``[n_items, D]``, row ``c`` is item ``c``, row 0
  padding);
* may override :meth:`~Recommender.encode_positions` (``[B, L, D]``, the vector of every
  prefix of the histories, for ``targets: all``; default: each prefix encoded as a
  sample of its own, exact for any model, one pass for a causal one),
  :meth:`~Recommender.calculate_loss` (default: full-catalogue softmax cross-entropy of
  :meth:`~Recommender.loss_inputs`), :meth:`~Recommender.full_scores` and
  :meth:`~Recommender.score_items` (the scores of given candidates per row: the
  leave-one-out protocol's 1 + 99 items; default: inner products). Models that are not
  inner-product ones (``inner_product = False``, e.g. NCF's MLP and NeuMF, which score a
  pair with a non-linear head) implement both, and their ``encode`` / ``item_embeddings``
  are descriptive only (t-SNE);
* declares the parameters whose gradients are row-sparse (:meth:`~Recommender.sparse_parameters`);
* may learn from the training sessions as a whole before the first epoch
  (:attr:`~Recommender.uses_training_sessions` and :meth:`~Recommender.fit_sessions`, e.g.
  GCE-GNN's global item graph), into its state (buffers), so that checkpoints, ``--resume``
  and loaded runs carry it.

Models without gradient training (the count baselines: popularity, item-KNN, session-KNN)
are on a contract of their own, :class:`~srgnn_paddle.models.counts.CountModel`: ``fit``
(their statistics from the training sessions), ``full_scores``, and their state (the
counted arrays); the trainer calls ``fit`` once instead of the epochs and scores them with
the same evaluators.

Models are written with plain Paddle layers. The CPU speed-ups are chosen by the trainer in
one place, :mod:`srgnn_paddle.kernels`: they reach a model as the ``cross_entropy``
argument of :meth:`~Recommender.calculate_loss` and through the dense layers it builds as
:class:`srgnn_paddle.kernels.linear.Linear` (the GEMMs it opts into the host kernel).
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, List, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import LAYOUT_GRAPHS, Batch

#: What a model can ask the loader for (:data:`srgnn_paddle.data.loaders.LAYOUT_GRAPHS`):
#: padded histories with their packed session graphs (``session_graph``), padded histories
#: alone (``sequence``), (user, item) pairs (``pairs``), or a graph of a model's own.
BATCH_LAYOUTS = tuple(LAYOUT_GRAPHS)

#: ``cross_entropy(user [B, D], items [N, D], target [B] int64, mask_padding) -> scalar``
CrossEntropy = Callable[[paddle.Tensor, paddle.Tensor, paddle.Tensor, bool], paddle.Tensor]

PADDING_SCORE = -1e9  # the score of the padding column when it is not a candidate


def mask_padding_column(scores: paddle.Tensor) -> paddle.Tensor:
    """``scores [B, N]`` with column 0 (the padding item) pushed to ``-1e9``."""
    pad = paddle.zeros([scores.shape[-1]], dtype=scores.dtype)
    pad[0] = PADDING_SCORE
    return scores + pad


def softmax_cross_entropy(user: paddle.Tensor, items: paddle.Tensor, target: paddle.Tensor,
                          mask_padding: bool = False) -> paddle.Tensor:
    """Mean cross-entropy of ``softmax(user @ items.T)`` against ``target``, in plain Paddle.

    Args:
        user: ``[B, D]`` float32.
        items: ``[N, D]`` item table; column ``c`` of the scores is item ``c``.
        target: ``[B]`` int64 item ids.
        mask_padding: item 0 is not a candidate (the paper's scoring).
    Returns:
        the scalar loss.
    """
    return scores_cross_entropy(paddle.matmul(user, items, transpose_y=True), target, mask_padding)


def scores_cross_entropy(scores: paddle.Tensor, target: paddle.Tensor, mask_padding: bool = False) -> paddle.Tensor:
    """Mean cross-entropy of ``softmax(scores)`` against ``target``, in plain Paddle:
    ``scores [B, N]`` float32, ``target [B]`` int64, ``mask_padding``: item 0 is not a
    candidate (its score at ``-1e9``) -> the scalar loss."""
    if mask_padding:
        scores = mask_padding_column(scores)
    return F.cross_entropy(scores, target.reshape([-1]))


class Scorer:
    """What every model declares and offers, trained or counted.

    Class attributes (declared by each model):
        name: the registry key (``train --model NAME``).
        display_name: the run folder's prefix (``SRGNN`` -> ``SRGNN_<lr>_<batch>_<dim>``).
        batch_layout: one of :data:`BATCH_LAYOUTS`.
        inner_product: scores rank items as ``encode(batch) @ item_embeddings().T`` does
            (equal to it up to a constant per row).
        trainable: trained by gradient steps (the epochs, :class:`Recommender`); ``False``:
            statistics counted once (:class:`~srgnn_paddle.models.counts.CountModel`).

    Instance attributes (set by each model's constructor):
        n_items: rows of the item table (ids ``1..n_items-1``, 0 = padding).
        score_padding: column 0 is a candidate of the training softmax (the notebook) or
            not (the paper); evaluation never ranks it (see
            :class:`~srgnn_paddle.evaluation.NextItemEvaluator`).
    """

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    batch_layout: ClassVar[str] = "sequence"
    inner_product: ClassVar[bool] = True
    trainable: ClassVar[bool] = True

    n_items: int
    score_padding: bool = True

    @classmethod
    def from_config(cls, cfg: Config, **options: Any) -> "Scorer":
        """The model for ``cfg`` (``cfg.n_items`` already set from the data)."""
        return cls(cfg, **options)

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """The run folder's name: ``<display_name>_<lr>_<batch_size>_<embedding_dim>``
        (``SRGNN_0.0001_256_16`` for the notebook's run), ``_all`` appended for ``targets: all``."""
        suffix = "_all" if cfg.targets == "all" else ""
        return f"{cls.display_name}_{cfg.lr}_{cfg.batch_size}_{cfg.embedding_dim}{suffix}"

    def targets(self, batch: Any) -> paddle.Tensor:
        """The batch's target item ids as a ``[B]`` int64 tensor."""
        target = batch.target
        target = target if isinstance(target, paddle.Tensor) else paddle.to_tensor(target)
        return target.astype("int64").reshape([-1])

    def full_scores(self, batch: Any) -> paddle.Tensor:
        """Scores of every item for every row of a batch: ``[B, n_items]`` float32 (column
        ``c`` is item ``c``; the padding column at ``-1e9`` when ``score_padding`` is off)."""
        raise NotImplementedError


class Recommender(Scorer, nn.Layer):
    """Base class of the trained models: the contract the trainer, the evaluators, retrieval
    and t-SNE rely on (the declarations of :class:`Scorer`, plus ``embedding_dim``: ``D``)."""

    embedding_dim: int
    #: the trainer calls :meth:`fit_sessions` with the training sessions before the first epoch
    uses_training_sessions: ClassVar[bool] = False

    def fit_sessions(self, sessions: Any) -> None:
        """Learn what the model derives from the training sessions as a whole, before any
        epoch (called by the trainer once per fresh run, also a refit, when
        :attr:`uses_training_sessions`; a resumed run has it from its checkpoint).

        Args:
            sessions: a :class:`~srgnn_paddle.data.datasets.SessionTable`: the training
                dataset's ``sessions()``, the sessions the counted models' ``fit`` gets.

        What it learns must live in the model's state (``register_buffer``, persistable,
        with shapes fixed by the constructor), so that ``state_dict`` carries it. Default:
        nothing."""

    def encode(self, batch: Any) -> paddle.Tensor:
        """Session/user vectors of a batch (:class:`~srgnn_paddle.data.Batch`): ``[B, D]``."""
        raise NotImplementedError

    def item_embeddings(self) -> paddle.Tensor:
        """The scored item table ``[n_items, D]`` (row ``c`` is item ``c``, row 0 padding)."""
        raise NotImplementedError

    def encode_positions(self, batch: Any) -> paddle.Tensor:
        """The vector of every prefix of the batch's histories: ``[B, L, D]``, row ``[b, t]``
        is what :meth:`encode` gives for ``history[b, :t + 1]`` alone (zeros on padding).

        This default encodes each real prefix as a sample of its own, in one call of
        :meth:`encode` on a batch of ``P`` prefixes (``P`` = real entries of the batch): exact
        for any model, at the cost of prefix augmentation. Causal models (a GRU read left
        to right) override it with one pass over the histories.
        """
        history = np.asarray(batch.history)
        real = np.asarray(batch.mask) > 0
        rows, cols = np.nonzero(real)  # [P] each
        width = int(cols.max()) + 1
        prefixes = np.where(np.arange(width)[None, :] <= cols[:, None], history[rows, :width], 0)  # [P, W]
        prefix_batch = Batch(prefixes, (prefixes > 0).astype("float32"), None, seed=getattr(batch, "seed", None))
        vectors = self.encode(prefix_batch)  # [P, D]
        slot = np.zeros(history.shape, dtype=np.int64)  # 0: the zero row, p + 1: prefix p
        slot[rows, cols] = np.arange(1, len(rows) + 1)
        padded = paddle.concat([paddle.zeros([1, vectors.shape[1]], dtype=vectors.dtype), vectors])  # [P + 1, D]
        return paddle.gather(padded, paddle.to_tensor(slot.reshape(-1))).reshape([*history.shape, -1])

    def loss_inputs(self, batch: Any) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """The ``(vectors [N, D], targets [N] int64)`` a batch is trained on: ``encode`` and
        ``targets`` (``N = B``), or, when the batch carries ``position_targets``
        (``targets: all``), the :meth:`encode_positions` rows of its ``N`` target positions."""
        position_targets = getattr(batch, "position_targets", None)
        if position_targets is None:
            return self.encode(batch), self.targets(batch)
        flat = np.asarray(position_targets, dtype=np.int64).reshape(-1)
        keep = paddle.to_tensor(np.flatnonzero(flat > 0))
        vectors = self.encode_positions(batch)  # [B, L, D]
        vectors = paddle.gather(vectors.reshape([-1, vectors.shape[-1]]), keep)  # [N, D]
        return vectors, paddle.gather(paddle.to_tensor(flat), keep)

    def calculate_loss(self, batch: Any, cross_entropy: Optional[CrossEntropy] = None) -> paddle.Tensor:
        """The training loss of a batch (scalar): by default the full-catalogue softmax
        cross-entropy of :meth:`loss_inputs` (with ``targets: all`` the mean over the
        batch's target positions). ``cross_entropy`` is the kernel the trainer chose
        (:func:`softmax_cross_entropy`, plain Paddle, when not given)."""
        cross_entropy = cross_entropy or softmax_cross_entropy
        vectors, targets = self.loss_inputs(batch)
        return cross_entropy(vectors, self.item_embeddings(), targets, not self.score_padding)

    def full_scores(self, batch: Any) -> paddle.Tensor:
        """Scores of every item for every row of a batch: ``[B, n_items]`` (column ``c`` is
        item ``c``; the padding column at ``-1e9`` when ``score_padding`` is off)."""
        scores = paddle.matmul(self.encode(batch), self.item_embeddings(), transpose_y=True)
        return scores if self.score_padding else mask_padding_column(scores)

    def score_items(self, batch: Any, items: Any) -> paddle.Tensor:
        """Scores of given items for each row of a batch: ``items [B, C]`` int64 (numpy or
        tensor) -> ``[B, C]`` float32 (column ``c`` is item ``items[:, c]``). Default: the inner
        products of ``encode(batch)`` with those rows of ``item_embeddings()``."""
        items = items if isinstance(items, paddle.Tensor) else paddle.to_tensor(items)
        rows, cols = items.shape
        vectors = paddle.gather(self.item_embeddings(), items.reshape([-1])).reshape([rows, cols, -1])  # [B, C, D]
        return (vectors * self.encode(batch).unsqueeze(1)).sum(axis=-1)

    def sparse_parameters(self) -> List[str]:
        """The names (as in ``named_parameters``) of the parameters whose gradient is
        row-sparse (an ``nn.Embedding`` built with ``sparse=True``): the kernels build the
        optimiser accordingly. Default: none."""
        return []

    def n_parameters(self) -> int:
        """The number of trainable numbers."""
        return int(sum(p.size for p in self.parameters() if not p.stop_gradient))
