"""The layers through which a model's GEMMs and table normalisations reach the run's kernels.

:class:`Linear` is an ``nn.Linear`` (same parameters, initialisers and even Paddle's
unique parameter names, ``linear_N.w_0``, so checkpoints, optimiser states and seeded runs
are unchanged) whose ``x @ W + b`` is computed by the kernels a run hands
it (:meth:`srgnn_paddle.kernels.Kernels.attach` sets :attr:`Linear.kernels` inside its
block): Paddle's ``F.linear`` with ``kernels: paddle`` or outside any block, numpy's BLAS
with ``kernels: host``. A model opts a GEMM into the host kernel by building that layer as
a :class:`Linear`; every other matmul it writes (``paddle.matmul``, ``nn.GRU``) is plain
Paddle with either kernels.
"""
from __future__ import annotations

from typing import Any, Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class KernelLayer:
    """A layer that computes with the run's kernels: :meth:`~srgnn_paddle.kernels.Kernels.attach`
    sets :attr:`kernels` for the duration of its block; ``None`` (outside any block): plain
    Paddle. :class:`Linear` is one; a model's layer that calls another kernel (such as
    ``kernels.segment_attention``) derives from it too."""

    kernels: Optional[Any] = None


class Linear(nn.Linear, KernelLayer):
    """``nn.Linear(in_features, out_features)`` computed by the kernels in :attr:`kernels`.

    Attributes:
        kernels: the active :class:`~srgnn_paddle.kernels.Kernels` (anything with
            ``linear(x, weight, bias)``), or ``None``: plain Paddle. Set per layer, for the
            duration of a run's ``kernels.attach(model)`` block.
    """

    def __init__(self, in_features: int, out_features: int, weight_attr: Any = None, bias_attr: Any = None) -> None:
        super().__init__(in_features, out_features, weight_attr=weight_attr, bias_attr=bias_attr)
        self.kernels: Optional[Any] = None

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """``x [..., in] -> [..., out]``."""
        if self.kernels is None:
            return F.linear(x, self.weight, self.bias)
        return self.kernels.linear(x, self.weight, self.bias)


class NormalizedRows(nn.Layer, KernelLayer):
    """Every row of a table divided by its L2 norm (``F.normalize(table, axis=-1)``) by the
    kernels in :attr:`kernels` (``normalize_rows``; plain Paddle outside a run's kernels
    block). ``zero_first``: row 0 (the padding item) comes out as the zero vector and passes
    no gradient. ``[R, D] -> [R, D]``."""

    def __init__(self, zero_first: bool = False) -> None:
        super().__init__()
        self.zero_first = zero_first

    def forward(self, table: paddle.Tensor) -> paddle.Tensor:
        if self.kernels is None:
            return normalize_rows(table, self.zero_first)
        return self.kernels.normalize_rows(table, self.zero_first)


def normalize_rows(x: paddle.Tensor, zero_first: bool = False) -> paddle.Tensor:
    """Every row of ``x [R, D]`` divided by its L2 norm (``F.normalize(x, axis=-1)``) in plain
    Paddle; ``zero_first``: row 0 zero, without a gradient."""
    out = F.normalize(x, axis=-1)
    if not zero_first:
        return out
    keep = paddle.ones([x.shape[0], 1], dtype=x.dtype)
    keep[0] = 0.0
    return out * keep
