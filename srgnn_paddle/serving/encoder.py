"""The session encoder as a static graph: what ``export`` saves and the recommender feeds.

The graph building stays a numpy step outside the saved model, exactly the loaders' (see
:mod:`srgnn_paddle.data.graph`); the saved model is the model's own
:meth:`~srgnn_paddle.models.base.Recommender.encode`, traced by ``paddle.jit.to_static``
with a dynamic batch size and session length. Three input layouts:

* ``packed``: a session-graph model (``batch_layout = "session_graph"``) fed the
  :class:`~srgnn_paddle.data.graph.PackedGraph` of the batch (what training uses);
* ``dense``: the same models fed the notebook's
  :class:`~srgnn_paddle.data.graph.SessionGraph` (padded ``[B, L, 2L]`` adjacency): the
  layout of the ONNX export, because paddle2onnx has no converter for the ``index_add`` of
  the packed graph's segment sums;
* ``sequence``: a sequence model (``batch_layout = "sequence"``) fed the padded
  ``history [B, L]`` and its ``mask``.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from srgnn_paddle.data.graph import PackedGraph, SessionGraph, build_packed_graph, build_session_graph
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.models.base import Recommender

#: layout -> the encoder's inputs, in order: (name, shape with -1 for dynamic sizes, dtype)
INPUTS: Dict[str, List[Tuple[str, List[int], str]]] = {
    "packed": [("node_items", [-1], "int64"), ("edge_rows", [-1], "int64"), ("edge_cols", [-1], "int64"),
               ("edge_weights", [-1], "float32"), ("pos_node", [-1], "int64"), ("pos_session", [-1], "int64"),
               ("last_node", [-1], "int64")],
    "dense": [("alias_inputs", [-1, -1], "int64"), ("A", [-1, -1, -1], "float32"), ("items", [-1, -1], "int64"),
              ("mask", [-1, -1], "float32")],
    "sequence": [("history", [-1, -1], "int64"), ("mask", [-1, -1], "float32")],
}

#: layout -> the numpy function that builds its inputs from the padded histories
BUILDERS = {
    "packed": "srgnn_paddle.data.graph.build_packed_graph",
    "dense": "srgnn_paddle.data.graph.build_session_graph",
    "sequence": "history and mask (history > 0)",
}


class PackedGraphEncoder(nn.Layer):
    """``model.encode`` of a batch given as its packed session graph: ``-> [B, D]``."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, node_items, edge_rows, edge_cols, edge_weights, pos_node, pos_session, last_node):
        graph = PackedGraph(node_items, edge_rows, edge_cols, edge_weights, pos_node, pos_session, last_node)
        return self.model.encode(Batch(None, None, None, graph))


class DenseGraphEncoder(nn.Layer):
    """``model.encode`` of a batch given as the notebook's dense session graph: ``-> [B, D]``."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, alias_inputs, A, items, mask):
        return self.model.encode(Batch(None, None, None, SessionGraph(alias_inputs, A, items, mask)))


class SequenceEncoder(nn.Layer):
    """``model.encode`` of padded histories ``[B, L]`` with their mask: ``-> [B, D]``."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, history, mask):
        return self.model.encode(Batch(history, mask, None))


_WRAPPERS = {"packed": PackedGraphEncoder, "dense": DenseGraphEncoder, "sequence": SequenceEncoder}


def layouts_for(model: Recommender) -> List[str]:
    """The input layouts that can carry ``model``'s batches (first: the one training uses)."""
    return ["packed", "dense"] if model.batch_layout == "session_graph" else ["sequence"]


def encoder_inputs(layout: str, history: np.ndarray) -> Dict[str, np.ndarray]:
    """The encoder's inputs for right-padded histories ``[B, L]`` int64 (every row >= 1 item),
    contiguous numpy arrays keyed by the names of :data:`INPUTS` (a packed graph without any
    edge gets one of weight 0, see below)."""
    if layout == "packed":
        graph = build_packed_graph(history)
        if len(graph.edge_rows) == 0:  # sessions of one item each: a zero-weight self-loop on node 0, because
            # Paddle Inference fails on empty tensors; it adds 0 * h[0] to node 0's messages, nothing
            graph = graph._replace(edge_rows=np.zeros(1, np.int64), edge_cols=np.zeros(1, np.int64),
                                   edge_weights=np.zeros(1, np.float32))
        arrays = tuple(graph)
    elif layout == "dense":
        arrays = tuple(build_session_graph(history))
    elif layout == "sequence":
        arrays = (history, (history > 0).astype(np.float32))
    else:
        raise ValueError(f"unknown encoder layout {layout!r}")
    return {name: np.ascontiguousarray(a) for (name, _, _), a in zip(INPUTS[layout], arrays)}


def eager_vectors(model: Recommender, layout: str, history: np.ndarray) -> np.ndarray:
    """What the eager model gives for ``history [B, L]`` through ``layout``: ``[B, D]`` float32."""
    with paddle.no_grad():
        return _WRAPPERS[layout](model)(*(paddle.to_tensor(a) for a in encoder_inputs(layout, history).values())).numpy()


def save_static(model: Recommender, layout: str, prefix: str) -> None:
    """``paddle.jit.save`` of ``model``'s encoder for ``layout`` at ``prefix`` (``.json`` or
    ``.pdmodel``, and ``.pdiparams``), every size dynamic."""
    wrapper = _WRAPPERS[layout](model)
    wrapper.eval()
    specs = [paddle.static.InputSpec(shape, dtype, name) for name, shape, dtype in INPUTS[layout]]
    paddle.jit.save(paddle.jit.to_static(wrapper, input_spec=specs, full_graph=True), prefix)


def pad_histories(sessions: List[List[int]]) -> np.ndarray:
    """Right-pad encoded sessions (each >= 1 item) to the longest: ``[B, L]`` int64."""
    width = max(len(s) for s in sessions)
    history = np.zeros((len(sessions), width), dtype=np.int64)
    for row, items in enumerate(sessions):
        history[row, :len(items)] = items
    return history
