"""The notebook's call forms, beside the core models (``docs/notebook.md`` §10).

The AI Studio notebook that this toolkit ports builds ``SRGNN(config)`` from a dict, calls
``model(item_seq, mask, item, train=...)`` for ``{'user_emb': [B, D], 'loss': scalar}``,
reads the item table as ``model.output_items()`` and runs ``get_predict`` over loaders of
``(item_seq, mask, targets)`` tuples. Those forms are kept here, in one place, on top of the
contract (:class:`~srgnn_paddle.models.base.Recommender`: ``encode``, ``item_embeddings``):

* :func:`as_config`: a notebook-style dict -> :class:`~srgnn_paddle.config.Config`;
* :class:`NotebookCalls`: ``forward`` and ``output_items`` (mixed into
  :class:`~srgnn_paddle.models.srgnn.SRGNN`);
* :func:`user_vectors`, :func:`item_vectors`: what
  :func:`~srgnn_paddle.evaluation.retrieval.get_predict` indexes and searches, for a model of
  the contract or a notebook-style layer.

Every problem with the caller's input is raised as :class:`~srgnn_paddle.errors.SrgnnError`.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import paddle

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import SessionGraph, build_session_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.models.base import Recommender, softmax_cross_entropy
from srgnn_paddle.models.layers import TensorLike, as_tensor


def as_config(config: Union[Config, Mapping[str, Any]]) -> Config:
    """``config`` as a :class:`~srgnn_paddle.config.Config`.

    A dict takes the notebook's defaults (those of ``Config``: D 16, step 2, Paddle's
    initialisation, the padding item scored) for the keys it lacks; its keys that are not
    fields of ``Config`` (the notebook's training-loop settings, e.g. ``Epoch``) are not the
    model's and are ignored. Values are checked as a config file's are (SrgnnError naming
    the key).
    """
    if isinstance(config, Config):
        return config
    if not isinstance(config, Mapping):
        raise SrgnnError(f"a model config must be a Config or a dict, got {type(config).__name__}")
    known = {f.name for f in fields(Config)}
    return Config.from_dict({key: value for key, value in config.items() if key in known}, source="model config")


class NotebookCalls:
    """The notebook's ``forward`` and ``output_items`` for a graph model of the contract
    (one with ``encode_graph``, ``item_embeddings`` and ``score_padding``)."""

    def forward(
        self,
        item_seq: Optional[TensorLike],
        mask: Optional[TensorLike] = None,
        item: Optional[TensorLike] = None,
        train: bool = True,
        graph: Optional[SessionGraph | Sequence[TensorLike]] = None,
    ) -> Dict[str, paddle.Tensor]:
        """The notebook's call form ``model(item_seq, mask, item, train=...)``.

        Args:
            item_seq: ``[B, L]`` padded histories (ignored when ``graph`` is given).
            mask: ``[B, L]`` 1 on real items (any dtype); defaults to ``item_seq > 0``; used
                only when the graph is built here from ``item_seq``.
            item: ``[B]`` or ``[B, 1]`` target ids, needed when ``train``.
            train: compute the loss too (plain Paddle full-softmax cross-entropy).
            graph: a precomputed :class:`~srgnn_paddle.data.graph.PackedGraph` or
                :class:`~srgnn_paddle.data.graph.SessionGraph` (e.g. built in the data loader).
        Returns:
            ``{'user_emb': [B, D]}`` plus ``'loss'`` (scalar) when ``train``.
        Raises:
            SrgnnError: ``train`` without ``item``, or histories that are not right-padded ids.
        """
        if train and item is None:
            raise SrgnnError(f"{type(self).__name__}(...)(item_seq, mask, item, train=True) needs the target ids "
                             f"'item'; pass train=False for the session vectors alone")
        if graph is None:
            seq = item_seq.numpy() if isinstance(item_seq, paddle.Tensor) else np.asarray(item_seq)
            try:
                graph = build_session_graph(seq)
            except ValueError as exc:
                raise SrgnnError(f"item_seq: {exc}") from None
            if mask is not None:
                graph = graph._replace(mask=mask)
        user_emb = self.encode_graph(graph)
        out = {"user_emb": user_emb}
        if train:
            target = as_tensor(item).astype("int64").reshape([-1])
            out["loss"] = softmax_cross_entropy(user_emb, self.item_embeddings(), target, not self.score_padding)
        return out

    def output_items(self) -> paddle.Tensor:
        """The notebook's name for ``item_embeddings()``: ``[n_items, D]``, row 0 padding."""
        return self.item_embeddings()


def user_vectors(model, batch) -> Tuple[np.ndarray, Any]:
    """``(user vectors [B, D], ground truth)`` of one batch: a :class:`~srgnn_paddle.data.Batch`
    through the contract (``encode``), or the notebook's ``(item_seq, mask, targets)`` tuple
    through its call form ``model(item_seq, mask, None, train=False)['user_emb']``."""
    if isinstance(batch, Batch):
        return model.encode(batch).numpy(), batch.target
    item_seq, mask, targets = batch[0], batch[1], batch[2]
    return model(item_seq, mask, None, train=False)["user_emb"].numpy(), targets


def item_vectors(model) -> np.ndarray:
    """The item table ``[n_items, D]``: ``item_embeddings()`` of a
    :class:`~srgnn_paddle.models.Recommender`, ``output_items()`` of a notebook-style layer."""
    table = model.item_embeddings() if isinstance(model, Recommender) else model.output_items()
    return table.numpy()
