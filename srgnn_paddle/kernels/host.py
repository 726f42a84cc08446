"""The host kernels: the full-catalogue softmax cross-entropy (of inner products, or of
given scores), the dense layers' matmuls, GCE-GNN's segment attention, TAGNN's target
attention scores, the L2 normalisation of an item table, the evaluator's rank counting and
the Adam update, in numpy on the CPU. Only :mod:`srgnn_paddle.kernels` uses them
(``kernels: host``); models never do.

The full softmax (``[B, D] x [n_items, D]^T``, then cross-entropy) and Adam's update of the
``[n_items, D]`` item table are most of a CPU training step. Paddle 3.3's CPU kernels are
several times slower than numpy on these shapes (the measurements are in
docs/performance.md, "The kernels' design, measured"), so on the CPU this work runs in
numpy: the GEMMs
inside :class:`paddle.autograd.PyLayer` s, the optimiser in :class:`HostAdam`. Arrays cross
between Paddle and numpy without copies (DLPack, :func:`host_view`, :func:`from_host`),
and the large pieces are split over the threads of a :class:`HostPool` (numpy releases the
GIL in BLAS and ufuncs). The plain Paddle ops (``kernels: paddle``, what GPUs run) give the
same results and gradients (tested).
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List

import numpy as np
import paddle
from paddle.autograd import PyLayer

from srgnn_paddle import compat


def host_view(tensor: paddle.Tensor) -> np.ndarray:
    """A numpy array over the memory of a CPU tensor (no copy, via DLPack).

    Writes through it change the tensor. Falls back to a copy (``tensor.numpy()``) where
    DLPack is unavailable, so use it for reading, and for in-place updates only where
    :func:`shares_memory` said yes.
    """
    try:
        return compat.numpy_view(tensor)
    except (AttributeError, TypeError, RuntimeError, BufferError):
        return tensor.numpy()


def shares_memory(tensor: paddle.Tensor, array: np.ndarray) -> bool:
    """True when ``array`` is a zero-copy view of ``tensor`` (see :func:`host_view`)."""
    try:
        return array.__array_interface__["data"][0] == tensor.data_ptr()
    except (AttributeError, RuntimeError):
        return False


def from_host(array: np.ndarray) -> paddle.Tensor:
    """A CPU tensor over a C-contiguous numpy array's memory (no copy, via DLPack); the tensor
    keeps the array alive. ``paddle.to_tensor`` instead copies, which for an item table's
    gradient costs about as much as a whole GEMM of the softmax."""
    array = np.ascontiguousarray(array)
    try:
        return paddle.utils.dlpack.from_dlpack(array.__dlpack__())
    except (AttributeError, TypeError, RuntimeError, BufferError):
        return paddle.to_tensor(array)


# ---------------------------------------------------------------------------- host threads
class HostPool:
    """``threads`` Python threads for the host-side numpy work of one run (numpy releases
    the GIL in BLAS and ufuncs; numpy's BLAS stays single-threaded inside each: OpenBLAS's
    own threads keep spinning after a GEMM and slowed the Paddle ops in between). The
    worker threads start on first use and stop in :meth:`close`."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, int(threads))
        self._executor: ThreadPoolExecutor | None = None

    def map(self, fn: Callable[[int], Any], parts: int) -> List[Any]:
        """``[fn(0), ..., fn(parts - 1)]``, the first ``parts - 1`` on worker threads and the
        last on the calling one. ``fn`` must spend its time in numpy calls that release the GIL."""
        if parts <= 1:
            return [fn(0)] if parts == 1 else []
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=max(1, self.threads - 1),
                                                thread_name_prefix="srgnn-host")
        futures = [self._executor.submit(fn, i) for i in range(parts - 1)]
        last = fn(parts - 1)
        return [f.result() for f in futures] + [last]

    def close(self) -> None:
        """Stop the worker threads (the pool starts them again if used later)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


class HostScratch:
    """Work memory that one run's host kernels reuse from call to call: a fresh large numpy
    array costs its first-touch page faults on every call (about as much as the GEMM that
    fills it, measured for TAGNN's scores), a reused one does not. :meth:`take` hands out a
    free buffer (or a new one) that belongs to the caller until it :meth:`give` s it back;
    a buffer never given back (a forward without its backward) is simply not reused."""

    def __init__(self) -> None:
        self._free: List[np.ndarray] = []

    def take(self, size: int) -> np.ndarray:
        """A flat float32 buffer of at least ``size`` elements (its contents undefined)."""
        fits = [i for i, buffer in enumerate(self._free) if buffer.size >= size]
        if fits:
            return self._free.pop(min(fits, key=lambda i: self._free[i].size))
        return np.empty(max(1, int(size)), dtype=np.float32)

    def give(self, buffer: np.ndarray) -> None:
        """Return a buffer from :meth:`take` for later calls."""
        self._free.append(buffer)

    def clear(self) -> None:
        """Drop the free buffers."""
        self._free = []


def split_bounds(n: int, parts: int, align: int = 1) -> np.ndarray:
    """Increasing offsets ``[0, ..., n]`` cutting ``range(n)`` into at most ``parts``
    near-equal non-empty pieces whose inner borders are multiples of ``align`` (one piece
    when ``n <= align``)."""
    cuts = [min(n, int(round(n * i / parts / align)) * align) for i in range(parts)] + [n]
    return np.unique(np.asarray(cuts, dtype=np.int64))


def _take_columns(parts: List[np.ndarray], bounds: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``[B]`` float32: row ``b``'s entry in column ``columns[b]`` of the ``[B, C]`` matrix
    held as column slices ``parts[k] = M[:, bounds[k]:bounds[k + 1]]``."""
    rows = np.arange(len(columns))
    slice_of = np.searchsorted(bounds, columns, side="right") - 1
    out = np.empty(len(columns), dtype=np.float32)
    for k, part in enumerate(parts):
        sel = slice_of == k
        out[sel] = part[rows[sel], columns[sel] - bounds[k]]
    return out


# ---------------------------------------------------------------------------- softmax
class _NumpySoftmaxCrossEntropy(PyLayer):
    """Mean cross-entropy of ``softmax(user @ weight^T)``; numpy on the host.

    The catalogue is cut into ``pool.threads`` slices of items, each handled by one
    thread: its ``[B, N_k]`` logits are written once by the GEMM, shifted by the slice's
    own row maximum ``m_k`` and exponentiated in place (``e_k``), and read again only by the
    two backward GEMMs. With ``M`` the overall row maximum, the softmax is
    ``e_k * exp(m_k - M) / total``; that per-row factor is applied to the small ``[B, D]``
    / ``[N_k, D]`` GEMM operands, never to the ``[B, N]`` array.
    """

    @staticmethod
    def forward(ctx, user_emb, weight, target: np.ndarray, mask_padding: bool, pool: HostPool):
        u = user_emb.numpy()
        w = host_view(weight)  # read only, and only until backward (before the optimizer step)
        bounds = split_bounds(w.shape[0], pool.threads, align=16)

        def part(k: int):
            lo, hi = bounds[k], bounds[k + 1]
            e = u @ w[lo:hi].T  # [B, N_k]
            if mask_padding and lo == 0:
                e[:, 0] = -1e9
            peak = e.max(axis=1)
            e -= peak[:, None]
            np.exp(e, out=e)
            return e, peak, e.sum(axis=1)

        parts = pool.map(part, len(bounds) - 1)
        peaks = np.stack([p[1] for p in parts])  # [K, B]
        top = peaks.max(axis=0)  # [B]
        factors = np.exp(peaks - top).astype(np.float32)  # [K, B]: e_k -> exp(logit - M)
        total = (np.stack([p[2] for p in parts]) * factors).sum(axis=0)  # [B]
        slice_of = np.searchsorted(bounds, target, side="right") - 1
        target_e = _take_columns([p[0] for p in parts], bounds, target) * factors[slice_of, np.arange(len(target))]
        loss = float(np.mean(np.log(total) - np.log(np.maximum(target_e, 1e-37))))
        ctx.saved = ([p[0] for p in parts], factors, total, u, w, target, bounds, pool)
        return paddle.to_tensor(np.float32(loss))

    @staticmethod
    def backward(ctx, grad_loss):
        exps, factors, total, u, w, target, bounds, pool = ctx.saved
        ctx.saved = None
        scale = np.float32(float(grad_loss) / len(target))
        # d loss / d logits = scale * (softmax - onehot(target)); softmax_k = e_k * row_scale_k
        row_scale = (scale * factors / total).astype(np.float32)  # [K, B]
        grad_w = np.empty_like(w)  # [N, D]

        def part(k: int) -> np.ndarray:
            lo, hi = bounds[k], bounds[k + 1]
            rs = row_scale[k][:, None]
            np.matmul(exps[k].T, u * rs, out=grad_w[lo:hi])
            return (exps[k] @ w[lo:hi]) * rs  # [B, D]

        grad_u = sum(pool.map(part, len(exps))) - scale * w[target]  # [B, D]
        np.add.at(grad_w, target, -scale * u)
        return (from_host(grad_u.astype(np.float32, copy=False)), from_host(grad_w))


def host_target_ranks(user: np.ndarray, weight: np.ndarray, targets: np.ndarray,
                      exclude_padding: bool, pool: HostPool) -> np.ndarray:
    """:func:`srgnn_paddle.evaluation.metrics.target_ranks` of the scores ``user @ weight.T`` without
    building them in one piece: each of the ``pool`` 's threads scores one slice of the
    catalogue with numpy's BLAS and counts, per row, its items scored below the target
    (the target's score is read from the same GEMM output, so it ties with itself exactly).

    Args:
        user: ``[B, D]`` float32 session vectors.
        weight: ``[C, D]`` float32 item table (row ``c`` is item ``c``).
        targets: ``[B]`` target item ids.
        exclude_padding: item 0 is not a candidate.
        pool: the threads to split the catalogue over.
    Returns:
        ``[B]`` int64 ranks: the number of candidates scored not below the target, the target
        included (ties and NaN scores count against the target).
    """
    targets = np.asarray(targets, dtype=np.int64).reshape(-1)
    bounds = split_bounds(weight.shape[0], pool.threads, align=16)
    parts = pool.map(lambda k: user @ weight[bounds[k]:bounds[k + 1]].T, len(bounds) - 1)  # [B, C_k]
    target_scores = _take_columns(parts, bounds, targets)
    below = sum(pool.map(lambda k: np.count_nonzero(parts[k] < target_scores[:, None], axis=1), len(parts)))
    if exclude_padding:
        below = below - (parts[0][:, 0] < target_scores)
    n_candidates = weight.shape[0] - (1 if exclude_padding else 0)
    return (n_candidates - below).astype(np.int64)


def host_softmax_cross_entropy(user: paddle.Tensor, items: paddle.Tensor, target: paddle.Tensor,
                               mask_padding: bool, pool: HostPool) -> paddle.Tensor:
    """:func:`srgnn_paddle.models.base.softmax_cross_entropy` with numpy's BLAS on the host
    (CPU tensors): ``user [B, D]``, ``items [N, D]``, ``target [B]`` int64 -> scalar."""
    return _NumpySoftmaxCrossEntropy.apply(user, items, target.numpy().reshape(-1), mask_padding, pool)


class _NumpyMatmul(PyLayer):
    """``x [..., K] @ w [K, M]`` with numpy's BLAS on the host, gradients for both."""

    @staticmethod
    def forward(ctx, x, w):
        x_np = x.numpy()
        w_np = host_view(w)
        x2 = x_np.reshape(-1, x_np.shape[-1])  # [R, K]
        ctx.saved = (x2, w_np, x_np.shape)
        return from_host((x2 @ w_np).reshape(*x_np.shape[:-1], w_np.shape[1]))

    @staticmethod
    def backward(ctx, grad):
        x2, w_np, shape = ctx.saved
        ctx.saved = None
        g = grad.numpy().reshape(-1, w_np.shape[1])  # [R, M]
        return from_host((g @ w_np.T).reshape(shape)), from_host(x2.T @ g)


def host_matmul(x: paddle.Tensor, w: paddle.Tensor) -> paddle.Tensor:
    """``paddle.matmul(x, w)`` for ``x [..., K]``, ``w [K, M]`` (CPU tensors), the GEMM and
    both gradients in numpy's BLAS: several times faster than Paddle's CPU GEMM on the
    small shapes of the models' dense layers. Returns ``[..., M]``."""
    return _NumpyMatmul.apply(x, w)


# ---------------------------------------------------------------------------- segment attention
class _NumpySegmentAttention(PyLayer):
    """:func:`srgnn_paddle.kernels.attention.segment_attention` in numpy. The ``[P, D]``
    pair rows are made and used in cache-sized chunks of pairs, split over the pool's
    threads; one ``[P, D]`` buffer holds the LeakyReLU outputs from the forward pass to the
    backward pass, which overwrites them with the rows' gradients. The sums over pairs are
    sparse products (``scipy.sparse``) with the ``[K, V]`` attention matrix and the
    ``[Q, P]`` map of pairs to keys."""

    CHUNK = 2048  # pairs per chunk: a [2048, D] float32 block stays in the cache for D ~ 100

    @staticmethod
    def forward(ctx, base, row, q, values, pairs, slope: float, pool: HostPool):
        import scipy.sparse as sp

        b, r, qv, v = host_view(base), host_view(row).reshape(-1), host_view(q).reshape(-1), host_view(values)
        n_pairs, slope = len(pairs.unit), np.float32(slope)
        starts = np.flatnonzero(np.r_[True, pairs.unit[1:] != pairs.unit[:-1]])  # [K]: every unit has a pair
        sizes = np.diff(np.append(starts, n_pairs))
        activations = np.empty((n_pairs, b.shape[1]), dtype=np.float32)  # LeakyReLU(x_p)
        scores = np.empty(n_pairs, dtype=np.float32)

        def chunk(lo: int, hi: int) -> None:
            a = np.take(b, pairs.key[lo:hi], axis=0, out=activations[lo:hi])
            a += pairs.weight[lo:hi, None] * r[None, :]  # x_p
            a *= _leaky_slopes(a, slope)
            scores[lo:hi] = a @ qv

        _chunked(pool, n_pairs, _NumpySegmentAttention.CHUNK, chunk)
        scores += np.log(pairs.count).astype(np.float32)
        exp = np.exp(scores - np.repeat(np.maximum.reduceat(scores, starts), sizes))
        alpha = (exp / np.repeat(np.add.reduceat(exp, starts), sizes)).astype(np.float32)
        attention = sp.csr_matrix((alpha, pairs.item, np.append(starts, n_pairs)), shape=(pairs.n_units, v.shape[0]))
        ctx.saved = (b, qv, v, pairs, slope, pool, starts, sizes, alpha, attention, activations)
        ctx.needs = [not t.stop_gradient for t in (base, row, q, values)]
        return from_host(np.asarray(attention @ v, dtype=np.float32))

    @staticmethod
    def backward(ctx, grad):
        import scipy.sparse as sp

        b, qv, v, pairs, slope, pool, starts, sizes, alpha, attention, activations = ctx.saved
        ctx.saved = None
        g = np.ascontiguousarray(grad.numpy(), dtype=np.float32)  # [K, D]
        n_pairs, size = len(pairs.unit), _NumpySegmentAttention.CHUNK
        grad_values = np.asarray(attention.T @ g, dtype=np.float32)  # [V, D]
        grad_alpha = np.empty(n_pairs, dtype=np.float32)

        def alpha_chunk(lo: int, hi: int) -> None:  # grad_alpha_p = g[u_p] . values[i_p]
            grad_alpha[lo:hi] = np.einsum("pd,pd->p", g[pairs.unit[lo:hi]], v[pairs.item[lo:hi]])

        _chunked(pool, n_pairs, size, alpha_chunk)
        grad_scores = alpha * (grad_alpha - np.repeat(np.add.reduceat(alpha * grad_alpha, starts), sizes))  # [P]

        def x_chunk(lo: int, hi: int) -> np.ndarray:  # the activations become d loss / d x_p
            a = activations[lo:hi]
            grad_q = grad_scores[lo:hi] @ a
            slopes = _leaky_slopes(a, slope)  # a > 0 exactly where x > 0
            np.multiply(grad_scores[lo:hi, None], qv[None, :], out=a)
            a *= slopes
            return grad_q

        grad_q = sum(_chunked(pool, n_pairs, size, x_chunk))
        grad_row = pairs.weight @ activations
        keys = sp.csc_matrix((np.ones(n_pairs, dtype=np.float32), pairs.key, np.arange(n_pairs + 1)),
                             shape=(b.shape[0], n_pairs))  # [Q, P]: column p is key k_p
        grads = (np.asarray(keys @ activations, dtype=np.float32), grad_row, grad_q.reshape(-1, 1), grad_values)
        return tuple(from_host(x) if need else None for x, need in zip(grads, ctx.needs))


def _leaky_slopes(x: np.ndarray, slope: np.float32) -> np.ndarray:
    """LeakyReLU's slope at each entry of ``x``: 1 where ``x > 0``, else ``slope``. (Built
    from the comparison's 0 / 1 as float32: ``np.where`` with scalars, or a ``where=``
    mask, are several times slower.)"""
    slopes = (x > 0).astype(np.float32)
    slopes *= np.float32(1.0) - slope
    slopes += slope
    return slopes


def _chunked(pool: HostPool, n: int, size: int, fn: Callable[[int, int], Any]) -> List[Any]:
    """``fn(lo, hi)`` over ``range(n)`` cut into chunks of ``size``, the chunks split over the
    pool's threads; the results in chunk order."""
    bounds = split_bounds(n, pool.threads, align=size)

    def part(k: int) -> List[Any]:
        return [fn(lo, min(lo + size, bounds[k + 1])) for lo in range(bounds[k], bounds[k + 1], size)]

    return [result for part_results in pool.map(part, len(bounds) - 1) for result in part_results]


def host_segment_attention(base: paddle.Tensor, row: paddle.Tensor, q: paddle.Tensor, values: paddle.Tensor,
                           pairs, slope: float, pool: HostPool) -> paddle.Tensor:
    """:func:`srgnn_paddle.kernels.attention.segment_attention` in numpy on the host (CPU
    float32 tensors; ``pairs`` an :class:`~srgnn_paddle.kernels.attention.AttentionPairs`):
    ``base [Q, D]``, ``row [D]``, ``q [D, 1]``, ``values [V, D]`` -> ``[K, D]``."""
    return _NumpySegmentAttention.apply(base, row, q, values, pairs, slope, pool)


# ---------------------------------------------------------------------------- softmax of given scores
class _NumpyScoresCrossEntropy(PyLayer):
    """Mean cross-entropy of ``softmax(scores)`` in numpy, rows split over the pool's
    threads; the exponentials stay for the backward, which turns them in place into
    ``(softmax - onehot(target)) / B``. With ``mask_padding`` column 0 counts as ``-1e9``
    (its probability 0, its gradient 0)."""

    @staticmethod
    def forward(ctx, scores, target: np.ndarray, mask_padding: bool, pool: HostPool):
        s = host_view(scores)
        rows = np.arange(len(target))
        exps = np.empty_like(s)
        first = 1 if mask_padding else 0
        top, total = np.empty(len(target), np.float32), np.empty(len(target), np.float32)

        def part(lo: int, hi: int) -> None:
            top[lo:hi] = s[lo:hi, first:].max(axis=1)
            np.subtract(s[lo:hi], top[lo:hi, None], out=exps[lo:hi])
            np.exp(exps[lo:hi], out=exps[lo:hi])
            if mask_padding:
                exps[lo:hi, 0] = 0.0
            total[lo:hi] = exps[lo:hi].sum(axis=1)

        _split_rows(pool, len(target), part)
        loss = np.mean(np.log(total) + top - s[rows, target])
        ctx.saved = (exps, total, target, pool)
        return paddle.to_tensor(np.float32(loss))

    @staticmethod
    def backward(ctx, grad_loss):
        exps, total, target, pool = ctx.saved
        ctx.saved = None
        scale = np.float32(float(grad_loss) / len(target))

        def part(lo: int, hi: int) -> None:
            exps[lo:hi] *= (scale / total[lo:hi])[:, None]

        _split_rows(pool, len(target), part)
        exps[np.arange(len(target)), target] -= scale
        return from_host(exps)


def _split_rows(pool: HostPool, n: int, fn: Callable[[int, int], Any]) -> None:
    """``fn(lo, hi)`` over ``range(n)``, one piece per thread of ``pool``."""
    bounds = split_bounds(n, pool.threads)
    pool.map(lambda k: fn(bounds[k], bounds[k + 1]), len(bounds) - 1)


def host_scores_cross_entropy(scores: paddle.Tensor, target: paddle.Tensor, mask_padding: bool,
                              pool: HostPool) -> paddle.Tensor:
    """:func:`srgnn_paddle.models.base.scores_cross_entropy` in numpy on the host (CPU
    float32 ``scores [B, N]``, ``target [B]`` int64) -> the scalar loss."""
    return _NumpyScoresCrossEntropy.apply(scores, target.numpy().reshape(-1).astype(np.int64), bool(mask_padding),
                                          pool)


# ---------------------------------------------------------------------------- row normalisation
class _NumpyNormalizeRows(PyLayer):
    """``x / max(||x||, eps)`` row by row (``F.normalize(x, axis=-1)``) in numpy, in chunks of
    rows split over the pool's threads; the backward is
    ``(g - y (g . y)) / max(||x||, eps)`` (``g / eps`` on rows shorter than ``eps``)."""

    CHUNK = 1024  # rows per chunk: [1024, 256] float32 is 1 MiB

    @staticmethod
    def forward(ctx, x, eps: float, zero_first: bool, pool: HostPool):
        a = host_view(x)
        out = np.empty_like(a)
        scale = np.empty(a.shape[0], dtype=np.float32)  # 1 / max(||x||, eps); 0 for a zeroed first row
        short = np.zeros(a.shape[0], dtype=bool)

        def chunk(lo: int, hi: int) -> None:
            norm = np.sqrt(np.einsum("ij,ij->i", a[lo:hi], a[lo:hi]))
            short[lo:hi] = norm < eps
            np.divide(1.0, np.maximum(norm, np.float32(eps)), out=scale[lo:hi])
            if zero_first and lo == 0:
                scale[0] = 0.0  # out[0] = 0 and, through the backward's last factor, no gradient
            np.multiply(a[lo:hi], scale[lo:hi, None], out=out[lo:hi])

        _chunked(pool, a.shape[0], _NumpyNormalizeRows.CHUNK, chunk)
        ctx.saved = (out, scale, short, pool)
        return from_host(out)

    @staticmethod
    def backward(ctx, grad):
        out, scale, short, pool = ctx.saved
        ctx.saved = None
        g = host_view(grad)
        grad_x = np.empty_like(out)

        def chunk(lo: int, hi: int) -> None:
            dot = np.einsum("ij,ij->i", g[lo:hi], out[lo:hi])
            dot[short[lo:hi]] = 0.0
            np.multiply(out[lo:hi], dot[:, None], out=grad_x[lo:hi])
            np.subtract(g[lo:hi], grad_x[lo:hi], out=grad_x[lo:hi])
            grad_x[lo:hi] *= scale[lo:hi, None]

        _chunked(pool, out.shape[0], _NumpyNormalizeRows.CHUNK, chunk)
        return from_host(grad_x)


def host_normalize_rows(x: paddle.Tensor, pool: HostPool, eps: float = 1e-12, zero_first: bool = False) -> paddle.Tensor:
    """``paddle.nn.functional.normalize(x, axis=-1)`` of a CPU float32 ``[R, D]`` tensor in
    numpy (Paddle's CPU backward of it takes about 1 s on SGNN-HN's ``[43098, 256]`` item
    table); ``zero_first``: row 0 zero, without a gradient. Returns ``[R, D]``."""
    return _NumpyNormalizeRows.apply(x, float(eps), bool(zero_first), pool)


# ---------------------------------------------------------------------------- target attention
class _NumpyTargetScores(PyLayer):
    """:func:`srgnn_paddle.kernels.target_attention.target_scores` in numpy.

    The sessions are reordered by their number of rows (a stable sort) and their rows with
    them, so that the ``n_l`` sessions of ``l`` rows hold ``n_l * l`` consecutive rows: each
    session's softmax and weighted sum are then reductions over the middle axis of an
    ``[n_l, l, C]`` view, one numpy call per length (no segment scatter or gather). A
    session of one row has ``beta = 1``: its scores are ``(base + values) . items``, so its
    value joins its base vector and neither its key nor its value is multiplied with the
    catalogue. The catalogue is cut into blocks of ``size`` items, split over the pool's
    threads, and each block is one GEMM of the stacked operand ``[keys; values; base]``
    (``[2M + B, D]``, ``M`` the rows of the sessions with several) with the block's items,
    whose ``[2M + B, C]`` output (logits, products, base scores) stays in the cache while it
    becomes the block's softmax (its exponentials, divided by their sums only where they
    are used) and scores. The backward turns the same block, in place,
    into the gradients of the products, the logits and the base scores, and makes two GEMMs
    of it: with the items (``d values``, ``d keys``, ``d base``) and with the stacked operand
    (the block's ``d items``). In training the forward's blocks are kept for the backward
    when ``4 (2M + B) N`` bytes fit ``budget`` (0 = no limit), else the backward recomputes
    each block; their memory is the run's :class:`HostScratch`, reused from step to step."""

    @staticmethod
    def forward(ctx, base, keys, values, session: np.ndarray, count: np.ndarray, items, budget: int,
                pool: HostPool, scratch: HostScratch, size: int, training: bool):
        b_np, k_np, v_np, w = base.numpy(), keys.numpy(), values.numpy(), host_view(items)
        n_sessions, n_items = b_np.shape[0], w.shape[0]
        rows_of = np.bincount(session, minlength=n_sessions)  # [B]
        order = np.argsort(rows_of, kind="stable")  # sessions by their number of rows
        sorted_rows = rows_of[order]
        n_single = int(np.searchsorted(sorted_rows, 2))  # sessions of one row come first
        first_row = np.cumsum(rows_of) - rows_of  # [B]: each session's first row
        many = order[n_single:]
        starts = np.cumsum(sorted_rows[n_single:]) - sorted_rows[n_single:]  # [B - S]
        perm = (np.arange(int(sorted_rows[n_single:].sum())) - np.repeat(starts, sorted_rows[n_single:])
                + np.repeat(first_row[many], sorted_rows[n_single:]))  # [M]: the rows of the sessions with several
        single = first_row[order[:n_single]]  # [S]: the row of each one-row session
        n_many = len(perm)
        edges = np.flatnonzero(np.diff(sorted_rows[n_single:])) + 1
        groups = [(int(sorted_rows[n_single + lo]), int(lo), int(hi), int(starts[lo]))  # (l, first, end, first row)
                  for lo, hi in zip(np.r_[0, edges], np.r_[edges, n_sessions - n_single]) if hi > lo]
        log_count = np.log(count[perm].astype(np.float32))[:, None]  # [M, 1]
        repeats = [bool(log_count[r0:r0 + (hi - lo) * length].any()) for length, lo, hi, r0 in groups]
        head = b_np[order]
        head[:n_single] += v_np[single]
        stacked = np.concatenate([k_np[perm], v_np[perm], head])  # [2M + B, D]
        height = stacked.shape[0]
        keep = training and (budget <= 0 or 4 * height * n_items <= budget)
        bounds = split_bounds(n_items, pool.threads, align=size)
        spans = [[(lo, min(lo + size, bounds[k + 1])) for lo in range(bounds[k], bounds[k + 1], size)]
                 for k in range(len(bounds) - 1)]  # each thread's blocks
        # the blocks: all of them kept for the backward, or one per thread reused
        several = (n_sessions - n_single) * n_items
        memory = scratch.take(height * (n_items if keep else size * len(spans)) + 2 * several)
        targets = memory[:several].reshape(n_sessions - n_single, n_items)  # the sessions with several rows
        sums = memory[several:2 * several].reshape(targets.shape)  # their softmax's denominators
        blocks = memory[2 * several:]
        scores = np.empty((n_sessions, n_items), dtype=np.float32)

        def where(k: int, lo: int, hi: int) -> np.ndarray:
            """Block ``[lo, hi)`` of thread ``k``: ``[2M + B, hi - lo]``."""
            start = height * lo if keep else height * size * k
            return blocks[start:start + height * (hi - lo)].reshape(height, hi - lo)

        def block(k: int, lo: int, hi: int, write: bool = True) -> np.ndarray:
            out = np.matmul(stacked, w[lo:hi].T, out=where(k, lo, hi))  # logits, products, base scores
            beta, products = out[:n_many], out[n_many:2 * n_many]
            for (length, first, end, r0), repeated in zip(groups, repeats):
                rows, shape = slice(r0, r0 + (end - first) * length), (end - first, length, -1)
                logit = beta[rows].reshape(shape)  # a view: [n_l, l, C]
                if repeated:
                    logit += log_count[rows].reshape(end - first, length, 1)
                logit -= logit.max(axis=1, keepdims=True)
                np.exp(logit, out=logit)  # beta times its denominator
                total = np.sum(logit, axis=1, out=sums[first:end, lo:hi])
                np.sum(logit * products[rows].reshape(shape), axis=1, out=targets[first:end, lo:hi])
                targets[first:end, lo:hi] /= total
            if write:
                base_scores = out[2 * n_many:]
                scores[order[:n_single], lo:hi] = base_scores[:n_single]
                scores[many, lo:hi] = base_scores[n_single:] + targets[:, lo:hi]
            return out

        pool.map(lambda k: [block(k, lo, hi) for lo, hi in spans[k]], len(spans))
        if not training:
            scratch.give(memory)
        ctx.saved = (stacked, w, targets, sums, keep, where, block, pool, spans, scratch, memory)
        ctx.geometry = (n_many, n_single, groups, order, perm, single, k_np.shape)
        ctx.needs = [not t.stop_gradient for t in (base, keys, values, items)]
        return from_host(scores)

    @staticmethod
    def backward(ctx, grad):
        stacked, w, targets, sums, keep, where, block, pool, spans, scratch, memory = ctx.saved
        n_many, n_single, groups, order, perm, single, row_shape = ctx.geometry
        ctx.saved = None
        g = grad.numpy()[order]  # [B, N], reordered sessions
        partner = np.concatenate([stacked[n_many:2 * n_many], stacked[:n_many], stacked[2 * n_many:]])
        grad_items = np.empty_like(w)

        def grads(lo: int, hi: int, out: np.ndarray) -> np.ndarray:
            """The block ``out`` (beta times its denominator, products, base scores), in
            place, becomes (d products, d logits, d base scores); returns its ``[2M + B, D]``
            share of (d values, d keys, d base) and writes its items' gradient."""
            beta, products = out[:n_many], out[n_many:2 * n_many]
            for length, first, end, r0 in groups:
                rows, shape = slice(r0, r0 + (end - first) * length), (end - first, length, -1)
                d = g[n_single + first:n_single + end, None, lo:hi] / sums[first:end, None, lo:hi]  # [n_l, 1, C]
                b, p = beta[rows].reshape(shape), products[rows].reshape(shape)
                p -= targets[first:end, None, lo:hi]
                p *= b
                p *= d  # d logits = beta * g * (products - target)
                b *= d  # d products = beta * g
            out[2 * n_many:] = g[:, lo:hi]
            np.matmul(out.T, partner, out=grad_items[lo:hi])  # [C, D]
            return out @ w[lo:hi]

        def part(k: int) -> np.ndarray:
            total = np.zeros(stacked.shape, dtype=np.float32)
            for lo, hi in spans[k]:
                total += grads(lo, hi, where(k, lo, hi) if keep else block(k, lo, hi, write=False))
            return total

        d = sum(pool.map(part, len(spans)))  # [2M + B, D]: d values, d keys, d base (reordered)
        scratch.give(memory)
        grad_keys, grad_values = np.zeros(row_shape, np.float32), np.zeros(row_shape, np.float32)
        grad_values[perm], grad_keys[perm] = d[:n_many], d[n_many:2 * n_many]
        grad_values[single] = d[2 * n_many:2 * n_many + n_single]  # a one-row session's value is in its base
        grad_base = np.empty_like(d[2 * n_many:])
        grad_base[order] = d[2 * n_many:]
        out = (grad_base, grad_keys, grad_values, grad_items)
        return tuple(from_host(x) if need else None for x, need in zip(out, ctx.needs))


#: items per block of :func:`host_target_scores`: a DIGINETICA block ``[2M + B, 1024]`` float32 is about 3 MB
TARGET_BLOCK = 1024


def host_target_scores(base: paddle.Tensor, keys: paddle.Tensor, values: paddle.Tensor, session: paddle.Tensor,
                       count: paddle.Tensor, items: paddle.Tensor, budget: int, pool: HostPool,
                       scratch: HostScratch | None = None, block: int = TARGET_BLOCK) -> paddle.Tensor:
    """:func:`srgnn_paddle.kernels.target_attention.target_scores` in numpy on the host (CPU
    float32 tensors): ``base [B, D]``, ``keys``, ``values [R, D]``, ``session [R]`` int64,
    ``count [R]`` float32, ``items [N, D]``, ``budget`` bytes (0 = no limit), ``scratch``
    the run's reused work memory (default: fresh), ``block`` items at a time -> ``[B, N]``."""
    training = paddle.is_grad_enabled() and not all(t.stop_gradient for t in (base, keys, values, items))
    return _NumpyTargetScores.apply(base, keys, values, session.numpy().astype(np.int64), count.numpy(), items,
                                    int(budget), pool, scratch or HostScratch(), max(1, int(block)), training)


# ---------------------------------------------------------------------------- Adam
class HostAdam(paddle.optimizer.Adam):
    """``paddle.optimizer.Adam`` with coupled L2 weight decay, whose update of large float32
    CPU parameters runs in numpy, in place, with the L2 term folded in.

    Same arguments, state (Paddle's own moment and beta-power accumulators, so
    ``state_dict``/``set_state_dict`` and learning-rate schedulers work unchanged) and
    arithmetic as ``paddle.optimizer.Adam(weight_decay=l2)``::

        g = grad + l2 * param
        m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g * g
        lr_t = lr * sqrt(1 - beta2_pow) / (1 - beta1_pow)
        param -= lr_t * m / (sqrt(v) + epsilon * sqrt(1 - beta2_pow))
        beta1_pow *= beta1 ;  beta2_pow *= beta2

    Why: on the CPU, Paddle applies the L2 term as two separate ops (``scale``, ``add_n``)
    and its ``adam_`` kernel makes several passes over the memory; here the arrays are
    walked once, in cache-sized chunks, with the L2 term folded in (several times faster
    on the DIGINETICA item table: docs/performance.md, "The kernels' design, measured"). Non-float32 parameters, sparse gradients and tensors on a GPU (or every
    parameter with ``use_host=False``) take Paddle's own path, with the L2 term added to
    the gradient first.
    """

    CHUNK = 1 << 18  # elements per chunk (1 MiB a float32 array): the best measured with 1 and 2 threads

    #: the private members of ``paddle.optimizer.Adam`` this class relies on
    #: (see :meth:`missing_internals`)
    INTERNALS = ("_append_optimize_op", "_get_accumulator_master", "_create_param_lr", "_moment1_acc_str",
                 "_moment2_acc_str", "_beta1_pow_acc_str", "_beta2_pow_acc_str")

    def __init__(self, learning_rate=0.001, parameters=None, weight_decay: float = 0.0,
                 pool: HostPool | None = None, use_host: bool | None = None, **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, parameters=parameters, weight_decay=None, **kwargs)
        self._l2 = float(weight_decay or 0.0)
        self._use_host = use_host
        self._pool = pool or HostPool(1)
        self._scratch: List[np.ndarray] = []

    @classmethod
    def missing_internals(cls) -> List[str]:
        """The members of :data:`INTERNALS` (and the instance attributes ``_beta1``,
        ``_beta2``, ``_epsilon``) this Paddle's Adam lacks; empty when this
        class works with the installed Paddle."""
        missing = [name for name in cls.INTERNALS if not hasattr(paddle.optimizer.Adam, name)]
        if missing:
            return missing
        probe = paddle.optimizer.Adam(parameters=[paddle.create_parameter([1], "float32")])
        return [name for name in ("_beta1", "_beta2", "_epsilon") if not hasattr(probe, name)]

    def _append_optimize_op(self, block, param_and_grad):
        param, grad = param_and_grad[0], param_and_grad[1]
        if self._host_update(param, grad):
            return None
        if self._l2:
            grad = grad + self._l2 * param
        return super()._append_optimize_op(block, (param, grad))

    def _wants_host(self, param, grad) -> bool:
        """The numpy path: float32 parameters with dense gradients on the CPU (unless
        ``use_host=False``)."""
        if self._use_host is False or param.dtype != paddle.float32 or compat.adam_amsgrad(self):
            return False
        return param.place.is_cpu_place() and not getattr(grad, "is_selected_rows", lambda: False)()

    def _host_update(self, param, grad) -> bool:
        """Update ``param`` and its accumulators in numpy; False (nothing done) when this
        parameter must take Paddle's own path."""
        if not self._wants_host(param, grad):
            return False
        tensors = (param,
                   self._get_accumulator_master(self._moment1_acc_str, param),
                   self._get_accumulator_master(self._moment2_acc_str, param),
                   self._get_accumulator_master(self._beta1_pow_acc_str, param),
                   self._get_accumulator_master(self._beta2_pow_acc_str, param))
        views = [host_view(t) for t in tensors]
        if not all(shares_memory(t, v) for t, v in zip(tensors, views)):
            return False  # no zero-copy view here: let Paddle update its own tensors
        p, m, v, beta1_pow, beta2_pow = views
        lr = float(self._create_param_lr((param, grad)))
        b1, b2 = float(self._beta1), float(self._beta2)
        bias1, bias2 = 1.0 - float(beta1_pow.reshape(-1)[0]), 1.0 - float(beta2_pow.reshape(-1)[0])
        p, g, m, v = p.reshape(-1), host_view(grad).reshape(-1), m.reshape(-1), v.reshape(-1)
        args = dict(lr_t=lr * math.sqrt(bias2) / bias1, beta1=b1, beta2=b2,
                    eps_t=float(self._epsilon) * math.sqrt(bias2), l2=self._l2, chunk=self.CHUNK)
        bounds = split_bounds(p.shape[0], self._pool.threads, align=self.CHUNK)

        def part(k: int) -> None:
            lo, hi = bounds[k], bounds[k + 1]
            adam_update(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], scratch=self._buffer(k), **args)

        self._pool.map(part, len(bounds) - 1)
        beta1_pow *= np.float32(b1)
        beta2_pow *= np.float32(b2)
        return True

    def _buffer(self, k: int) -> np.ndarray:
        """Scratch space of thread ``k`` (two chunks)."""
        while len(self._scratch) <= k:
            self._scratch.append(np.empty(2 * self.CHUNK, dtype=np.float32))
        return self._scratch[k]


def adam_update(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, lr_t: float, beta1: float,
                beta2: float, eps_t: float, l2: float = 0.0, chunk: int = 1 << 15,
                scratch: np.ndarray | None = None) -> None:
    """One Adam step in place on 1-D float32 arrays ``p`` (parameters), ``m``, ``v`` (moments)
    from the gradient ``g``, with the bias corrections already in ``lr_t`` and ``eps_t``
    (see :class:`HostAdam`): ``p -= lr_t * m / (sqrt(v) + eps_t)``. Works chunk by chunk
    so that every pass over a chunk hits the cache instead of memory."""
    if scratch is None or scratch.size < 2 * chunk:
        scratch = np.empty(2 * chunk, dtype=np.float32)
    f32 = np.float32
    b1, c1, b2, c2 = f32(beta1), f32(1.0 - beta1), f32(beta2), f32(1.0 - beta2)
    lr, eps, decay = f32(lr_t), f32(eps_t), f32(l2)
    n = p.shape[0]
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        size = stop - start
        ps, ms, vs = p[start:stop], m[start:stop], v[start:stop]
        gs = g[start:stop]
        t, u = scratch[:size], scratch[chunk:chunk + size]
        if l2:
            np.multiply(ps, decay, out=t)
            t += gs
            gs = t  # g + l2 * p
        ms *= b1
        np.multiply(gs, c1, out=u)
        ms += u
        vs *= b2
        np.multiply(gs, gs, out=u)
        u *= c2
        vs += u
        np.sqrt(vs, out=u)
        u += eps
        np.divide(ms, u, out=u)
        u *= lr
        ps -= u
