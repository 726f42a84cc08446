"""CPU fast paths for the model's GEMMs: the fused full-catalogue softmax cross-entropy,
and the dense layers' matmuls.

The full softmax (``[B, D] x [n_items, D]^T``, then cross-entropy) is most of a training
step. On the CPU, Paddle 3.3's GEMM runs several times slower than numpy's BLAS on these
shapes (measured: 22 ms vs 6.5 ms for ``100x100 @ 100x43098`` on 2 cores; 19 ms vs 9 ms for
the GNN's ``[2200, 200] @ [200, 300]`` forward and backward on one), so there the GEMMs of
the forward and backward pass run in numpy inside a :class:`paddle.autograd.PyLayer`.
Elsewhere (GPU) the plain Paddle ops run. Both give the same results and gradients (tested).
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle.autograd import PyLayer


class _NumpySoftmaxCrossEntropy(PyLayer):
    """Mean cross-entropy of ``softmax(user @ weight^T)``; numpy on the host.

    The ``[B, N]`` logits are the only large array: it is written once by the GEMM, then
    shifted and exponentiated in place, and read by the two backward GEMMs. The softmax
    normalisation and the gradient scale are applied to the small ``[B, D]`` / ``[N, D]``
    GEMM inputs and outputs instead of the ``[B, N]`` array (two fewer passes over it).
    """

    @staticmethod
    def forward(ctx, user_emb, weight, target: np.ndarray, mask_padding: bool):
        u = user_emb.numpy()
        w = weight.numpy()
        logits = u @ w.T  # [B, N]
        if mask_padding:
            logits[:, 0] = -1e9
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)  # unnormalised probabilities e, each row's max is 1
        total = logits.sum(axis=1)  # [B]
        rows = np.arange(len(target))
        loss = float(np.mean(np.log(total) - np.log(np.maximum(logits[rows, target], 1e-37))))
        ctx.saved = (logits, total, u, w, target)
        return paddle.to_tensor(np.float32(loss))

    @staticmethod
    def backward(ctx, grad_loss):
        exp_logits, total, u, w, target = ctx.saved
        ctx.saved = None
        scale = np.float32(float(grad_loss) / len(target))
        row_scale = (scale / total).astype(np.float32)[:, None]  # [B, 1]: softmax = e / total
        # d loss / d logits = scale * (e / total - onehot(target))
        grad_u = (exp_logits @ w) * row_scale - scale * w[target]  # [B, D]
        grad_w = exp_logits.T @ (u * row_scale)  # [N, D]
        np.add.at(grad_w, target, -scale * u)
        return (paddle.to_tensor(grad_u.astype(np.float32, copy=False)),
                paddle.to_tensor(grad_w.astype(np.float32, copy=False)))


def full_softmax_cross_entropy(user_emb: paddle.Tensor, weight: paddle.Tensor, target: paddle.Tensor,
                               mask_padding: bool = False, use_host_blas: bool | None = None) -> paddle.Tensor:
    """Mean cross-entropy over the whole catalogue.

    Args:
        user_emb: ``[B, D]`` float32.
        weight: ``[N, D]`` item table; column ``c`` of the scores is item ``c``.
        target: ``[B]`` int64 item ids.
        mask_padding: exclude item 0 from the softmax (the paper's scoring).
        use_host_blas: numpy path; default: when the tensors are on the CPU.
    Returns:
        the scalar loss.
    """
    if use_host_blas is None:
        use_host_blas = user_emb.place.is_cpu_place()
    if use_host_blas:
        return _NumpySoftmaxCrossEntropy.apply(user_emb, weight, target.numpy().reshape(-1), mask_padding)
    scores = paddle.matmul(user_emb, weight, transpose_y=True)
    if mask_padding:
        pad = paddle.zeros([weight.shape[0]], dtype=scores.dtype)
        pad[0] = -1e9
        scores = scores + pad
    return F.cross_entropy(scores, target.reshape([-1]))


class _NumpyMatmul(PyLayer):
    """``x [..., K] @ w [K, M]`` with numpy's BLAS on the host, gradients for both."""

    @staticmethod
    def forward(ctx, x, w):
        x_np = x.numpy()
        w_np = w.numpy()
        x2 = x_np.reshape(-1, x_np.shape[-1])  # [R, K]
        ctx.saved = (x2, w_np, x_np.shape)
        return paddle.to_tensor((x2 @ w_np).reshape(*x_np.shape[:-1], w_np.shape[1]))

    @staticmethod
    def backward(ctx, grad):
        x2, w_np, shape = ctx.saved
        ctx.saved = None
        g = grad.numpy().reshape(-1, w_np.shape[1])  # [R, M]
        return paddle.to_tensor((g @ w_np.T).reshape(shape)), paddle.to_tensor(x2.T @ g)


def dense_matmul(x: paddle.Tensor, w: paddle.Tensor, use_host_blas: bool | None = None) -> paddle.Tensor:
    """``x [..., K] @ w [K, M] -> [..., M]`` for the model's dense layers.

    On the CPU the GEMM (forward and both gradients) runs in numpy's BLAS, several times
    faster than Paddle's CPU GEMM on these shapes; elsewhere ``paddle.matmul``.
    """
    if use_host_blas is None:
        use_host_blas = x.place.is_cpu_place()
    if use_host_blas:
        return _NumpyMatmul.apply(x, w)
    return paddle.matmul(x, w)
