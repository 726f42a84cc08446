"""The one seam for speed tricks: which kernels a run computes with.

``kernels: paddle`` is plain Paddle throughout (what GPUs run, and the reference).
``kernels: host`` moves the work that Paddle's CPU kernels do slowly into numpy
(:mod:`srgnn_paddle.kernels.host`): the full-catalogue softmax cross-entropy, the GEMMs
of the models' :class:`~srgnn_paddle.kernels.linear.Linear` layers, GCE-GNN's attention over
gathered neighbours (:meth:`Kernels.segment_attention`, :mod:`srgnn_paddle.kernels.attention`),
TAGNN's target attention over the catalogue (:meth:`Kernels.target_scores`,
:mod:`srgnn_paddle.kernels.target_attention`), the L2 normalisation of an item table
(:meth:`Kernels.normalize_rows`), the softmax cross-entropy of given scores
(:meth:`Kernels.scores_cross_entropy`),
the Adam update and the evaluator's rank counting (SGD, ``optimizer: sgd``, is Paddle's with
either kernels).
``kernels: auto`` (the default) is ``host`` on the CPU and ``paddle`` elsewhere.

What reaches the host kernels is explicit: a model builds the dense layers it wants there
as :class:`~srgnn_paddle.kernels.linear.Linear` (:func:`kernel_linears` lists them), and a
layer that calls another kernel derives from :class:`~srgnn_paddle.kernels.linear.KernelLayer`; every
other matmul it writes (``paddle.matmul`` on its own parameters, ``nn.GRU``) is plain
Paddle with either kernels. A model declares which parameters get row-sparse gradients
(``Recommender.sparse_parameters``), and the kernels decide the optimiser
(:meth:`Kernels.optimizer`) and how gradients are cleared after a step
(:meth:`Kernels.clear_gradients`).

A run calls :func:`select_kernels` once and uses the kernels in a ``with`` block (host
kernels cap Paddle's and BLAS's threads inside it only); the trainer hands
:meth:`Kernels.cross_entropy` to the model's ``calculate_loss`` and runs the model inside
:meth:`Kernels.attach`, which hands these kernels to the model's ``Linear`` layers and
other ``KernelLayer`` s (their ``kernels`` attribute) for the duration of the block. Nothing module-level changes.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import KERNEL_CHOICES
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.evaluation.metrics import target_ranks
from srgnn_paddle.kernels.attention import AttentionPairs, segment_attention
from srgnn_paddle.kernels.host import (
    HostAdam,
    HostPool,
    HostScratch,
    host_matmul,
    host_normalize_rows,
    host_scores_cross_entropy,
    host_segment_attention,
    host_softmax_cross_entropy,
    host_target_scores,
    host_target_ranks,
    host_view,
)
from srgnn_paddle.kernels.linear import KernelLayer, Linear, normalize_rows
from srgnn_paddle.kernels.target_attention import target_scores
from srgnn_paddle.models.base import Scorer, scores_cross_entropy, softmax_cross_entropy
from srgnn_paddle.runtime import single_threaded_math

KERNELS = KERNEL_CHOICES  # auto | paddle | host


class Kernels:
    """Plain Paddle kernels (``kernels: paddle``); :class:`HostKernels` overrides them."""

    name = "paddle"

    def cross_entropy(self, user: paddle.Tensor, items: paddle.Tensor, target: paddle.Tensor,
                      mask_padding: bool = False) -> paddle.Tensor:
        """Full-catalogue softmax cross-entropy: ``user [B, D]``, ``items [N, D]``,
        ``target [B]`` int64 -> scalar mean loss."""
        return softmax_cross_entropy(user, items, target, mask_padding)

    def linear(self, x: paddle.Tensor, weight: paddle.Tensor, bias: Optional[paddle.Tensor]) -> paddle.Tensor:
        """A :class:`~srgnn_paddle.kernels.linear.Linear` layer's ``x [..., K] @ weight [K, M]
        (+ bias [M])`` -> ``[..., M]``."""
        return F.linear(x, weight, bias)

    def segment_attention(self, base: paddle.Tensor, row: paddle.Tensor, q: paddle.Tensor, values: paddle.Tensor,
                          pairs: AttentionPairs, slope: float) -> paddle.Tensor:
        """Attention over gathered neighbours, summed per unit (GCE-GNN's global level):
        ``base [Q, D]``, ``row [D]``, ``q [D, 1]``, ``values [V, D]`` -> ``[K, D]``; see
        :mod:`srgnn_paddle.kernels.attention`."""
        return segment_attention(base, row, q, values, pairs, slope)

    def scores_cross_entropy(self, scores: paddle.Tensor, target: paddle.Tensor,
                             mask_padding: bool = False) -> paddle.Tensor:
        """The softmax cross-entropy of given scores (a model that does not score by inner
        product, TAGNN): ``scores [B, N]``, ``target [B]`` int64 -> scalar mean loss."""
        return scores_cross_entropy(scores, target, mask_padding)

    def normalize_rows(self, x: paddle.Tensor, zero_first: bool = False) -> paddle.Tensor:
        """Every row of ``x [R, D]`` divided by its L2 norm (``F.normalize(x, axis=-1)``);
        ``zero_first``: row 0 zero, without a gradient."""
        return normalize_rows(x, zero_first)

    def target_scores(self, base: paddle.Tensor, keys: paddle.Tensor, values: paddle.Tensor, session: paddle.Tensor,
                      count: paddle.Tensor, items: paddle.Tensor, budget: int) -> paddle.Tensor:
        """TAGNN's scores of every item with its own target attention: ``base [B, D]``,
        ``keys``, ``values [R, D]``, ``session [R]`` int64, ``count [R]`` float32, ``items
        [N, D]``, ``budget`` bytes (0 = no limit) -> ``[B, N]``; see
        :mod:`srgnn_paddle.kernels.target_attention`."""
        return target_scores(base, keys, values, session, count, items, budget)

    def target_ranks(self, model: Scorer, batch) -> np.ndarray:
        """``[B]`` int64 full-catalogue rank of each target of ``batch`` (1 = best; ties and
        NaN count against the target; the padding item is never a candidate)."""
        scores = model.full_scores(batch)
        return target_ranks(scores, model.targets(batch), exclude_padding=True)

    def optimizer(self, parameters: Sequence[paddle.Tensor], learning_rate, weight_decay: float,
                  name: str = "adam", dense_gradients: bool = False) -> paddle.optimizer.Optimizer:
        """Adam (``name`` ``adam``) or plain mini-batch SGD (``sgd``), with coupled L2 weight
        decay (added to the gradient, as the official SR-GNN's ``torch.optim.Adam(...,
        weight_decay=l2)``).

        ``dense_gradients`` (no parameter gets a row-sparse gradient, see
        :func:`has_sparse_gradients`): Adam updates all parameters in one fused op
        (Paddle's ``use_multi_tensor``; the same arithmetic, one kernel call instead of one
        per parameter, which pays for models with many small parameters such as NeuMF:
        docs/performance.md, "The kernels' design, measured"). Paddle 3.3's fused Adam
        crashes on row-sparse gradients, hence the flag."""
        if name == "sgd":
            return paddle.optimizer.SGD(learning_rate=learning_rate, parameters=parameters,
                                        weight_decay=weight_decay or None)
        return paddle.optimizer.Adam(learning_rate=learning_rate, parameters=parameters,
                                     weight_decay=weight_decay or None, use_multi_tensor=dense_gradients)

    @staticmethod
    def clear_gradients(optimizer: paddle.optimizer.Optimizer, data_parallel: bool = False) -> None:
        """After an optimiser step: free the gradients in one process, so that the next
        backward writes them instead of adding to zeroed buffers (no memset and add over the
        item table each step; the same weights to the bit, tested; measured in
        docs/performance.md, "The kernels' design, measured"); data-parallel training keeps
        Paddle's zeroed buffers, which its gradient reducer works on."""
        optimizer.clear_grad(set_to_zero=data_parallel)

    @contextlib.contextmanager
    def attach(self, model: Any) -> Iterator[Any]:
        """Inside the block the :class:`~srgnn_paddle.kernels.linear.Linear` layers (and the
        other :class:`~srgnn_paddle.kernels.linear.KernelLayer` s) of ``model`` compute with
        these kernels (their ``kernels`` attribute); afterwards they get back what they had.
        A model without layers (a counted one) passes through."""
        layers = kernel_layers(model)
        before = [layer.kernels for layer in layers]
        for layer in layers:
            layer.kernels = self
        try:
            yield model
        finally:
            for layer, kernels in zip(layers, before):
                layer.kernels = kernels

    def __enter__(self) -> "Kernels":
        """A run uses its kernels in a ``with`` block: process-wide settings they need hold
        only inside it."""
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Release what the kernels hold (threads)."""


class HostKernels(Kernels):
    """numpy on the CPU for the big GEMMs, the softmax, Adam and the rank counting, split
    over ``threads`` host threads (see :mod:`srgnn_paddle.kernels.host`).

    ``notice`` receives one line when the installed Paddle lacks what :class:`HostAdam`
    needs and ``paddle.optimizer.Adam`` is used instead.
    """

    name = "host"

    def __init__(self, threads: int = 1, notice=print) -> None:
        self.pool = HostPool(threads)
        self.scratch = HostScratch()
        self.notice = notice
        self._settings = contextlib.ExitStack()

    def __enter__(self) -> "HostKernels":
        """Inside the block Paddle's CPU kernels and numpy's BLAS run single-threaded (the
        parallelism is the pool's; see :func:`~srgnn_paddle.runtime.single_threaded_math`)."""
        self._settings.enter_context(single_threaded_math())
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._settings.close()
        finally:
            self.close()

    def cross_entropy(self, user, items, target, mask_padding=False):
        return host_softmax_cross_entropy(user, items, target, mask_padding, self.pool)

    def target_ranks(self, model: Scorer, batch) -> np.ndarray:
        if not model.inner_product:  # the model's scores, compared in numpy (faster than Paddle's on the CPU)
            return target_ranks(host_view(model.full_scores(batch)), model.targets(batch).numpy(),
                                exclude_padding=True)
        return host_target_ranks(model.encode(batch).numpy(), host_view(model.item_embeddings()),
                                 model.targets(batch).numpy(), exclude_padding=True, pool=self.pool)

    def optimizer(self, parameters, learning_rate, weight_decay, name="adam", dense_gradients=False):
        """:class:`HostAdam` for ``adam`` (``dense_gradients`` does not apply: its numpy
        update is per parameter); SGD as :class:`Kernels`."""
        if name != "adam":
            return super().optimizer(parameters, learning_rate, weight_decay, name)
        missing = HostAdam.missing_internals()
        if missing:
            self.notice(f"note: Paddle {paddle.__version__}'s Adam lacks {', '.join(missing)}; "
                        f"the optimiser runs as paddle.optimizer.Adam (same arithmetic, slower on the CPU)")
            return super().optimizer(parameters, learning_rate, weight_decay)
        return HostAdam(learning_rate=learning_rate, parameters=parameters, weight_decay=weight_decay,
                        pool=self.pool)

    def linear(self, x, weight, bias):
        """:meth:`Kernels.linear` with the GEMM and both its gradients in numpy (:func:`host_matmul`)."""
        out = host_matmul(x, weight)
        return out if bias is None else out + bias

    def segment_attention(self, base, row, q, values, pairs, slope):
        """:meth:`Kernels.segment_attention` in numpy (:func:`host_segment_attention`)."""
        return host_segment_attention(base, row, q, values, pairs, slope, self.pool)

    def scores_cross_entropy(self, scores, target, mask_padding=False):
        """:meth:`Kernels.scores_cross_entropy` in numpy (:func:`host_scores_cross_entropy`)."""
        return host_scores_cross_entropy(scores, target, mask_padding, self.pool)

    def normalize_rows(self, x, zero_first=False):
        """:meth:`Kernels.normalize_rows` in numpy (:func:`host_normalize_rows`)."""
        return host_normalize_rows(x, self.pool, zero_first=zero_first)

    def target_scores(self, base, keys, values, session, count, items, budget):
        """:meth:`Kernels.target_scores` in numpy (:func:`host_target_scores`)."""
        return host_target_scores(base, keys, values, session, count, items, budget, self.pool, self.scratch)

    def close(self) -> None:
        self.pool.close()
        self.scratch.clear()


def kernel_linears(model: Any) -> List[Tuple[str, Linear]]:
    """``[(name, layer)]``: the :class:`~srgnn_paddle.kernels.linear.Linear` layers of ``model``,
    the GEMMs that run on the host kernel with ``kernels: host`` (none for a model that is
    not an ``nn.Layer``)."""
    if not isinstance(model, nn.Layer):
        return []
    return [(name, layer) for name, layer in model.named_sublayers(include_self=True) if isinstance(layer, Linear)]


def kernel_layers(model: Any) -> List[KernelLayer]:
    """The :class:`~srgnn_paddle.kernels.linear.KernelLayer` s of ``model`` (its ``Linear``
    layers among them): what :meth:`Kernels.attach` hands the kernels to."""
    if not isinstance(model, nn.Layer):
        return []
    return [layer for _, layer in model.named_sublayers(include_self=True) if isinstance(layer, KernelLayer)]


def has_sparse_gradients(model: Any) -> bool:
    """True when ``model`` declares a parameter with a row-sparse gradient
    (``model.sparse_parameters()``, e.g. the item table of SR-GNN)."""
    return bool(model.sparse_parameters()) if hasattr(model, "sparse_parameters") else False


def select_kernels(setting: str = "auto", device: Optional[str] = None, threads: int = 1,
                   notice=print) -> Kernels:
    """The kernels of a run.

    Args:
        setting: ``auto`` (host on the CPU, paddle elsewhere), ``paddle`` or ``host``.
        device: the device the run uses (default: Paddle's current one).
        threads: host threads (``host`` only).
        notice: where a one-line notice goes (see :class:`HostKernels`).
    """
    if setting not in KERNELS:
        raise SrgnnError(f"unknown kernels {setting!r}; use one of {', '.join(KERNELS)}")
    on_cpu = (device or paddle.get_device()).startswith("cpu")
    if setting == "host" and not on_cpu:
        raise SrgnnError(f"kernels 'host' compute in numpy on the CPU, but the run uses {device}; "
                         f"use --kernels paddle (or auto) on a GPU, or --device cpu")
    if setting == "host" or (setting == "auto" and on_cpu):
        return HostKernels(threads, notice)
    return Kernels()


__all__ = ["KERNELS", "Kernels", "HostKernels", "KernelLayer", "Linear", "kernel_layers", "kernel_linears", "has_sparse_gradients", "select_kernels"]
