"""The session encoder as a static graph: what ``export`` saves and the recommender feeds.

The graph building stays a numpy step outside the saved model, exactly the loaders' (see
:mod:`srgnn_paddle.data.graph`); the saved model is the model's own
:meth:`~srgnn_paddle.models.base.Recommender.encode`, traced by ``paddle.jit.to_static``
with a dynamic batch size and session length. Five input layouts:

* ``packed``: a session-graph model (``batch_layout = "session_graph"``) fed the
  :class:`~srgnn_paddle.data.graph.PackedGraph` of the batch (what training uses);
* ``dense``: the same models fed the notebook's
  :class:`~srgnn_paddle.data.graph.SessionGraph` (padded ``[B, L, 2L]`` adjacency): the
  layout of the ONNX export, because paddle2onnx has no converter for the ``index_add`` of
  the packed graph's segment sums;
* ``sequence``: a sequence model (``batch_layout = "sequence"``) fed the padded
  ``history [B, L]`` and its ``mask``;
* ``lessr``: LESSR (``batch_layout = "lessr_graphs"``) fed the
  :class:`~srgnn_paddle.data.lessr_graphs.LessrGraphs` of the batch, its EOP multigraph and
  shortcut graph, with at least one in-neighbour row
  (:func:`~srgnn_paddle.data.lessr_graphs.with_in_row`);
* ``gcegnn``: GCE-GNN (``batch_layout = "typed_session_graph"``) fed its typed session graph
  and its sampled global neighbourhood (:class:`~srgnn_paddle.models.gcegnn.GlobalLevel`),
  both built with numpy from the histories and the global item graph (:class:`GlobalGraph`,
  saved beside the encoder), with evaluation's deterministic neighbour slots.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from srgnn_paddle.data.graph import PackedGraph, SessionGraph, build_packed_graph, build_session_graph
from srgnn_paddle.data.lessr_graphs import LessrGraphs, build_lessr_graphs, with_in_row
from srgnn_paddle.data.loaders import Batch
from srgnn_paddle.data.typed_graph import TypedGraph, build_typed_graph
from srgnn_paddle.kernels.attention import AttentionPairs
from srgnn_paddle.models.base import Recommender
from srgnn_paddle.models.layers import n_rows
from srgnn_paddle.models.gcegnn import GlobalLevel, Units, global_level, sample_tree

#: layout -> the encoder's inputs, in order: (name, shape with -1 for dynamic sizes, dtype)
INPUTS: Dict[str, List[Tuple[str, List[int], str]]] = {
    "packed": [("node_items", [-1], "int64"), ("edge_rows", [-1], "int64"), ("edge_cols", [-1], "int64"),
               ("edge_weights", [-1], "float32"), ("pos_node", [-1], "int64"), ("pos_session", [-1], "int64"),
               ("last_node", [-1], "int64")],
    "dense": [("alias_inputs", [-1, -1], "int64"), ("A", [-1, -1, -1], "float32"), ("items", [-1, -1], "int64"),
              ("mask", [-1, -1], "float32")],
    "sequence": [("history", [-1, -1], "int64"), ("mask", [-1, -1], "float32")],
    "lessr": [("node_items", [-1], "int64"), ("node_session", [-1], "int64"), ("last_node", [-1], "int64"),
              ("in_node", [-1], "int64"), ("in_neighbours", [-1, -1], "int64"), ("in_degree", [-1], "int64"),
              ("shortcut_src", [-1], "int64"), ("shortcut_dst", [-1], "int64")],
}

#: layout -> the numpy function that builds its inputs from the padded histories
BUILDERS = {
    "packed": "srgnn_paddle.data.graph.build_packed_graph",
    "dense": "srgnn_paddle.data.graph.build_session_graph",
    "sequence": "history and mask (history > 0)",
    "lessr": "srgnn_paddle.data.lessr_graphs.build_lessr_graphs, then with_in_row",
    "gcegnn": "srgnn_paddle.data.typed_graph.build_typed_graph, then srgnn_paddle.models.gcegnn.sample_tree "
              "(evaluation's slots) and global_level over the global graph",
}

#: model batch layout -> the encoder layouts that can carry its batches (first: the one training uses)
MODEL_LAYOUTS = {"session_graph": ["packed", "dense"], "sequence": ["sequence"], "lessr_graphs": ["lessr"],
                 "typed_session_graph": ["gcegnn"]}

_TYPED = ["edge_rows", "edge_cols", "edge_types", "pos_node", "pos_session", "pos_reversed"]  # TypedGraph[2:]
_PAIRS = [("unit", "int64"), ("key", "int64"), ("item", "int64"), ("weight", "float32"), ("count", "float32")]


class GlobalGraph(NamedTuple):
    """GCE-GNN's global item graph as an export holds it: ``neighbors [n_items, K]`` int64 and
    ``weights [n_items, K]`` float32 (each item's neighbours, heaviest first, 0 / 0 in empty
    columns), the ``hops`` and the ``n_sample`` slots per row of the model."""

    neighbors: np.ndarray
    weights: np.ndarray
    hops: int
    n_sample: int

    def rows(self, items: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The table's rows of ``items [M]``: ``([M, K], [M, K])``."""
        return self.neighbors[items], self.weights[items]


def global_graph_of(model: Recommender) -> GlobalGraph:
    """A GCE-GNN model's global graph (its buffers) as numpy arrays."""
    return GlobalGraph(model.global_neighbors.numpy(), model.global_weights.numpy(), model.hops, model.n_sample)


def input_specs(layout: str, global_graph: Optional[GlobalGraph] = None) -> List[Tuple[str, List[int], str]]:
    """The encoder's inputs for ``layout``, in order: ``(name, shape, dtype)`` (``global_graph``:
    the ``gcegnn`` layout's, whose hops set the count)."""
    if layout != "gcegnn":
        return INPUTS[layout]
    hops = global_graph.hops
    names = [(name, "int64") for name in _TYPED] + [("tree_items", "int64"), ("node_rows", "int64")]
    names += [(f"depth_units_{depth}", "int64") for depth in range(hops)]
    names += [("unit_item", "int64")] + [(f"pair_{name}", dtype) for name, dtype in _PAIRS]
    names += [("key_session", "int64"), ("key_item", "int64")]
    for depth in range(hops - 1):
        names += [(f"later_{depth}_{name}", dtype) for name, dtype in _PAIRS] + [(f"later_{depth}_key_session", "int64")]
    return [(name, [-1], dtype) for name, dtype in names]


def _flat_global(graph: TypedGraph, level: GlobalLevel) -> Tuple[np.ndarray, ...]:
    """A typed graph and its global level as the ``gcegnn`` layout's arrays (:func:`input_specs`)."""
    first = level.first
    pairs = len(_PAIRS)
    arrays = [*graph[2:], level.items, level.node_rows, *level.depth_units, first.unit_item,
              *first.pairs[:pairs], first.key_session, first.key_item]
    for units in level.later:
        arrays += [*units.pairs[:pairs], units.key_session]
    return tuple(arrays)


def _unflat_global(inputs, hops: int) -> Tuple[TypedGraph, GlobalLevel]:
    """The inverse of :func:`_flat_global` (tensors); each unit count is the size of an input."""
    typed, pairs = len(_TYPED), len(_PAIRS)
    graph = TypedGraph(None, None, *inputs[:typed])
    items, node_rows = inputs[typed], inputs[typed + 1]
    at = typed + 2
    depth_units = tuple(inputs[at:at + hops])
    at += hops
    unit_item = inputs[at]
    first_pairs = AttentionPairs(*inputs[at + 1:at + 1 + pairs], n_units=n_rows(unit_item))
    first = Units(None, unit_item, first_pairs, inputs[at + 1 + pairs], inputs[at + 2 + pairs])
    at += 3 + pairs
    later = []
    for depth in range(hops - 1):
        depth_pairs = AttentionPairs(*inputs[at:at + pairs], n_units=n_rows(depth_units[depth]))  # every row a unit
        later.append(Units(None, None, depth_pairs, inputs[at + pairs], None))
        at += pairs + 1
    return graph, GlobalLevel(items, node_rows, depth_units, first, tuple(later))


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


class LessrGraphsEncoder(nn.Layer):
    """``model.encode`` of a batch given as its LESSR graphs: ``-> [B, D]``."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, node_items, node_session, last_node, in_node, in_neighbours, in_degree, shortcut_src,
                shortcut_dst):
        graphs = LessrGraphs(node_items, node_session, last_node, in_node, in_neighbours, in_degree, shortcut_src,
                             shortcut_dst)
        return self.model.encode(Batch(None, None, None, graphs))


class GlobalGraphEncoder(nn.Layer):
    """GCE-GNN's ``encode_level`` of a batch given as its typed graph and global level, flat
    (:func:`input_specs`): ``-> [B, D]``."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: List[paddle.Tensor]):
        return self.model.encode_level(*_unflat_global(inputs, self.model.hops))


_WRAPPERS = {"packed": PackedGraphEncoder, "dense": DenseGraphEncoder, "sequence": SequenceEncoder,
             "lessr": LessrGraphsEncoder, "gcegnn": GlobalGraphEncoder}


def layouts_for(model: Recommender) -> List[str]:
    """The input layouts that can carry ``model``'s batches (first: the one training uses);
    KeyError for a batch layout no encoder layout carries."""
    return MODEL_LAYOUTS[model.batch_layout]


def encoder_inputs(layout: str, history: np.ndarray, global_graph: Optional[GlobalGraph] = None) -> Dict[str, np.ndarray]:
    """The encoder's inputs for right-padded histories ``[B, L]`` int64 (every row >= 1 item),
    contiguous numpy arrays keyed by the names of :func:`input_specs` (a packed graph without
    any edge gets one of weight 0, see below; ``global_graph``: the ``gcegnn`` layout's)."""
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
    elif layout == "lessr":
        arrays = tuple(with_in_row(build_lessr_graphs(history)))
    elif layout == "gcegnn":
        graph = build_typed_graph(history)
        tree = sample_tree(global_graph.rows, graph.node_items, graph.node_session, global_graph.hops,
                           global_graph.n_sample)
        arrays = _flat_global(graph, global_level(tree, global_graph.n_sample))
    else:
        raise ValueError(f"unknown encoder layout {layout!r}")
    specs = input_specs(layout, global_graph)
    return {name: np.ascontiguousarray(a, dtype=dtype) for (name, _, dtype), a in zip(specs, arrays)}


def eager_vectors(model: Recommender, layout: str, history: np.ndarray,
                  global_graph: Optional[GlobalGraph] = None) -> np.ndarray:
    """What the eager model gives for ``history [B, L]`` through ``layout``: ``[B, D]`` float32
    (``global_graph``: the ``gcegnn`` layout's, :func:`global_graph_of` the model)."""
    with paddle.no_grad():
        inputs = [paddle.to_tensor(a) for a in encoder_inputs(layout, history, global_graph).values()]
        return (_WRAPPERS[layout](model)(inputs) if layout == "gcegnn" else _WRAPPERS[layout](model)(*inputs)).numpy()


def save_static(model: Recommender, layout: str, prefix: str, global_graph: Optional[GlobalGraph] = None) -> None:
    """``paddle.jit.save`` of ``model``'s encoder for ``layout`` at ``prefix`` (``.json`` or
    ``.pdmodel``, and ``.pdiparams``), every size dynamic (``global_graph``: the ``gcegnn`` layout's)."""
    wrapper = _WRAPPERS[layout](model)
    wrapper.eval()
    specs = [paddle.static.InputSpec(shape, dtype, name) for name, shape, dtype in input_specs(layout, global_graph)]
    if layout == "gcegnn":  # one argument: the flat list (dy2static takes no *args)
        specs = [specs]
    paddle.jit.save(paddle.jit.to_static(wrapper, input_spec=specs, full_graph=True), prefix)


def pad_histories(sessions: List[List[int]]) -> np.ndarray:
    """Right-pad encoded sessions (each >= 1 item) to the longest: ``[B, L]`` int64."""
    width = max(len(s) for s in sessions)
    history = np.zeros((len(sessions), width), dtype=np.int64)
    for row, items in enumerate(sessions):
        history[row, :len(items)] = items
    return history
