"""Training losses beside the full softmax of the model contract: the sampled softmax with
the log-q correction and its negative sampler."""
from __future__ import annotations

from typing import Optional

import numpy as np
import paddle
import paddle.nn.functional as F


def sampled_softmax_loss(user_emb: paddle.Tensor, candidates: paddle.Tensor, target: paddle.Tensor,
                         negatives: paddle.Tensor, log_q: paddle.Tensor) -> paddle.Tensor:
    """Sampled softmax with the log-q correction.

    Args:
        user_emb: ``[B, D]``.
        candidates: ``[C, D]`` the scored item table (target/negative indices refer to rows).
        target: ``[B]`` int64 row of each positive.
        negatives: ``[S]`` int64 rows of negatives shared by the batch.
        log_q: ``[C]`` float32 log sampling probability of each row.
    Returns:
        scalar mean loss; logits are ``s - log q`` for positives and negatives, and a
        negative equal to the positive is masked out.
    """
    pos_emb = paddle.gather(candidates, target)  # [B, D]
    neg_emb = paddle.gather(candidates, negatives)  # [S, D]
    pos_logit = (user_emb * pos_emb).sum(axis=1, keepdim=True) - paddle.gather(log_q, target).unsqueeze(1)
    neg_logit = paddle.matmul(user_emb, neg_emb, transpose_y=True) - paddle.gather(log_q, negatives).unsqueeze(0)
    collision = (negatives.unsqueeze(0) == target.unsqueeze(1)).astype(neg_logit.dtype)
    neg_logit = neg_logit - 1e9 * collision
    logits = paddle.concat([pos_logit, neg_logit], axis=1)  # [B, 1 + S]
    return F.cross_entropy(logits, paddle.zeros([logits.shape[0]], dtype="int64"))


class NegativeSampler:
    """Draws shared negatives for sampled softmax: uniform or by training popularity.

    Args:
        n_candidates: rows of the scored item table (``n_items``).
        kind: ``'uniform'`` or ``'popularity'`` (training counts + 1, so unseen items can
            still be drawn).
        counts: ``[>= n_candidates]`` training counts per item id (needed for popularity).
        n_negatives: ``S``, negatives drawn (with replacement) per step, shared by the batch.
        seed: draws depend only on ``(seed, epoch, step)``.
        exclude_padding: never draw row 0.

    ``log_q [n_candidates]`` is ``log(S * p)``, the log of each row's expected count among
    the ``S`` draws: the correction subtracted from the logits by :func:`sampled_softmax_loss`.
    """

    def __init__(self, n_candidates: int, kind: str, counts: Optional[np.ndarray], n_negatives: int,
                 seed: int, exclude_padding: bool = True) -> None:
        if kind == "popularity":
            if counts is None:
                raise ValueError("popularity negatives need the training item counts")
            p = np.asarray(counts, dtype=np.float64)[:n_candidates] + 1.0  # add-one smoothing
            if len(p) < n_candidates:
                p = np.r_[p, np.ones(n_candidates - len(p))]
        elif kind == "uniform":
            p = np.ones(n_candidates)
        else:
            raise ValueError(f"unknown negative sampler {kind!r}; use uniform or popularity")
        if exclude_padding:
            p[0] = 0.0
        p /= p.sum()
        self.p = p
        self._cdf = np.cumsum(p)
        self._cdf[-1] = 1.0
        # log q of the padding row is irrelevant (never drawn, never a target): keep it finite
        self.log_q = paddle.to_tensor(np.log(np.maximum(p * n_negatives, 1e-30)).astype(np.float32))
        self.n_negatives = n_negatives
        self.seed = seed

    def draw_numpy(self, epoch: int, step: int) -> np.ndarray:
        """``[S]`` int64 row ids: inverse-CDF draws, O(S log C) per step (``rng.choice`` with
        ``p`` rebuilds the CDF, O(C), on every call: 10 ms a step at a million items)."""
        rng = np.random.default_rng([self.seed, epoch, step, 2])
        rows = np.searchsorted(self._cdf, rng.random(self.n_negatives), side="right")
        return np.minimum(rows, len(self.p) - 1).astype(np.int64)

    def draw(self, epoch: int, step: int) -> paddle.Tensor:
        """:meth:`draw_numpy` as a Paddle tensor ``[S]`` int64."""
        return paddle.to_tensor(self.draw_numpy(epoch, step))
