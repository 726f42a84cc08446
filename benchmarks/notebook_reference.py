"""The notebook's way of doing the same work: a slow reference for benchmarks and tests.

Not for production. Everything here reproduces how the AI Studio notebook organises a
training step and an evaluation (spec ``notebook.md`` §2, §3, §6) so that
``bench_train.py`` beside it can time it against the toolkit's fast path on the same
machine, and ``tests/training/test_perf_paths.py`` can check that both compute the same thing:

* :class:`NotebookStyleDataset` returns one sample per ``__getitem__`` as Paddle tensors
  (the notebook's ``SeqnenceDataset``), collated by ``paddle.io.DataLoader``'s default
  collate function;
* :func:`notebook_session_graph` builds the session graph with a Python loop over sessions
  and ``np.where`` look-ups (the notebook's ``_get_slice``), inside the training step;
* :func:`notebook_loss` scores the whole catalogue with Paddle's matmul and
  ``F.cross_entropy``;
* :func:`notebook_evaluate` fills per-user dicts in Python and scores them with the
  per-user loop of :func:`srgnn_paddle.evaluation.metrics.evaluate_reference`.

The sample draws use the same rules as :class:`srgnn_paddle.data.SequenceDataset` (users
too short for a sample are skipped, as the port requires), so an epoch has the same number
of samples in both modes.
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F

from srgnn_paddle.data import SequenceDataset
from srgnn_paddle.data.interactions import MIN_TRAIN_ITEMS
from srgnn_paddle.evaluation.metrics import evaluate_reference
from srgnn_paddle.models import SRGNN
from srgnn_paddle.evaluation.retrieval import build_index, l2_normalize


class NotebookStyleDataset(paddle.io.Dataset):
    """Per-user samples built one at a time, returned as Paddle tensors.

    Args:
        base: a :class:`SequenceDataset` (its users, order and skipping rules are reused).
        seed: seed of the per-read target draws (``random.randint`` in the notebook).

    ``__getitem__`` returns ``(history [L] int64, mask [L] float32, target [1] int64)``
    tensors in the train phase and ``(history, mask, ground-truth list)`` in the test phase.
    """

    def __init__(self, base: SequenceDataset, seed: int = 0) -> None:
        super().__init__()
        self.phase = base.phase
        self.max_length = base.max_length
        self.sequences: List[List[int]] = [
            base.items[s: s + n].tolist() for s, n in zip(base.starts, base.lengths)
        ]
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int):
        items = self.sequences[index]
        if self.phase == "train":
            k = int(self._rng.integers(MIN_TRAIN_ITEMS - 1, len(items)))
        else:
            k = int(len(items) * 0.8)
        if k >= self.max_length:
            history = items[k - self.max_length: k]
            mask = [1.0] * self.max_length
        else:
            history = items[:k] + [0] * (self.max_length - k)
            mask = [1.0] * k + [0.0] * (self.max_length - k)
        history_t = paddle.to_tensor(history, dtype="int64")
        mask_t = paddle.to_tensor(mask, dtype="float32")
        if self.phase == "train":
            return history_t, mask_t, paddle.to_tensor([items[k]], dtype="int64")
        return history_t, mask_t, items[k:]


def collate_with_lists(samples: Sequence[tuple]):
    """Stack the tensors of test samples and keep the ground-truth lists as a list.

    ``[(history [L], mask [L], gt list)] -> (history [B, L], mask [B, L], list of B lists)``.
    """
    return (paddle.stack([s[0] for s in samples]), paddle.stack([s[1] for s in samples]),
            [s[2] for s in samples])


def notebook_session_graph(item_seq: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The notebook's ``_get_slice``: one Python loop per session, ``np.where`` look-ups.

    Args:
        item_seq: ``[B, L]`` right-padded item ids.
    Returns:
        ``(alias_inputs [B, L] int64, A [B, L, 2L] float32, items [B, L] int64,
        mask [B, L] float32)``, the same arrays as
        :func:`srgnn_paddle.data.graph.build_session_graph`.
    """
    item_seq = np.asarray(item_seq)
    max_n_node = item_seq.shape[1]
    items, adjacency, alias_inputs = [], [], []
    for u_input in item_seq:
        node = np.unique(u_input)
        items.append(node.tolist() + (max_n_node - len(node)) * [0])
        u_a = np.zeros((max_n_node, max_n_node))
        for i in np.arange(len(u_input) - 1):
            if u_input[i + 1] == 0:
                break
            u = np.where(node == u_input[i])[0][0]
            v = np.where(node == u_input[i + 1])[0][0]
            u_a[u][v] = 1
        u_sum_in = np.sum(u_a, 0)
        u_sum_in[np.where(u_sum_in == 0)] = 1
        u_a_in = np.divide(u_a, u_sum_in)
        u_sum_out = np.sum(u_a, 1)
        u_sum_out[np.where(u_sum_out == 0)] = 1
        u_a_out = np.divide(u_a.transpose(), u_sum_out)
        adjacency.append(np.concatenate([u_a_in, u_a_out]).transpose())
        alias_inputs.append([np.where(node == i)[0][0] for i in u_input])
    return (np.asarray(alias_inputs, dtype=np.int64), np.asarray(adjacency, dtype=np.float32),
            np.asarray(items, dtype=np.int64), (item_seq > 0).astype(np.float32))


def notebook_encode(model: SRGNN, item_seq: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
    """User vectors ``[B, D]`` with the graph built by :func:`notebook_session_graph` inside
    the step (``item_seq [B, L]``, ``mask [B, L]`` tensors)."""
    alias, adjacency, items, _ = notebook_session_graph(item_seq.numpy())
    graph = (paddle.to_tensor(alias), paddle.to_tensor(adjacency), paddle.to_tensor(items), mask)
    return model.encode_graph(graph)


def notebook_loss(model: SRGNN, user_emb: paddle.Tensor, target: paddle.Tensor) -> paddle.Tensor:
    """The notebook's loss: ``user_emb [B, D] @ item_emb.weight.T`` over all ``n_items``
    rows with Paddle's matmul, then ``F.cross_entropy`` against ``target [B, 1]``."""
    scores = paddle.matmul(user_emb, model.item_emb.weight, transpose_y=True)  # [B, n_items]
    return F.cross_entropy(scores, target.reshape([-1]))


def notebook_train_step(model: SRGNN, optimizer: paddle.optimizer.Optimizer, batch) -> float:
    """One notebook-style step on a default-collated batch ``(item_seq, mask, target)``."""
    item_seq, mask, target = batch
    loss = notebook_loss(model, notebook_encode(model, item_seq, mask), target)
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    return float(loss)


def notebook_get_predict(model: SRGNN, loader, top_n: int = 50) -> Tuple[Dict[int, List[int]], Dict[int, List[int]]]:
    """The notebook's ``get_predict``: Faiss flat top-N per user, dicts filled user by user."""
    model.eval()
    with paddle.no_grad():
        index = build_index(l2_normalize(model.output_items().numpy()), "flat")
        test_gd: Dict[int, List[int]] = {}
        preds: Dict[int, List[int]] = {}
        user = 0
        for item_seq, mask, targets in loader:
            user_emb = notebook_encode(model, item_seq, mask).numpy()
            _, ids = index.search(l2_normalize(user_emb), top_n)
            for i, gt in enumerate(targets):
                test_gd[user] = list(gt)
                preds[user] = ids[i].tolist()
                user += 1
    model.train()
    return test_gd, preds


def notebook_evaluate(model: SRGNN, loader, top_n: int = 50) -> Dict[str, float]:
    """``get_predict`` then the notebook's per-user metric loop."""
    test_gd, preds = notebook_get_predict(model, loader, top_n)
    return evaluate_reference(preds, test_gd, topN=top_n)


def make_notebook_loaders(train: SequenceDataset, valid: SequenceDataset, batch_size: int, seed: int,
                          eval_batch_size: int = 1024) -> Tuple[paddle.io.DataLoader, paddle.io.DataLoader]:
    """The notebook's loaders: shuffled per-sample training loader with the default collate,
    and a validation loader keeping ground-truth lists."""
    train_loader = paddle.io.DataLoader(NotebookStyleDataset(train, seed), batch_size=batch_size, shuffle=True)
    valid_loader = paddle.io.DataLoader(NotebookStyleDataset(valid, seed), batch_size=eval_batch_size,
                                        shuffle=False, collate_fn=collate_with_lists)
    return train_loader, valid_loader


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Batches in one epoch (the last one may be short)."""
    return math.ceil(n_samples / batch_size)
