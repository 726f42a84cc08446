"""The base of the session models (SR-GNN, GRU4Rec, NARM, STAMP, GRUwATT, GGNNwATT): one
item table ``item_emb [n_items, D]`` (row 0 padding) that embeds the history and scores
the items (tied input and output embeddings), the catalogue check, and the declaration of
the item table's row-sparse gradient."""
from __future__ import annotations

from typing import List, Optional

import paddle
import paddle.nn as nn

from srgnn_paddle.config import Config
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.models.base import Recommender


class SessionModel(Recommender):
    """A session encoder over a tied item table.

    The constructor builds ``item_emb`` (and ``emb_dropout`` when ``dropout`` is given), in
    that order, before the subclass adds its own layers: so parameters are created (and
    drawn) in the order of the paper's description. Subclasses end their constructor with
    :func:`~srgnn_paddle.models.layers.initialise`.

    Args:
        cfg: ``n_items`` (at least 2: ids ``1..n_items-1``, 0 = padding),
            ``embedding_dim`` ``D``, ``score_padding``.
        sparse_item_grad: the item lookup's gradient holds only the batch's rows (Paddle
            adds them into the dense gradient of the full softmax) instead of a zeroed
            ``[n_items, D]`` copy per step. ``paddle.DataParallel`` does not accept a sparse
            gradient on a table that is also used densely, so data-parallel training passes
            ``False``. Either way the gradient reaching the optimiser is the same dense tensor.
        dropout: the dropout on the item embeddings (``None``: the model has none).
    """

    def __init__(self, cfg: Config, sparse_item_grad: bool = True, dropout: Optional[float] = None) -> None:
        super().__init__()
        if cfg.n_items < 2:
            raise SrgnnError(f"{self.name} needs n_items >= 2 (ids 1..n_items-1, 0 = padding), got {cfg.n_items}")
        self.n_items = int(cfg.n_items)
        self.embedding_dim = int(cfg.embedding_dim)
        self.score_padding = bool(cfg.score_padding)
        self.sparse_item_grad = sparse_item_grad
        self.item_emb = nn.Embedding(self.n_items, self.embedding_dim, padding_idx=0, sparse=sparse_item_grad)
        if dropout is not None:
            self.emb_dropout = nn.Dropout(dropout)

    def item_embeddings(self) -> paddle.Tensor:
        """The item table ``[n_items, D]`` (row 0 = padding)."""
        return self.item_emb.weight

    def sparse_parameters(self) -> List[str]:
        """``["item_emb.weight"]`` with ``sparse_item_grad``, else none."""
        return ["item_emb.weight"] if self.sparse_item_grad else []
