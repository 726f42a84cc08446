"""Session graph (spec notebook.md §3): the worked example and parity with the notebook's loop."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from notebook_reference import notebook_session_graph as reference_slice  # the notebook's per-session loop
from srgnn_paddle.data.graph import build_packed_graph, build_session_graph


def assert_same_graph(graph, ref):
    alias, a, items, mask = ref
    np.testing.assert_array_equal(graph.alias_inputs, alias)
    np.testing.assert_array_equal(graph.items, items)
    np.testing.assert_array_equal(graph.mask, mask)
    # same zero pattern, and the same fractions
    np.testing.assert_array_equal(graph.A == 0, a == 0)
    np.testing.assert_allclose(graph.A, a, rtol=1e-6, atol=0)


def random_histories(rng, n, length, vocab):
    """Right-padded histories with lengths 0..length (0 = all-zero row, length = no padding)."""
    seq = np.zeros((n, length), dtype=np.int64)
    lengths = rng.integers(0, length + 1, size=n)
    for r, k in enumerate(lengths):
        seq[r, :k] = rng.integers(1, vocab + 1, size=k)
    return seq


# ---------------------------------------------------------------------------- worked example
def test_worked_example_1_2_3_2_4_padded():
    seq = np.array([[1, 2, 3, 2, 4, 0, 0]])
    g = build_session_graph(seq)
    length = 7
    assert g.A.shape == (1, length, 2 * length)
    assert g.A.dtype == np.float32
    assert g.alias_inputs.dtype == np.int64 and g.items.dtype == np.int64
    # nodes [0, 1, 2, 3, 4]; item v sits at node position v
    np.testing.assert_array_equal(g.items[0], [0, 1, 2, 3, 4, 0, 0])
    np.testing.assert_array_equal(g.alias_inputs[0], [1, 2, 3, 2, 4, 0, 0])
    np.testing.assert_array_equal(g.mask[0], [1, 1, 1, 1, 1, 0, 0])
    incoming = g.A[0, :, :length]
    outgoing = g.A[0, :, length:]
    expected_out = np.array([
        [0, 1, 0, 0],
        [0, 0, 0.5, 0.5],
        [0, 1, 0, 0],
        [0, 0, 0, 0],
    ])
    expected_in = np.array([
        [0, 0, 0, 0],
        [0.5, 0, 0.5, 0],
        [0, 1, 0, 0],
        [0, 1, 0, 0],
    ])
    np.testing.assert_array_equal(outgoing[1:5, 1:5], expected_out)
    np.testing.assert_array_equal(incoming[1:5, 1:5], expected_in)
    # nothing touches the padding node 0 or the unused node slots 5, 6
    for half in (incoming, outgoing):
        assert not half[0].any() and not half[:, 0].any()
        assert not half[5:].any() and not half[:, 5:].any()


def test_worked_example_without_padding():
    seq = np.array([[1, 2, 3, 2, 4]])
    g = build_session_graph(seq)
    length = 5
    # no 0 among the values: nodes [1, 2, 3, 4] at positions 0..3
    np.testing.assert_array_equal(g.items[0], [1, 2, 3, 4, 0])
    np.testing.assert_array_equal(g.alias_inputs[0], [0, 1, 2, 1, 3])
    np.testing.assert_array_equal(g.mask[0], [1, 1, 1, 1, 1])
    np.testing.assert_array_equal(
        g.A[0, :4, length:length + 4],
        [[0, 1, 0, 0], [0, 0, 0.5, 0.5], [0, 1, 0, 0], [0, 0, 0, 0]],
    )
    np.testing.assert_array_equal(
        g.A[0, :4, :4],
        [[0, 0, 0, 0], [0.5, 0, 0.5, 0], [0, 1, 0, 0], [0, 1, 0, 0]],
    )
    assert not g.A[0, 4].any()


def test_repeated_transition_counts_once():
    # 1->2 occurs twice: still weight 1 before normalisation
    g = build_session_graph(np.array([[1, 2, 1, 2, 0]]))
    length = 5
    out = g.A[0, :, length:]
    inc = g.A[0, :, :length]
    # nodes [0, 1, 2]; edges 1->2 and 2->1
    assert out[1, 2] == 1.0 and out[2, 1] == 1.0
    assert inc[2, 1] == 1.0 and inc[1, 2] == 1.0
    assert out.sum() == 2.0 and inc.sum() == 2.0


def test_edges_stop_at_first_zero():
    # an interior 0 ends the edge loop even though items follow it
    g = build_session_graph(np.array([[3, 5, 0, 7, 9]]))
    length = 5
    out = g.A[0, :, length:]
    # nodes [0, 3, 5, 7, 9]: only the edge 3 -> 5 exists
    assert out[1, 2] == 1.0
    assert out.sum() == 1.0


# ---------------------------------------------------------------------------- parity
@pytest.mark.parametrize(
    "n, length, vocab, seed",
    [
        (1500, 20, 8, 0),  # many repeats
        (1000, 20, 10_000, 1),  # mostly distinct items
        (600, 5, 3, 2),  # short, heavy repeats
        (300, 2, 4, 3),
        (200, 1, 5, 4),  # single-position histories
    ],
)
def test_parity_with_reference_loop_random(n, length, vocab, seed):
    rng = np.random.default_rng(seed)
    seq = random_histories(rng, n, length, vocab)
    # make sure the special shapes are in the batch
    seq[0] = 0  # empty (all-zero) row
    seq[1] = rng.integers(1, vocab + 1, size=length)  # full length, no padding
    seq[2] = 0
    seq[2, 0] = 7 % vocab + 1  # single-item history
    seq[3] = 7 % vocab + 1  # all identical items, full length
    if length > 2:
        seq[4] = 0
        seq[4, : length - 1] = 2 % vocab + 1  # identical items, then padding
    assert_same_graph(build_session_graph(seq), reference_slice(seq))


def test_parity_with_interior_zeros():
    rng = np.random.default_rng(11)
    seq = rng.integers(0, 6, size=(800, 10))  # zeros anywhere, not only as right padding
    assert_same_graph(build_session_graph(seq), reference_slice(seq))


def test_all_zero_batch_and_identical_items():
    seq = np.zeros((3, 6), dtype=np.int64)
    g = build_session_graph(seq)
    assert not g.A.any() and not g.mask.any()
    np.testing.assert_array_equal(g.alias_inputs, 0)
    np.testing.assert_array_equal(g.items, 0)

    g = build_session_graph(np.full((1, 4), 9))
    # one node (9) with a self loop, in-degree 1 and out-degree 1
    np.testing.assert_array_equal(g.items[0], [9, 0, 0, 0])
    np.testing.assert_array_equal(g.alias_inputs[0], [0, 0, 0, 0])
    assert g.A[0, 0, 0] == 1.0 and g.A[0, 0, 4] == 1.0
    assert g.A.sum() == 2.0


def test_paddle_tensor_and_list_inputs():
    rng = np.random.default_rng(5)
    seq = random_histories(rng, 64, 8, 6)
    expected = build_session_graph(seq)
    ref = reference_slice(seq)
    assert_same_graph(expected, ref)
    for variant in (paddle.to_tensor(seq), paddle.to_tensor(seq.astype(np.int32)), seq.tolist(),
                    seq.astype(np.int32)):
        g = build_session_graph(variant)
        assert_same_graph(g, ref)
        assert g.alias_inputs.dtype == np.int64 and g.items.dtype == np.int64
        assert g.A.dtype == np.float32 and g.mask.dtype == np.float32


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        build_session_graph(np.array([1, 2, 3]))  # 1-D
    with pytest.raises(ValueError):
        build_session_graph(np.array([[1.5, 2.0]]))  # not integer ids


# ---------------------------------------------------------------------------- packed layout
def packed_matrix(g):
    """The dense ``[2n, 2n]`` propagation matrix of a packed graph."""
    n = len(g.node_items)
    m = np.zeros((2 * n, 2 * n))
    np.add.at(m, (g.edge_rows, g.edge_cols), g.edge_weights)  # add.at: a duplicate entry would show
    return m


def test_packed_worked_example_1_2_3_2_4():
    g = build_packed_graph(np.array([[1, 2, 3, 2, 4, 0, 0]]))
    np.testing.assert_array_equal(g.node_items, [1, 2, 3, 4])  # no padding node
    np.testing.assert_array_equal(g.pos_node, [0, 1, 2, 1, 3])
    np.testing.assert_array_equal(g.pos_session, [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(g.last_node, [3])
    m = packed_matrix(g)
    np.testing.assert_allclose(m[:4, :4], [[0, 0, 0, 0], [0.5, 0, 0.5, 0], [0, 1, 0, 0], [0, 1, 0, 0]])  # incoming
    np.testing.assert_allclose(m[4:, 4:], [[0, 1, 0, 0], [0, 0, 0.5, 0.5], [0, 1, 0, 0], [0, 0, 0, 0]])  # outgoing
    assert not m[:4, 4:].any() and not m[4:, :4].any()
    assert g.edge_weights.dtype == np.float32 and g.node_items.dtype == np.int64


@pytest.mark.parametrize("n,length,vocab,seed", [(1500, 20, 8, 0), (1000, 12, 200, 1), (300, 1, 5, 2)])
@pytest.mark.slow
def test_packed_graph_equals_the_reference_loop_on_real_nodes(n, length, vocab, seed):
    """Each session's block of the packed graph is the notebook's graph without its padding
    node: same nodes in the same order, same incoming/outgoing weights, same alias."""
    rng = np.random.default_rng(seed)
    seq = random_histories(rng, n, length, vocab)
    seq[seq[:, 0] == 0, 0] = 1  # the packed layout needs >= 1 item per history
    seq[0, :] = 3  # all-identical full-length history
    g = build_packed_graph(seq)
    m = packed_matrix(g)
    size = len(g.node_items)
    alias, a, items, _ = reference_slice(seq)
    first = np.searchsorted(g.pos_session, np.arange(n))  # first entry of each session
    offset = 0
    for b in range(n):
        real = items[b] > 0
        if seq[b, -1] == 0:  # padded: node 0 is first; the real nodes follow it
            real[0] = False
        nodes = items[b][real]
        k = len(nodes)
        np.testing.assert_array_equal(g.node_items[offset:offset + k], nodes)
        keep = np.flatnonzero(real)
        block = slice(offset, offset + k)
        np.testing.assert_allclose(m[block, block], a[b][np.ix_(keep, keep)], rtol=1e-6)  # incoming
        out = slice(size + offset, size + offset + k)
        np.testing.assert_allclose(m[out, out], a[b][:, length:][np.ix_(keep, keep)], rtol=1e-6)  # outgoing
        n_real = int((seq[b] > 0).sum())
        local = {node: i for i, node in enumerate(keep)}
        expected_alias = [offset + local[x] for x in alias[b][:n_real]]
        np.testing.assert_array_equal(g.pos_node[first[b]:first[b] + n_real], expected_alias)
        assert g.last_node[b] == expected_alias[-1]
        offset += k
    assert offset == size
    assert not m[:size, size:].any() and not m[size:, :size].any()


def test_packed_graph_bad_inputs():
    with pytest.raises(ValueError, match="right-padded"):
        build_packed_graph(np.array([[1, 0, 2]]))
    with pytest.raises(ValueError, match="at least one item"):
        build_packed_graph(np.array([[1, 2], [0, 0]]))
    with pytest.raises(ValueError):
        build_packed_graph(np.array([1, 2, 3]))
