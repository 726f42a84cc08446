"""Building blocks shared by the models that read right-padded histories
(``batch_layout = "sequence"``): tensors from a :class:`~srgnn_paddle.data.Batch`, the
lengths, the state at the last real position, the mask of causal attention pairs, and the
paper's uniform initialisation."""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np
import paddle
import paddle.nn as nn

from srgnn_paddle.config import Config
from srgnn_paddle.errors import SrgnnError


def history_tensors(batch) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """``(items [B, L] int64, mask [B, L] float32)`` of a batch (numpy arrays or tensors; the
    static graph's values under ``paddle.jit.to_static`` pass through, see :mod:`srgnn_paddle.serving`)."""
    items, mask = (paddle.to_tensor(np.asarray(x)) if isinstance(x, (np.ndarray, list, tuple)) else x
                   for x in (batch.history, batch.mask))
    return items.astype("int64"), mask.astype("float32")


def lengths(mask: paddle.Tensor) -> paddle.Tensor:
    """``[B]`` int64 number of real entries of right-padded rows (``mask [B, L]``)."""
    return mask.sum(axis=1).astype("int64")


def last_position(states: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
    """The row of each sequence's last real position: ``[B, L, H]``, ``mask [B, L]`` -> ``[B, H]``."""
    batch, _, width = states.shape
    last = (lengths(mask) - 1).clip(min=0).reshape([batch, 1, 1]).expand([batch, 1, width])
    return paddle.take_along_axis(states, last, axis=1).squeeze(1)


def causal_pairs(mask: paddle.Tensor) -> paddle.Tensor:
    """``[B, L, L]`` float32: entry ``[b, t, j]`` is 1 when position ``j`` is real and
    ``j <= t`` (what position ``t`` may attend to), else 0."""
    length = mask.shape[1]
    lower = paddle.tril(paddle.ones([length, length], dtype="float32"))  # [t, j]: j <= t
    return lower.unsqueeze(0) * mask.unsqueeze(1)


def check_catalogue(cfg: Config, model: str) -> int:
    """``cfg.n_items`` (at least 2: ids ``1..n_items-1``, 0 = padding)."""
    if cfg.n_items < 2:
        raise SrgnnError(f"{model} needs n_items >= 2 (ids 1..n_items-1, 0 = padding), got {cfg.n_items}")
    return int(cfg.n_items)


def initialise(model: nn.Layer, cfg: Config) -> None:
    """``init: uniform`` (the SR-GNN paper's): every parameter uniform in ``[-1/sqrt(D), 1/sqrt(D)]``;
    ``init: notebook`` keeps Paddle's default initialisers."""
    if cfg.init != "uniform":
        return
    bound = 1.0 / math.sqrt(cfg.embedding_dim)
    for param in model.parameters():
        param.set_value(paddle.uniform(param.shape, dtype=param.dtype, min=-bound, max=bound))
