"""TAGNN (Yu et al., "TAGNN: Target Attentive Graph Neural Networks for Session-based
Recommendation", SIGIR 2020): SR-GNN's session graph and gated graph network, then a
target-aware attention that gives every candidate item a session vector of its own.

In the paper's notation, for a session ``s`` whose items' node vectors after the gated
graph network (SR-GNN's cell, :class:`~srgnn_paddle.models.srgnn.GNN`, reused) are
``v_{s,1}..v_{s,n}``:

* target attention, for every candidate item ``v_t`` of the catalogue:
  ``beta_{i,t} = softmax_i(v_t^T W v_{s,i})`` over the session's items ``i = 1..n``, and
  ``s_target^t = sum_i beta_{i,t} v_{s,i}``;
* local and global interest, as SR-GNN: ``s_local = v_{s,n}``,
  ``s_global = sum_i alpha_i v_{s,i}`` with ``alpha_i = q^T sigmoid(W_1 v_{s,n} + W_2 v_{s,i} + c)``;
* the session vector of target ``t``: ``s_t = W_3 [s_target^t; s_local; s_global]``;
* the scores ``z_t = s_t^T v_t`` and ``y = softmax(z)``, trained with the cross-entropy of
  the full softmax over the catalogue.

``s_t`` differs for every item, so the scores are not one inner product per session
(``inner_product = False``: no Faiss retrieval, no export). Splitting ``W_3`` by blocks,
``W_3 [s_target^t; s_local; s_global] = W_T s_target^t + W_LG [s_global; s_local] + b``, the
score of item ``t`` is

    ``z_t = v_t . (W_LG [s_global; s_local] + b) + sum_i beta_{i,t} (v_t . W_T v_{s,i})``

which is what :meth:`TAGNN.full_scores` computes for the whole catalogue at once: two
batched products ``[P, D] x [D, N]`` over the batch's ``P`` history entries (the packed
graph's, sessions one after another: the attention logits ``v_t . W v_{s,i}`` and the values
``v_t . W_T v_{s,i}``), a softmax over each session's entries and a weighted sum over them
(segment operations); the ``[B, N, D]`` tensor of the ``s_t`` is never built, nor is the
padding computed (padded ``[B, L, D] x [D, N]`` products would do 5.4 times the work on
DIGINETICA's batches of 100 prefix pairs: on average ``B * L = 2,217`` slots for ``P = 413``
entries). Memory per batch: about ``24 * P * N`` bytes (six float32 ``[P, N]`` tensors at the
peak of the backward; about 430 MB for a DIGINETICA batch). When that exceeds
``score_budget_mb`` the catalogue is scored in chunks of items that fit, forward and backward
alike (the backward recomputes a chunk's softmax instead of keeping it:
:class:`_TargetAttention`), so the budget holds for training too.

Where this implementation differs from the official code (CRIPAC-DIG/TAGNN) and why:

* the official ``compute_scores`` adds ``s_target^t`` to ``W_LG [s_global; s_local]``
  untransformed (``W_T`` fixed to the identity); here ``W_T`` is learnt
  (``linear_target``), as the paper's ``W_3`` over the three vectors has it;
* its softmaxes (the target attention, and one it adds over SR-GNN's ``alpha``) run over
  every padded position of the batch (the padding's logits are ``0``), so a session's
  scores depend on the longest session it is batched with; here the target attention's
  softmax runs over the session's real positions only and ``alpha`` is SR-GNN's (no
  softmax), as in the paper's equations;
* the official code scores items ``1..N-1`` only; here column 0 (padding) follows
  ``score_padding`` as for every model of this package.

Host kernels (``kernels: host``): the ``Linear`` layers (the cell's ``linear_edge_in`` /
``linear_edge_out``, ``linear_one``, ``linear_two``, ``linear_three``,
``linear_transform``, ``linear_t``, ``linear_target``); the cell's gate GEMMs and the
target attention's products are plain Paddle with either kernels.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle.autograd import PyLayer

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import build_packed_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.base import CrossEntropy, mask_padding_column
from srgnn_paddle.models.layers import PackedAdjacency, PackedHistory, as_tensor, initialise, segment_sum
from srgnn_paddle.models.sequence import SessionModel
from srgnn_paddle.models.srgnn import GNN

#: bytes per (history entry, item) of the target attention's float32 ``[P, C]`` tensors at
#: their peak (six of them, in the backward)
BYTES_PER_ENTRY = 24


def _attend(keys: paddle.Tensor, values: paddle.Tensor, session: paddle.Tensor, n_sessions: int,
            items: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
    """``(beta [P, C], products [P, C], out [B, C])`` for a chunk of ``C`` items:
    ``logits = keys [P, D] x items [C, D]^T``, ``beta`` their softmax over each session's
    entries (``session [P]``, non-decreasing), ``products = values x items^T`` and
    ``out[b, t] = sum over b's entries p of beta[p, t] products[p, t]``."""
    logits = paddle.matmul(keys, items, transpose_y=True)  # [P, C]
    top = paddle.geometric.segment_max(logits.detach(), session)  # [B, C]: a stable softmax
    weights = paddle.exp(logits - paddle.gather(top, session))
    del logits, top
    total = segment_sum(weights, session, n_sessions)  # [B, C]
    beta = weights / paddle.gather(total, session)
    del weights, total
    products = paddle.matmul(values, items, transpose_y=True)  # [P, C]
    return beta, products, segment_sum(beta * products, session, n_sessions)


def _chunks(n: int, chunk: int):
    return [(start, min(start + chunk, n)) for start in range(0, n, chunk)]


class _TargetAttention(PyLayer):
    """:func:`_attend`'s ``out`` chunk by chunk of items, with a backward that recomputes each
    chunk (or reuses the forward's tensors when the catalogue is one chunk), so no more than
    one chunk's ``[P, C]`` tensors are alive at a time."""

    @staticmethod
    def forward(ctx, keys, values, session, items, n_sessions, chunk):
        parts, kept = [], None
        spans = _chunks(items.shape[0], chunk)
        for start, end in spans:
            beta, products, out = _attend(keys, values, session, n_sessions, items[start:end])
            parts.append(out)  # [B, C]
            if len(spans) == 1:
                kept = (beta, products, out)
        ctx.save_for_backward(keys, values, session, items)
        ctx.spans, ctx.kept, ctx.n_sessions = spans, kept, n_sessions
        return paddle.concat(parts, axis=1)

    @staticmethod
    def backward(ctx, grad):
        keys, values, session, items = ctx.saved_tensor()
        spans, kept, n_sessions = ctx.spans, ctx.kept, ctx.n_sessions
        ctx.kept = None
        d_keys, d_values, d_items = paddle.zeros_like(keys), paddle.zeros_like(values), []
        for start, end in spans:
            chunk = items[start:end]  # [C, D]
            beta, products, out = kept if kept is not None else _attend(keys, values, session, n_sessions, chunk)
            d_products = beta * paddle.gather(grad[:, start:end], session)  # [P, C]: d out / d products
            del beta
            d_logits = d_products * (products - paddle.gather(out, session))  # the softmax's backward
            del products, out
            d_keys += paddle.matmul(d_logits, chunk)
            d_values += paddle.matmul(d_products, chunk)
            d_items.append(paddle.matmul(d_logits, keys, transpose_x=True)
                           + paddle.matmul(d_products, values, transpose_x=True))
        return d_keys, d_values, None, paddle.concat(d_items, axis=0)


def target_attention_scores(keys: paddle.Tensor, values: paddle.Tensor, session: paddle.Tensor, n_sessions: int,
                            items: paddle.Tensor, chunk: int) -> paddle.Tensor:
    """TAGNN's target term for every item: ``out[b, t] = sum_p beta[p, t] (items[t] . values[p])``
    over the history entries ``p`` of session ``b``, with ``beta[:, t]`` the softmax of
    ``items[t] . keys[p]`` over those entries.

    Args:
        keys, values: ``[P, D]`` float32, one row per history entry (``W v_{s,i}`` and
            ``W_T v_{s,i}``), sessions one after another.
        session: ``[P]`` int64, the session (batch row) of each entry, non-decreasing;
            every session ``0..n_sessions-1`` has an entry.
        n_sessions: ``B``.
        items: ``[N, D]`` the candidates' vectors.
        chunk: items scored at a time (``>= N``: one chunk).
    Returns:
        ``[B, N]`` float32. Gradients reach ``keys``, ``values`` and ``items``.
    """
    chunk = max(1, int(chunk))
    if paddle.is_grad_enabled():
        return _TargetAttention.apply(keys, values, session, items, n_sessions, chunk)
    return paddle.concat([_attend(keys, values, session, n_sessions, items[start:end])[2]  # scoring only
                          for start, end in _chunks(items.shape[0], chunk)], axis=1)


class TAGNN(SessionModel):
    """TAGNN. Options: ``embedding_dim`` ``D``, ``step`` (propagation rounds of the cell),
    ``init``, ``score_padding``, ``score_budget_mb`` (the target attention's memory per batch,
    see the module docstring; 0 = never chunk); ``sparse_item_grad`` as in
    :class:`~srgnn_paddle.models.sequence.SessionModel`. Trained with the full softmax only."""

    name = "tagnn"
    display_name = "TAGNN"
    batch_layout = "session_graph"
    inner_product = False

    def __init__(self, cfg: Config, sparse_item_grad: bool = True) -> None:
        if cfg.loss != "softmax":
            raise SrgnnError(f"model tagnn trains the full-softmax cross-entropy of its target-aware scores; "
                             f"loss {cfg.loss!r} does not apply to it (use --loss softmax)")
        super().__init__(cfg, sparse_item_grad)
        d = self.embedding_dim
        self.score_budget = int(cfg.score_budget_mb) * 2 ** 20
        self.gnn = GNN(d, cfg.step)
        self.linear_one = Linear(d, d)  # W_1, on v_{s,n}
        self.linear_two = Linear(d, d)  # W_2, on every v_{s,i}
        self.linear_three = Linear(d, 1, bias_attr=False)  # q
        self.linear_transform = Linear(2 * d, d)  # W_3's block on [s_global; s_local], and its bias
        self.linear_t = Linear(d, d, bias_attr=False)  # the target attention's W
        self.linear_target = Linear(d, d, bias_attr=False)  # W_3's block on s_target
        initialise(self, cfg.init, d)

    # ---------------------------------------------------------------- the session's side
    def _session(self, batch: Batch) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        """``(W_LG [s_global; s_local] + b  [B, D], keys W v_{s,i} [P, D], values W_T v_{s,i} [P, D],
        session [P])`` of the batch's ``P`` history entries (the packed graph's order)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        hidden = self.gnn(PackedAdjacency(graph), self.item_emb(as_tensor(graph.node_items)))  # [n, D]
        history = PackedHistory(graph)
        seq_hidden = history.positions(hidden)  # [P, D]: v_{s,i} of every entry
        s_local = history.last(hidden)  # [B, D]
        s_global = history.soft_attention(self.linear_one(s_local), self.linear_two(seq_hidden), seq_hidden,
                                          self.linear_three)
        session = self.linear_transform(paddle.concat([s_global, s_local], axis=1))
        return session, self.linear_t(seq_hidden), self.linear_target(seq_hidden), history.session

    def encode(self, batch: Batch) -> paddle.Tensor:
        """The part of ``s_t`` shared by every target, ``W_LG [s_global; s_local] + b``:
        ``[B, D]`` (descriptive only: the scores also need the target term)."""
        return self._session(batch)[0]

    def chunk_size(self, entries: int) -> int:
        """Items scored at a time for a batch of ``entries`` history entries so that the
        ``[P, C]`` tensors stay within ``score_budget_mb`` (the whole catalogue when it is 0)."""
        if self.score_budget <= 0:
            return self.n_items
        return max(1, min(self.n_items, self.score_budget // (BYTES_PER_ENTRY * entries)))

    # ---------------------------------------------------------------- scores and loss
    def full_scores(self, batch: Batch) -> paddle.Tensor:
        """``z_t`` of every item ``t`` for every row: ``[B, n_items]`` (one batched
        computation, chunked over the catalogue by ``score_budget_mb``; column 0 at ``-1e9``
        when ``score_padding`` is off)."""
        session, keys, values, entry_session = self._session(batch)
        items = self.item_embeddings()
        target = target_attention_scores(keys, values, entry_session, session.shape[0], items,
                                         self.chunk_size(keys.shape[0]))
        scores = paddle.matmul(session, items, transpose_y=True) + target
        return scores if self.score_padding else mask_padding_column(scores)

    def score_items(self, batch: Batch, items: Any) -> paddle.Tensor:
        """``z_t`` of given candidates: ``items [B, C]`` int64 -> ``[B, C]``."""
        items = items if isinstance(items, paddle.Tensor) else paddle.to_tensor(items)
        session, keys, values, entry_session = self._session(batch)
        rows, cols = items.shape
        vectors = paddle.gather(self.item_embeddings(), items.reshape([-1])).reshape([rows, cols, -1])  # [B, C, D]
        candidates = paddle.gather(vectors, entry_session)  # [P, C, D]: each entry's session's candidates
        logits = paddle.sum(candidates * keys.unsqueeze(1), axis=-1)  # [P, C]
        top = paddle.geometric.segment_max(logits.detach(), entry_session)
        weights = paddle.exp(logits - paddle.gather(top, entry_session))
        beta = weights / paddle.gather(segment_sum(weights, entry_session, rows), entry_session)
        products = paddle.sum(candidates * values.unsqueeze(1), axis=-1)  # [P, C]
        target = segment_sum(beta * products, entry_session, rows)  # [B, C]
        return paddle.sum(vectors * session.unsqueeze(1), axis=-1) + target

    def calculate_loss(self, batch: Batch, cross_entropy: Optional[CrossEntropy] = None) -> paddle.Tensor:
        """The full-softmax cross-entropy of :meth:`full_scores` against the targets; with
        ``targets: all`` every target position is scored as the prefix it ends (one sample
        per position, as prefix augmentation would). ``cross_entropy`` (the kernels'
        inner-product loss) does not apply to these scores and is not used."""
        if getattr(batch, "position_targets", None) is not None:
            batch = _prefix_batch(batch)
        return F.cross_entropy(self.full_scores(batch), self.targets(batch))


def _prefix_batch(batch: Batch) -> Batch:
    """Every target position of a ``targets: all`` batch as a sample of its own: the prefix
    of the history it ends and the item it predicts (a batch of ``N`` rows, ``N`` = target positions)."""
    history = np.asarray(batch.history)
    position_targets = np.asarray(batch.position_targets, dtype=np.int64)
    rows, cols = np.nonzero(position_targets > 0)
    width = int(cols.max()) + 1
    prefixes = np.where(np.arange(width)[None, :] <= cols[:, None], history[rows, :width], 0)  # [N, W]
    return Batch(prefixes, (prefixes > 0).astype("float32"), position_targets[rows, cols])
