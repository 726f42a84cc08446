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

which is what :meth:`TAGNN.full_scores` computes for the whole catalogue at once (the
kernels' ``target_scores``, :mod:`srgnn_paddle.kernels.target_attention`). The entries of a
session that are the same item have the same node vector, so the sums over the session's
positions ``i`` run over its distinct items (the packed graph's ``n`` nodes, sessions one
after another), each weighted by the times it occurs: ``beta`` is the softmax of the logits
plus the log of that count, the same value as over the positions. Two batched products
``[n, D] x [D, N]`` (the attention logits ``v_t . W v_{s,i}`` and the values
``v_t . W_T v_{s,i}``), a softmax over each session's nodes and a weighted sum over them; the
``[B, N, D]`` tensor of the ``s_t`` is never built, nor is the padding computed (padded
``[B, L, D] x [D, N]`` products would do 6.2 times the work on DIGINETICA's batches of 100
prefix pairs: on average ``B * L = 2,217`` slots for ``n = 357`` nodes, of ``P = 413``
entries). The plain-Paddle kernel's memory per batch: about ``24 * n * N`` bytes (six float32
``[n, N]`` tensors at the peak of the backward; about 370 MB for a DIGINETICA batch). When
that exceeds ``score_budget_mb`` the catalogue is scored in chunks of items that fit,
forward and backward alike (the backward recomputes a chunk's softmax instead of keeping
it), so the budget holds for training too; the host kernel keeps ``8 n N`` bytes or
recomputes likewise.

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
``linear_transform``, ``linear_t``, ``linear_target``), the cell's gate GEMMs and the
scores (:class:`TargetScores`, numpy's BLAS in cache-sized blocks of items: most of a step).
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from srgnn_paddle.config import Config
from srgnn_paddle.data.graph import build_packed_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.kernels.linear import KernelLayer, Linear
from srgnn_paddle.kernels.target_attention import target_chunk, target_scores
from srgnn_paddle.models.base import CrossEntropy, mask_padding_column, scores_cross_entropy
from srgnn_paddle.models.layers import PackedAdjacency, PackedHistory, as_tensor, initialise, segment_sum
from srgnn_paddle.models.sequence import SessionModel
from srgnn_paddle.models.srgnn import GNN


class TargetScores(nn.Layer, KernelLayer):
    """The scores of every item with its own target attention, ``z [B, N]`` (the module
    docstring's formula), computed by the kernels' ``target_scores`` (:attr:`kernels`; see
    :mod:`srgnn_paddle.kernels.target_attention`): plain Paddle, or numpy on the host.
    ``budget``: the bytes a batch's computation may take (0 = no limit)."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = int(budget)

    def forward(self, base: paddle.Tensor, keys: paddle.Tensor, values: paddle.Tensor, session: paddle.Tensor,
                count: paddle.Tensor, items: paddle.Tensor) -> paddle.Tensor:
        """``base [B, D]`` (``W_LG [s_global; s_local] + b``), ``keys`` / ``values [n, D]``
        (``W v_{s,i}``, ``W_T v_{s,i}`` of every node), ``session [n]`` int64, ``count [n]``
        float32 (each node's entries), ``items [N, D]`` -> ``[B, N]``."""
        scores = target_scores if self.kernels is None else self.kernels.target_scores
        return scores(base, keys, values, session, count, items, self.budget)

    def cross_entropy(self, scores: paddle.Tensor, target: paddle.Tensor, mask_padding: bool) -> paddle.Tensor:
        """The full-softmax cross-entropy of ``scores [B, N]`` against ``target [B]`` on the
        kernels' ``scores_cross_entropy`` (``mask_padding``: item 0 not a candidate)."""
        if self.kernels is None:
            return scores_cross_entropy(scores, target, mask_padding)
        return self.kernels.scores_cross_entropy(scores, target, mask_padding)


def node_entries(graph) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """``(node_session [n] int64, count [n] float32)`` of a packed graph: the session of each
    node and the number of its session's entries that are its item."""
    pos_node = np.asarray(graph.pos_node)
    n = len(np.asarray(graph.node_items))
    node_session = np.zeros(n, dtype=np.int64)
    node_session[pos_node] = np.asarray(graph.pos_session)
    return paddle.to_tensor(node_session), paddle.to_tensor(np.bincount(pos_node, minlength=n).astype(np.float32))


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
        self.gnn = GNN(d, cfg.step)
        self.linear_one = Linear(d, d)  # W_1, on v_{s,n}
        self.linear_two = Linear(d, d)  # W_2, on every v_{s,i}
        self.linear_three = Linear(d, 1, bias_attr=False)  # q
        self.linear_transform = Linear(2 * d, d)  # W_3's block on [s_global; s_local], and its bias
        self.linear_t = Linear(d, d, bias_attr=False)  # the target attention's W
        self.linear_target = Linear(d, d, bias_attr=False)  # W_3's block on s_target
        self.target_attention = TargetScores(int(cfg.score_budget_mb) * 2 ** 20)
        initialise(self, cfg.init, d)

    # ---------------------------------------------------------------- the session's side
    def _session(self, batch: Batch) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor, paddle.Tensor,
                                              paddle.Tensor]:
        """``(W_LG [s_global; s_local] + b  [B, D], keys W v_{s,i} [n, D], values W_T v_{s,i} [n, D],
        node_session [n], count [n])`` of the batch's ``n`` nodes (a session's distinct items;
        ``count`` the entries of each)."""
        graph = batch.graph if batch.graph is not None else build_packed_graph(batch.history)
        hidden = self.gnn(PackedAdjacency(graph), self.item_emb(as_tensor(graph.node_items)))  # [n, D]
        history = PackedHistory(graph)
        seq_hidden = history.positions(hidden)  # [P, D]: v_{s,i} of every entry
        s_local = history.last(hidden)  # [B, D]
        s_global = history.soft_attention(self.linear_one(s_local), self.linear_two(seq_hidden), seq_hidden,
                                          self.linear_three)
        session = self.linear_transform(paddle.concat([s_global, s_local], axis=1))
        node_session, count = node_entries(graph)
        return session, self.linear_t(hidden), self.linear_target(hidden), node_session, count

    def encode(self, batch: Batch) -> paddle.Tensor:
        """The part of ``s_t`` shared by every target, ``W_LG [s_global; s_local] + b``:
        ``[B, D]`` (descriptive only: the scores also need the target term)."""
        return self._session(batch)[0]

    def chunk_size(self, nodes: int) -> int:
        """Items the plain-Paddle target attention scores at a time for a batch of ``nodes``
        nodes so that its ``[n, C]`` tensors stay within ``score_budget_mb`` (the whole
        catalogue when it is 0; :func:`~srgnn_paddle.kernels.target_attention.target_chunk`)."""
        return target_chunk(nodes, self.n_items, self.target_attention.budget)

    # ---------------------------------------------------------------- scores and loss
    def full_scores(self, batch: Batch) -> paddle.Tensor:
        """``z_t`` of every item ``t`` for every row: ``[B, n_items]`` (one batched
        computation by the kernels, see :class:`TargetScores`; column 0 at ``-1e9`` when
        ``score_padding`` is off)."""
        scores = self.target_attention(*self._session(batch), self.item_embeddings())
        return scores if self.score_padding else mask_padding_column(scores)

    def score_items(self, batch: Batch, items: Any) -> paddle.Tensor:
        """``z_t`` of given candidates: ``items [B, C]`` int64 -> ``[B, C]``."""
        items = items if isinstance(items, paddle.Tensor) else paddle.to_tensor(items)
        session, keys, values, node_session, count = self._session(batch)
        rows, cols = items.shape
        vectors = paddle.gather(self.item_embeddings(), items.reshape([-1])).reshape([rows, cols, -1])  # [B, C, D]
        candidates = paddle.gather(vectors, node_session)  # [n, C, D]: each node's session's candidates
        logits = paddle.sum(candidates * keys.unsqueeze(1), axis=-1)  # [n, C]
        top = paddle.geometric.segment_max(logits.detach(), node_session)
        weights = paddle.exp(logits - paddle.gather(top, node_session)) * count.unsqueeze(1)
        beta = weights / paddle.gather(segment_sum(weights, node_session, rows), node_session)
        products = paddle.sum(candidates * values.unsqueeze(1), axis=-1)  # [n, C]
        target = segment_sum(beta * products, node_session, rows)  # [B, C]
        return paddle.sum(vectors * session.unsqueeze(1), axis=-1) + target

    def calculate_loss(self, batch: Batch, cross_entropy: Optional[CrossEntropy] = None) -> paddle.Tensor:
        """The full-softmax cross-entropy of :meth:`full_scores` against the targets (on the
        kernels' ``scores_cross_entropy``, :meth:`TargetScores.cross_entropy`); with
        ``targets: all`` every target position is scored as the prefix it ends (one sample
        per position, as prefix augmentation would). ``cross_entropy`` (the kernels'
        inner-product loss) does not apply to these scores and is not used."""
        if getattr(batch, "position_targets", None) is not None:
            batch = _prefix_batch(batch)
        scores = self.target_attention(*self._session(batch), self.item_embeddings())
        return self.target_attention.cross_entropy(scores, self.targets(batch), not self.score_padding)


def _prefix_batch(batch: Batch) -> Batch:
    """Every target position of a ``targets: all`` batch as a sample of its own: the prefix
    of the history it ends and the item it predicts (a batch of ``N`` rows, ``N`` = target positions)."""
    history = np.asarray(batch.history)
    position_targets = np.asarray(batch.position_targets, dtype=np.int64)
    rows, cols = np.nonzero(position_targets > 0)
    width = int(cols.max()) + 1
    prefixes = np.where(np.arange(width)[None, :] <= cols[:, None], history[rows, :width], 0)  # [N, W]
    return Batch(prefixes, (prefixes > 0).astype("float32"), position_targets[rows, cols])
