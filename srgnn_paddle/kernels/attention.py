"""Attention over gathered neighbours, summed per segment: the kernel of GCE-GNN's global
level (:mod:`srgnn_paddle.models.gcegnn`), in plain Paddle (:func:`segment_attention`);
:class:`~srgnn_paddle.kernels.HostKernels` runs the same arithmetic in numpy
(:func:`srgnn_paddle.kernels.host.host_segment_attention`).

``P`` pairs ``(unit u_p, key k_p, item i_p, weight w_p, count c_p)`` over ``K`` units::

    x_p = base[k_p] + w_p * row                      (base [Q, D], row [D])
    e_p = LeakyReLU_slope(x_p) . q + log c_p         (q [D, 1])
    alpha_p = softmax of e over the pairs of unit u_p
    out[u] = sum of alpha_p * values[i_p] over the pairs of u      (values [V, D]) -> [K, D]

A pair counted ``c`` times weighs as ``c`` pairs with the same inputs would. Kept apart from
the package's ``__init__`` so that models can import it (as :mod:`srgnn_paddle.kernels.linear`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import paddle
import paddle.nn.functional as F

from srgnn_paddle import compat
from srgnn_paddle.models.layers import as_tensor


class AttentionPairs(NamedTuple):
    """The pairs of a :func:`segment_attention` (numpy arrays, ``[P]`` each).

    unit:   int64, the unit (output row) of each pair, non-decreasing; every unit ``0..K-1``
            has at least one pair.
    key:    int64, its row of ``base``.
    item:   int64, its row of ``values``.
    weight: float32, its ``w_p``.
    count:  float32, its multiplicity ``c_p >= 1``.
    n_units: ``K`` (an int; a size tensor in the traced export).
    """

    unit: np.ndarray
    key: np.ndarray
    item: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    n_units: int


def segment_attention(base: paddle.Tensor, row: paddle.Tensor, q: paddle.Tensor, values: paddle.Tensor,
                      pairs: AttentionPairs, slope: float) -> paddle.Tensor:
    """The attention of the module docstring in plain Paddle: ``base [Q, D]``, ``row [D]``,
    ``q [D, 1]``, ``values [V, D]`` -> ``[K, D]``."""
    unit = as_tensor(pairs.unit)
    x = paddle.gather(base, as_tensor(pairs.key)) + as_tensor(pairs.weight).unsqueeze(-1) * row
    scores = paddle.matmul(F.leaky_relu(x, slope), q).squeeze(-1) + paddle.log(as_tensor(pairs.count))  # [P]
    top = paddle.geometric.segment_max(scores.detach(), unit)  # [K]
    exp = paddle.exp(scores - paddle.gather(top, unit))
    total = compat.index_add(paddle.zeros([pairs.n_units, 1], dtype=exp.dtype), unit, 0, exp.unsqueeze(-1))
    alpha = exp / paddle.gather(total.squeeze(-1), unit)
    weighted = alpha.unsqueeze(-1) * paddle.gather(values, as_tensor(pairs.item))  # [P, D]
    return compat.index_add(paddle.zeros([pairs.n_units, values.shape[1]], dtype=values.dtype), unit, 0, weighted)
