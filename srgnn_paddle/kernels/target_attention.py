"""TAGNN's scores, the target-aware attention over the whole catalogue
(:mod:`srgnn_paddle.models.tagnn`), in plain Paddle (:func:`target_scores`);
:class:`~srgnn_paddle.kernels.HostKernels` runs the same arithmetic in numpy
(:func:`srgnn_paddle.kernels.host.host_target_scores`).

For ``B`` sessions with ``R`` rows (sessions one after another, ``session [R]`` the session
of each row; a row is one of a session's distinct items, ``count [R]`` the times it occurs
in the session, so that a softmax over the rows weighted by the counts is the softmax over
the session's positions) and ``N`` items::

    beta[r, t] = count[r] exp(keys[r] . items[t]) / sum over the rows r' of session(r) of count[r'] exp(keys[r'] . items[t])
    scores[b, t] = base[b] . items[t] + sum over the rows r of b of beta[r, t] (values[r] . items[t])

``keys``, ``values`` ``[R, D]``, ``base`` ``[B, D]``, ``items`` ``[N, D]`` -> ``[B, N]``.
The plain version computes the ``[R, C]`` logits and products of ``C`` items at a time, so
that the memory per batch stays within a budget (:func:`target_chunk`). Kept apart from the
package's ``__init__`` so that models can import it (as :mod:`srgnn_paddle.kernels.linear`).
"""
from __future__ import annotations

from typing import Tuple

import paddle
from paddle.autograd import PyLayer

from srgnn_paddle import compat


def segment_sum(values: paddle.Tensor, index: paddle.Tensor, n: int) -> paddle.Tensor:
    """``out[i] = sum of values[j] with index[j] == i``: ``[E, C]``, ``[E]`` -> ``[n, C]``
    (:func:`srgnn_paddle.models.layers.segment_sum`; this module does not import the models)."""
    return compat.index_add(paddle.zeros([n, values.shape[1]], dtype=values.dtype), index, 0, values)

#: bytes per (row, item) of the target attention's float32 ``[R, C]`` tensors at their peak
#: (six of them, in the backward)
BYTES_PER_ENTRY = 24


def _attend(keys: paddle.Tensor, values: paddle.Tensor, session: paddle.Tensor, count: paddle.Tensor,
            n_sessions: int, items: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
    """``(beta [R, C], products [R, C], out [B, C])`` for a chunk of ``C`` items:
    ``logits = keys [R, D] x items [C, D]^T``, ``beta`` their softmax over each session's
    rows (``session [R]``, non-decreasing) weighted by ``count [R]``,
    ``products = values x items^T`` and ``out[b, t] = sum over b's rows r of beta[r, t] products[r, t]``."""
    logits = paddle.matmul(keys, items, transpose_y=True)  # [R, C]
    top = paddle.geometric.segment_max(logits.detach(), session)  # [B, C]: a stable softmax
    weights = paddle.exp(logits - paddle.gather(top, session)) * count.unsqueeze(1)
    del logits, top
    total = segment_sum(weights, session, n_sessions)  # [B, C]
    beta = weights / paddle.gather(total, session)
    del weights, total
    products = paddle.matmul(values, items, transpose_y=True)  # [R, C]
    return beta, products, segment_sum(beta * products, session, n_sessions)


def _chunks(n: int, chunk: int):
    return [(start, min(start + chunk, n)) for start in range(0, n, chunk)]


class _TargetAttention(PyLayer):
    """:func:`_attend`'s ``out`` chunk by chunk of items, with a backward that recomputes each
    chunk (or reuses the forward's tensors when the catalogue is one chunk), so no more than
    one chunk's ``[R, C]`` tensors are alive at a time."""

    @staticmethod
    def forward(ctx, keys, values, session, count, items, n_sessions, chunk):
        parts, kept = [], None
        spans = _chunks(items.shape[0], chunk)
        for start, end in spans:
            beta, products, out = _attend(keys, values, session, count, n_sessions, items[start:end])
            parts.append(out)  # [B, C]
            if len(spans) == 1:
                kept = (beta, products, out)
        ctx.save_for_backward(keys, values, session, count, items)
        ctx.spans, ctx.kept, ctx.n_sessions = spans, kept, n_sessions
        return paddle.concat(parts, axis=1)

    @staticmethod
    def backward(ctx, grad):
        keys, values, session, count, items = ctx.saved_tensor()
        spans, kept, n_sessions = ctx.spans, ctx.kept, ctx.n_sessions
        ctx.kept = None
        d_keys, d_values, d_items = paddle.zeros_like(keys), paddle.zeros_like(values), []
        for start, end in spans:
            chunk = items[start:end]  # [C, D]
            beta, products, out = kept if kept is not None else _attend(keys, values, session, count, n_sessions,
                                                                        chunk)
            d_products = beta * paddle.gather(grad[:, start:end], session)  # [R, C]: d out / d products
            del beta
            d_logits = d_products * (products - paddle.gather(out, session))  # the softmax's backward
            del products, out
            d_keys += paddle.matmul(d_logits, chunk)
            d_values += paddle.matmul(d_products, chunk)
            d_items.append(paddle.matmul(d_logits, keys, transpose_x=True)
                           + paddle.matmul(d_products, values, transpose_x=True))
        return d_keys, d_values, None, None, paddle.concat(d_items, axis=0)


def target_attention_scores(keys: paddle.Tensor, values: paddle.Tensor, session: paddle.Tensor, count: paddle.Tensor,
                            n_sessions: int, items: paddle.Tensor, chunk: int) -> paddle.Tensor:
    """TAGNN's target term for every item: ``out[b, t] = sum_r beta[r, t] (items[t] . values[r])``
    over the rows ``r`` of session ``b``, with ``beta[:, t]`` the softmax of
    ``items[t] . keys[r]`` over those rows, weighted by their counts.

    Args:
        keys, values: ``[R, D]`` float32, one row per distinct item of a session
            (``W v_{s,i}`` and ``W_T v_{s,i}``), sessions one after another.
        session: ``[R]`` int64, the session (batch row) of each row, non-decreasing;
            every session ``0..n_sessions-1`` has a row.
        count: ``[R]`` float32, the times each row's item occurs in its session (1 when the
            rows are the positions themselves).
        n_sessions: ``B``.
        items: ``[N, D]`` the candidates' vectors.
        chunk: items scored at a time (``>= N``: one chunk).
    Returns:
        ``[B, N]`` float32. Gradients reach ``keys``, ``values`` and ``items``.
    """
    chunk = max(1, int(chunk))
    if paddle.is_grad_enabled():
        return _TargetAttention.apply(keys, values, session, count, items, n_sessions, chunk)
    return paddle.concat([_attend(keys, values, session, count, n_sessions, items[start:end])[2]  # scoring only
                          for start, end in _chunks(items.shape[0], chunk)], axis=1)


def target_chunk(rows: int, n_items: int, budget: int) -> int:
    """Items :func:`target_scores` scores at a time for ``rows`` rows so that its ``[R, C]``
    tensors stay within ``budget`` bytes (the whole catalogue when it is 0)."""
    if budget <= 0:
        return n_items
    return max(1, min(n_items, budget // (BYTES_PER_ENTRY * rows)))


def target_scores(base: paddle.Tensor, keys: paddle.Tensor, values: paddle.Tensor, session: paddle.Tensor,
                  count: paddle.Tensor, items: paddle.Tensor, budget: int) -> paddle.Tensor:
    """The scores of the module docstring in plain Paddle: ``base [B, D]``, ``keys``,
    ``values [R, D]``, ``session [R]`` int64 (non-decreasing, every session has a row),
    ``count [R]`` float32, ``items [N, D]``, ``budget`` bytes (0 = no limit) -> ``[B, N]``."""
    chunk = target_chunk(keys.shape[0], items.shape[0], budget)
    return paddle.matmul(base, items, transpose_y=True) + target_attention_scores(keys, values, session, count,
                                                                                 base.shape[0], items, chunk)
