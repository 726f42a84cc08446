"""GCE-GNN's graphs against slow, obviously correct loops: the global item graph
(srgnn_paddle/data/global_graph.py) against the official preprocessing's scan written as
dict updates, and the typed session graph (srgnn_paddle/data/typed_graph.py) against the
official per-session adjacency loop (built on the reversed session, as the official code
does), on hand-made sessions with repeated items, one-item sessions and ties."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from srgnn_paddle.data import SessionDataset, SessionTable, augment_prefixes, build_packed_graph, make_loader
from srgnn_paddle.data.datasets import NextItemsDataset, SessionPositionsDataset, SubsetDataset
from srgnn_paddle.data.global_graph import build_global_graph
from srgnn_paddle.data.typed_graph import IN, IN_OUT, OUT, SELF, TypedGraph, build_typed_graph


def table(sessions) -> SessionTable:
    lengths = [len(s) for s in sessions]
    return SessionTable(np.array([i for s in sessions for i in s], dtype=np.int64),
                        np.r_[0, np.cumsum(lengths)].astype(np.int64))


def slow_global_graph(sessions, n_items, window=3, top_k=12):
    """The official scan: every pair within ``window`` in both directions, counted in a dict
    per item in the order met; each item's neighbours sorted by count, stably."""
    adjacent = [dict() for _ in range(n_items)]
    for s in sessions:
        for k in range(1, window + 1):
            for j in range(len(s) - k):
                for a, b in ((s[j], s[j + k]), (s[j + k], s[j])):
                    adjacent[a][b] = adjacent[a].get(b, 0) + 1
    neighbors = np.zeros((n_items, top_k), dtype=np.int64)
    weights = np.zeros((n_items, top_k), dtype=np.float32)
    for a in range(n_items):
        ranked = sorted(adjacent[a].items(), key=lambda kv: -kv[1])[:top_k]  # stable: ties in the order met
        for slot, (b, count) in enumerate(ranked):
            neighbors[a, slot], weights[a, slot] = b, count
    return neighbors, weights


HAND_MADE = [[1, 2, 1, 3, 1], [4], [2, 3], [7], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 1], [6, 6, 6],
             [19, 18, 19, 18]]


@pytest.mark.parametrize("window,top_k", [(3, 12), (1, 12), (2, 3), (3, 1), (5, 4)])
def test_global_graph_is_the_official_scan(window, top_k):
    graph = build_global_graph(table(HAND_MADE), 20, window=window, top_k=top_k)
    neighbors, weights = slow_global_graph(HAND_MADE, 20, window, top_k)
    np.testing.assert_array_equal(graph.neighbors, neighbors)
    np.testing.assert_array_equal(graph.weights, weights)
    assert graph.neighbors.shape == (20, top_k) and graph.weights.dtype == np.float32


def test_global_graph_by_hand():
    graph = build_global_graph(table(HAND_MADE), 20)
    # 1 2 1 3 1: item 1 meets 2 and 3 three times each (twice at distance 1, once at 3) and
    # itself twice at distance 2, counted in both directions (4); then 18, 17, 16 in session 4
    np.testing.assert_array_equal(graph.neighbors[1, :7], [1, 2, 3, 18, 17, 16, 0])
    np.testing.assert_array_equal(graph.weights[1, :7], [4, 3, 3, 1, 1, 1, 0])
    assert not graph.weights[4].any()  # 4 is only ever alone: a one-item session adds nothing
    # 6 meets 5, 7, 8, 9 once each in session 4 (ties: in that order) and itself 6 times in 6 6 6
    np.testing.assert_array_equal(graph.neighbors[6, :6], [6, 5, 7, 8, 9, 0])
    np.testing.assert_array_equal(graph.weights[6, :6], [6, 1, 1, 1, 1, 0])
    assert not graph.neighbors[0].any() and graph.degrees()[6] == 5


def test_global_graph_ties_are_broken_by_first_occurrence():
    # item 1 meets 5 and 4 in session 0, then 9, 2 (twice) and 3 in session 1: 2 first, then
    # the ties of count 1 in the order met: 5, 4 (9 and 3 miss the top 3), whatever the ids
    sessions = [[5, 1, 4], [3, 2, 9, 1, 2]]
    graph = build_global_graph(table(sessions), 10, top_k=3)
    np.testing.assert_array_equal(graph.neighbors[1], [2, 5, 4])
    np.testing.assert_array_equal(graph.weights[1], [2, 1, 1])
    np.testing.assert_array_equal(slow_global_graph(sessions, 10, top_k=3)[0][1], [2, 5, 4])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_global_graph_of_random_sessions_is_the_official_scan(seed):
    rng = np.random.default_rng(seed)
    sessions = [rng.integers(1, 30, rng.integers(1, 12)).tolist() for _ in range(300)]
    graph = build_global_graph(table(sessions), 30)
    neighbors, weights = slow_global_graph(sessions, 30)
    np.testing.assert_array_equal(graph.neighbors, neighbors)
    np.testing.assert_array_equal(graph.weights, weights)


def test_global_graph_refuses_unknown_items_and_takes_no_sessions():
    with pytest.raises(ValueError, match="session item id 20 is outside 1..19"):
        build_global_graph(table([[1, 20]]), 20)
    empty = build_global_graph(table([[3], [4]]), 5)
    assert not empty.neighbors.any() and not empty.weights.any()
    assert empty.degrees().tolist() == [0] * 5


@pytest.mark.slow
def test_global_graph_of_diginetica_is_the_official_scan(shared_data):
    path = shared_data / "diginetica" / "all_train_seq.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with open(path, "rb") as handle:
        sessions = pickle.load(handle)
    graph = build_global_graph(table(sessions), 43098)  # the official num_node for DIGINETICA
    neighbors, weights = slow_global_graph(sessions, 43098)
    np.testing.assert_array_equal(graph.neighbors, neighbors)
    np.testing.assert_array_equal(graph.weights, weights)


# ---------------------------------------------------------------------------- the typed session graph
OFFICIAL_TYPES = {1: SELF, 2: IN, 3: OUT, 4: IN_OUT}  # the official adjacency's codes


def official_adjacency(session):
    """The official per-session loop, on the reversed session: codes 1 self, 2, 3, 4 between
    the sorted distinct items (``nodes``)."""
    reverse = list(reversed(session))
    nodes = sorted(set(session))
    adj = np.zeros((len(nodes), len(nodes)), dtype=np.int64)
    for i in range(len(reverse)):
        u = nodes.index(reverse[i])
        adj[u, u] = 1
        if i + 1 == len(reverse):
            break
        v = nodes.index(reverse[i + 1])
        if u == v or adj[u, v] == 4:
            continue
        adj[v, v] = 1
        if adj[v, u] == 2:
            adj[u, v] = adj[v, u] = 4
        else:
            adj[u, v], adj[v, u] = 2, 3
    return nodes, adj


SESSIONS = [[1, 2, 1, 3, 1], [9, 9, 2, 4], [11], [5, 6, 5, 6], [7, 8, 9, 10], [4, 4], [3, 1, 2, 3, 1, 4]]


def _padded(sessions, width=None):
    width = width or max(len(s) for s in sessions)
    return np.array([list(s) + [0] * (width - len(s)) for s in sessions], dtype=np.int64)


def test_typed_graph_is_the_official_adjacency():
    graph = build_typed_graph(_padded(SESSIONS, 8))
    assert isinstance(graph, TypedGraph)
    packed = build_packed_graph(_padded(SESSIONS, 8))
    np.testing.assert_array_equal(graph.node_items, packed.node_items)  # the same nodes, in order
    np.testing.assert_array_equal(graph.pos_node, packed.pos_node)
    np.testing.assert_array_equal(graph.pos_session, packed.pos_session)
    codes = graph.edge_rows * len(graph.node_items) + graph.edge_cols
    assert (np.diff(codes) > 0).all()  # sorted by row then column, no edge twice
    first = 0
    for b, session in enumerate(SESSIONS):
        nodes, adj = official_adjacency(session)
        mine = np.flatnonzero(graph.node_session == b)
        assert graph.node_items[mine].tolist() == nodes
        expected = {(first + i, first + j, OFFICIAL_TYPES[int(adj[i, j])]) for i, j in zip(*np.nonzero(adj))}
        in_session = np.isin(graph.edge_rows, mine)
        got = set(zip(graph.edge_rows[in_session].tolist(), graph.edge_cols[in_session].tolist(),
                      graph.edge_types[in_session].tolist()))
        assert got == expected, f"session {session}"
        first += len(nodes)
    assert first == len(graph.node_items)


def test_typed_graph_by_hand():
    graph = build_typed_graph(np.array([[5, 6, 5, 7], [3, 0, 0, 0]]))
    # nodes 5, 6, 7 | 3; 5 -> 6 and 6 -> 5: in-out; 5 -> 7: 5's out, 7's in
    assert graph.node_items.tolist() == [5, 6, 7, 3] and graph.node_session.tolist() == [0, 0, 0, 1]
    edges = list(zip(graph.edge_rows.tolist(), graph.edge_cols.tolist(), graph.edge_types.tolist()))
    assert edges == [(0, 0, SELF), (0, 1, IN_OUT), (0, 2, OUT), (1, 0, IN_OUT), (1, 1, SELF), (2, 0, IN),
                     (2, 2, SELF), (3, 3, SELF)]
    assert graph.pos_reversed.tolist() == [3, 2, 1, 0, 0]  # 0 = the last click


def test_typed_graph_of_random_sessions_is_the_official_adjacency():
    rng = np.random.default_rng(4)
    sessions = [rng.integers(1, 6, rng.integers(1, 9)).tolist() for _ in range(200)]
    graph = build_typed_graph(_padded(sessions))
    n = len(graph.node_items)
    dense = np.full((n, n), -1)
    dense[graph.edge_rows, graph.edge_cols] = graph.edge_types
    first = 0
    for session in sessions:
        nodes, adj = official_adjacency(session)
        block = dense[first:first + len(nodes), first:first + len(nodes)]
        expected = np.vectorize(lambda c: OFFICIAL_TYPES.get(int(c), -1))(adj)
        np.testing.assert_array_equal(block, expected, err_msg=str(session))
        first += len(nodes)
    assert (dense >= 0).sum() == len(graph.edge_rows)  # no edge between sessions


def test_typed_graph_refuses_what_the_packed_graph_refuses():
    with pytest.raises(ValueError, match="row 0 is not right-padded"):
        build_typed_graph(np.array([[0, 3]]))
    with pytest.raises(ValueError, match="at least one item"):
        build_typed_graph(np.array([[1, 2], [0, 0]]))


def test_the_loader_builds_the_typed_graph_and_seeds_each_batch():
    pairs = SessionDataset(*augment_prefixes(SESSIONS), n_items=12)
    loader = make_loader(pairs, 4, shuffle=True, seed=9, layout="typed_session_graph")
    loader.set_epoch(3)
    batches = list(loader)
    assert all(isinstance(b.graph, TypedGraph) for b in batches)
    assert [b.seed for b in batches] == [(9, 3, i) for i in range(len(batches))]
    first = batches[0]
    expected = build_typed_graph(first.history)
    for got, want in zip(first.graph, expected):
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------- the sessions of targets: all
def test_targets_all_datasets_give_the_training_sessions():
    rng = np.random.default_rng(5)
    sessions = [rng.integers(1, 30, rng.integers(2, 9)).tolist() for _ in range(80)]
    pairs = SessionDataset(*augment_prefixes(sessions), n_items=30)
    train_idx = np.sort(rng.choice(len(pairs), size=int(0.7 * len(pairs)), replace=False))
    expected = SubsetDataset(pairs, train_idx).sessions()
    got = SessionPositionsDataset(pairs, train_idx, max_length=3).sessions()
    np.testing.assert_array_equal(got.offsets, expected.offsets)
    np.testing.assert_array_equal(got.items, expected.items)
    whole = SessionPositionsDataset(pairs, np.arange(len(pairs))).sessions()
    assert [whole.items[a:b].tolist() for a, b in zip(whole.offsets[:-1], whole.offsets[1:])] == sessions


def test_next_items_dataset_gives_its_base_sessions():
    import pandas as pd

    from srgnn_paddle.data import SequenceDataset

    frame = pd.DataFrame([(1, i, i) for i in range(1, 6)] + [(2, 9, 1), (2, 8, 2)],
                         columns=["user_id", "item_id", "timestamp"])
    base = SequenceDataset({"max_length": 4, "seed": 0}, frame, "train")
    got, expected = NextItemsDataset(base).sessions(), base.sessions()
    np.testing.assert_array_equal(got.items, expected.items)
    np.testing.assert_array_equal(got.offsets, expected.offsets)
