"""TAGNN and SGNN-HN against slow references: each model's scores / session vectors
recomputed session by session (and, for TAGNN, item by item) in numpy from the papers'
equations, on hand-made sessions with repeated items and one-item sessions; TAGNN's chunked
target attention (scores and gradients) against the unchunked one and against Paddle's own
autograd; SGNN-HN's star graph against a loop that builds it session by session; the paper
configs. (The contract checks are in ``test_contract.py``, learning a chain through the CLI
in ``test_session_models.py``, the export in ``tests/serving``.)"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import paddle
import pandas as pd
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.data import Batch, build_packed_graph
from srgnn_paddle.data.sessions import augment_prefixes, write_session_pickles
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.models import MODELS, build_model
from srgnn_paddle.models.sgnnhn import StarGraph
from srgnn_paddle.kernels.target_attention import BYTES_PER_ENTRY, target_attention_scores
from srgnn_paddle.serving.export import check_exportable
from srgnn_paddle.synthetic import generate_synthetic

N_ITEMS, D = 25, 6
#: repeated items (a cycle 1 -> 2 -> 1 -> 3 -> 1, a self-loop 4 -> 4), one-item sessions
SESSIONS = [[1, 2, 1, 3, 1], [5], [4, 4], [7, 8, 9, 7, 10, 11], [6], [12, 13]]
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _batch(sessions, width=None):
    width = width or max(len(s) for s in sessions)
    history = np.array([s + [0] * (width - len(s)) for s in sessions], dtype=np.int64)
    return Batch(history, (history > 0).astype("float32"), np.ones(len(sessions), dtype=np.int64),
                 build_packed_graph(history))


def _model(name, **options):
    paddle.seed(11)
    model = build_model(Config(model=name, n_items=N_ITEMS, embedding_dim=D, init="uniform", **options))
    model.eval()
    return model


def _params(layer):
    return {name: value.numpy().astype(np.float64) for name, value in layer.named_parameters()}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------------------- slow references
def _session_graph(items):
    """One session's graph, by a loop: sorted distinct items, each entry's node, the incoming
    and outgoing adjacency (each distinct transition once) normalised by degree."""
    nodes = sorted(set(items))
    index = {item: i for i, item in enumerate(nodes)}
    edges = np.zeros((len(nodes), len(nodes)))
    for a, b in zip(items, items[1:]):
        edges[index[a], index[b]] = 1.0
    in_degree, out_degree = edges.sum(0), edges.sum(1)
    a_in = edges.T / np.where(in_degree == 0, 1, in_degree)[:, None]  # [i, j]: j -> i
    a_out = edges / np.where(out_degree == 0, 1, out_degree)[:, None]  # [i, j]: i -> j
    return nodes, [index[i] for i in items], a_in, a_out


def _cell(p, a_in, a_out, h):
    """SR-GNN's gated graph cell on one session (``p``: the GNN's parameters)."""
    d = h.shape[1]
    h_in = h @ p["linear_edge_in.weight"] + p["linear_edge_in.bias"]
    h_out = h @ p["linear_edge_out.weight"] + p["linear_edge_out.bias"]
    inputs = np.concatenate([a_in @ h_in + p["b_iah"], a_out @ h_out + p["b_ioh"]], axis=1)
    gi, gh = inputs @ p["w_ih"] + p["b_ih"], h @ p["w_hh"] + p["b_hh"]
    reset, update = _sigmoid(gi[:, :d] + gh[:, :d]), _sigmoid(gi[:, d:2 * d] + gh[:, d:2 * d])
    new = np.tanh(gi[:, 2 * d:] + reset * gh[:, 2 * d:])
    return (1 - update) * h + update * new


def _tagnn_scores(model, items):
    """TAGNN's score of every item of the catalogue for one session, item by item."""
    p, gnn = _params(model), _params(model.gnn)
    table = p["item_emb.weight"]
    nodes, alias, a_in, a_out = _session_graph(items)
    v = table[nodes]
    for _ in range(model.gnn.step):
        v = _cell(gnn, a_in, a_out, v)
    seq = v[alias]  # v_{s,1..n}
    s_local = seq[-1]
    alpha = _sigmoid(s_local @ p["linear_one.weight"] + p["linear_one.bias"] + seq @ p["linear_two.weight"]
                     + p["linear_two.bias"]) @ p["linear_three.weight"]  # [n, 1]
    s_global = (alpha * seq).sum(0)
    shared = np.concatenate([s_global, s_local]) @ p["linear_transform.weight"] + p["linear_transform.bias"]
    scores = []
    for v_t in table:  # every candidate item
        beta = _softmax(seq @ p["linear_t.weight"] @ v_t, axis=0)  # over the session's positions
        s_target = (beta[:, None] * seq).sum(0)
        s_t = shared + s_target @ p["linear_target.weight"]
        scores.append(s_t @ v_t)
    return np.array(scores)


def _sgnnhn_vector(model, items):
    """SGNN-HN's ``tau * normalised z_h`` for one session."""
    p, gnn = _params(model), _params(model.gnn)
    nodes, alias, a_in, a_out = _session_graph(items)
    root_d = math.sqrt(D)
    h0 = p["item_emb.weight"][nodes]
    h, x_s = h0, h0.mean(0)
    for _ in range(model.num_layers):
        hat = _cell(gnn, a_in, a_out, h)
        alpha = _sigmoid((hat @ p["w_q1.weight"]) @ (x_s @ p["w_k1.weight"]) / root_d)[:, None]
        h = (1 - alpha) * hat + alpha * x_s
        beta = _softmax((h @ p["w_k2.weight"]) @ (x_s @ p["w_q2.weight"]) / root_d, axis=0)
        x_s = beta @ h
    gate = _sigmoid(np.concatenate([h0, h], axis=1) @ p["w_g.weight"] + p["w_g.bias"])
    h_final = gate * h0 + (1 - gate) * h
    positions = np.minimum(np.arange(len(items)), model.n_positions - 1)
    z = h_final[alias] + p["position_emb.weight"][positions]
    z_n = z[-1]
    gamma = _sigmoid(z_n @ p["w_1.weight"] + p["w_1.bias"] + x_s @ p["w_2.weight"] + z @ p["w_3.weight"]) \
        @ p["w_0.weight"]
    z_h = np.concatenate([(gamma * z).sum(0), z_n]) @ p["w_4.weight"] + p["w_4.bias"]
    return model.scale * z_h / np.linalg.norm(z_h)


def _assert_same_loss_and_gradients(plain, host) -> None:
    """Two ``(loss, {parameter: gradient})`` of one batch (plain and host kernels) agree."""
    assert host[0] == pytest.approx(plain[0], rel=1e-5)
    assert host[1].keys() == plain[1].keys()
    for name, grad in plain[1].items():
        np.testing.assert_allclose(host[1][name], grad, rtol=1e-4, atol=1e-6, err_msg=name)


# ---------------------------------------------------------------------------- TAGNN
@pytest.mark.parametrize("sessions", [SESSIONS, [[5], [6], [5]]], ids=["mixed", "one-item"])
@pytest.mark.parametrize("step", [1, 2])
def test_tagnn_scores_every_item_with_its_own_target_attention(step, sessions):
    model = _model("tagnn", step=step)
    with paddle.no_grad():
        fast = model.full_scores(_batch(sessions)).numpy()
        wider = model.full_scores(_batch(sessions, width=9)).numpy()  # more padding changes nothing
        alone = model.full_scores(_batch(sessions[-1:])).numpy()  # nor the other sessions of the batch
    slow = np.array([_tagnn_scores(model, s) for s in sessions])
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(wider, fast, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alone[0], fast[-1], rtol=1e-5, atol=1e-6)


def test_tagnn_paper_scoring_masks_the_padding_column_only():
    model = _model("tagnn", score_padding=False)
    with paddle.no_grad():
        scores = model.full_scores(_batch(SESSIONS)).numpy()
    slow = np.array([_tagnn_scores(model, s) for s in SESSIONS])
    assert (scores[:, 0] < -1e8).all()
    np.testing.assert_allclose(scores[:, 1:], slow[:, 1:], rtol=1e-4, atol=1e-5)


def _plain_target_attention(keys, values, mask, items):
    """The target term on padded ``[B, L, D]`` rows with Paddle's autograd throughout: the
    logits of the padding at -1e9, a softmax over the positions, ``[B, L, N]`` at once."""
    logits = paddle.matmul(keys, items, transpose_y=True) + ((1.0 - mask) * -1e9).unsqueeze(-1)
    beta = paddle.nn.functional.softmax(logits, axis=1)
    return paddle.sum(beta * paddle.matmul(values, items, transpose_y=True), axis=1)


@pytest.mark.parametrize("chunk", [1, 3, 7, 25, 1000])
def test_chunked_target_attention_gives_the_unchunked_scores_and_gradients(chunk):
    """The packed, chunked target attention against the padded one of Paddle's autograd:
    the same scores and the same gradients for keys, values and items."""
    rng = np.random.default_rng(chunk)
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]], dtype="float32")
    real = mask.reshape(-1) > 0
    session = paddle.to_tensor(np.nonzero(mask)[0])  # [P] the row of each real entry
    arrays = [rng.normal(size=shape).astype("float32") * 3 for shape in ((3, 4, D), (3, 4, D), (N_ITEMS, D))]
    weights = paddle.to_tensor(rng.normal(size=(3, N_ITEMS)).astype("float32"))  # a loss that weighs every score
    results = {}
    for name in ("padded", "packed"):
        keys, values, items = (paddle.to_tensor(a, stop_gradient=False) for a in arrays)

        def scores():
            if name == "padded":
                return _plain_target_attention(keys, values, paddle.to_tensor(mask), items)
            flat = paddle.to_tensor(np.flatnonzero(real))
            return target_attention_scores(paddle.gather(keys.reshape([-1, D]), flat),
                                           paddle.gather(values.reshape([-1, D]), flat), session,
                                           paddle.ones([len(flat)]), 3, items, chunk)

        out = scores()
        (out * weights).sum().backward()
        with paddle.no_grad():  # the scoring path, without a backward
            scored = scores().numpy()
        results[name] = [out.numpy(), scored, keys.grad.numpy().reshape(-1, D)[real],
                         values.grad.numpy().reshape(-1, D)[real], items.grad.numpy()]
    for plain, chunked, what in zip(results["padded"], results["packed"],
                                    ["scores", "no-grad scores", "d keys", "d values", "d items"]):
        np.testing.assert_allclose(chunked, plain, rtol=1e-4, atol=1e-4, err_msg=what)


def test_counted_rows_are_the_repeated_positions():
    """A session's repeated item as one row counted twice: the same scores as the positions
    one by one, and the row's gradients the sums of the positions' (plain kernel)."""
    from srgnn_paddle.kernels.target_attention import target_scores

    rng = np.random.default_rng(3)
    positions = np.array([0, 1, 0, 2, 3, 3, 4])  # rows of the positions: row 0 twice, row 3 twice
    session = np.array([0, 0, 0, 1, 2, 2, 2])
    rows_session, count = np.array([0, 0, 1, 2, 2]), np.array([2, 1, 1, 2, 1], dtype="float32")
    arrays = [rng.normal(size=shape).astype("float32") for shape in ((3, D), (5, D), (5, D), (N_ITEMS, D))]
    weights = paddle.to_tensor(rng.normal(size=(3, N_ITEMS)).astype("float32"))
    results = []
    for counted in (False, True):
        base, keys, values, items = (paddle.to_tensor(a, stop_gradient=False) for a in arrays)
        if counted:
            out = target_scores(base, keys, values, paddle.to_tensor(rows_session), paddle.to_tensor(count), items, 0)
        else:
            index = paddle.to_tensor(positions)
            out = target_scores(base, paddle.gather(keys, index), paddle.gather(values, index),
                                paddle.to_tensor(session), paddle.ones([len(positions)]), items, 0)
        (out * weights).sum().backward()
        results.append([out.numpy()] + [t.grad.numpy() for t in (base, keys, values, items)])
    for one_by_one, counted, what in zip(*results, ["scores", "d base", "d keys", "d values", "d items"]):
        np.testing.assert_allclose(counted, one_by_one, rtol=1e-4, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("threads, block, budget", [(1, 1024, 0), (2, 4, 0), (2, 7, 1), (1, 3, 1)],
                         ids=["one-block", "blocks-kept", "blocks-recomputed", "one-thread-recomputed"])
def test_host_target_scores_are_the_plain_ones(threads, block, budget):
    """The numpy kernel (sessions reordered by their rows, one-row sessions folded into
    their base, items in blocks kept or recomputed for the backward) against the plain-Paddle
    one: the same scores and gradients for base, keys, values and items, on sessions of 1 to
    5 rows (several of each, unsorted) with counts above 1."""
    from srgnn_paddle.kernels.host import HostPool, HostScratch, host_target_scores
    from srgnn_paddle.kernels.target_attention import target_scores

    rng = np.random.default_rng(block)
    lengths = np.array([3, 1, 5, 1, 2, 3, 1, 4, 2, 3])
    session = np.repeat(np.arange(len(lengths)), lengths)
    count = rng.integers(1, 4, len(session)).astype("float32")
    arrays = [rng.normal(size=(len(lengths), D)).astype("float32"),
              *(rng.normal(size=(len(session), D)).astype("float32") * 2 for _ in range(2)),
              rng.normal(size=(N_ITEMS, D)).astype("float32")]
    weights = paddle.to_tensor(rng.normal(size=(len(lengths), N_ITEMS)).astype("float32"))
    pool, scratch = HostPool(threads), HostScratch()
    results = []
    for host in (False, True, True):  # the second host run reuses the first one's memory
        tensors = [paddle.to_tensor(a, stop_gradient=False) for a in arrays]
        index, counts = paddle.to_tensor(session), paddle.to_tensor(count)
        if host:
            out = host_target_scores(*tensors[:3], index, counts, tensors[3], budget, pool, scratch, block)
        else:
            out = target_scores(*tensors[:3], index, counts, tensors[3], budget)
        (out * weights).sum().backward()
        results.append([out.numpy()] + [t.grad.numpy() for t in tensors])
        if host:
            with paddle.no_grad():  # scoring only: nothing kept
                np.testing.assert_allclose(host_target_scores(*tensors[:3], index, counts, tensors[3], budget, pool,
                                                              scratch, block).numpy(), results[-1][0], rtol=1e-6)
    pool.close()
    for run in results[1:]:
        for plain, fast, what in zip(results[0], run, ["scores", "d base", "d keys", "d values", "d items"]):
            np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-4, err_msg=what)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mask_padding", [False, True])
def test_host_scores_cross_entropy_is_paddles(threads, mask_padding):
    """The numpy softmax cross-entropy of given scores against Paddle's: the same loss and
    gradient, the padding column masked or not."""
    from srgnn_paddle.kernels.host import HostPool, host_scores_cross_entropy
    from srgnn_paddle.models.base import scores_cross_entropy

    rng = np.random.default_rng(threads)
    scores0 = (rng.normal(size=(7, N_ITEMS)) * 4).astype("float32")
    target = paddle.to_tensor(rng.integers(1, N_ITEMS, 7))
    pool = HostPool(threads)
    results = []
    for host in (False, True):
        scores = paddle.to_tensor(scores0, stop_gradient=False)
        loss = (host_scores_cross_entropy(scores, target, mask_padding, pool) if host else
                scores_cross_entropy(scores, target, mask_padding))
        (loss * 3.0).backward()
        results.append((float(loss), scores.grad.numpy()))
    pool.close()
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-6)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-7)
    assert (results[1][1][:, 0] == 0).all() or not mask_padding


def test_tagnn_host_kernels_give_the_plain_loss_and_gradients():
    """TAGNN's loss and every parameter's gradient with the host kernels (its GEMMs and the
    target attention in numpy) against plain Paddle, through the model."""
    from srgnn_paddle.kernels import HostKernels

    data = _batch(SESSIONS)
    grads = []
    for kernels in (None, HostKernels(2)):
        model = _model("tagnn", score_padding=False)
        model.train()
        if kernels is None:
            loss = model.calculate_loss(data)
            loss.backward()
        else:
            with kernels, kernels.attach(model):
                assert model.target_attention.kernels is kernels
                loss = model.calculate_loss(data)
                loss.backward()
        grads.append((float(loss), {n: p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None}))
    _assert_same_loss_and_gradients(*grads)


def test_tagnn_chunks_the_catalogue_within_its_budget_and_scores_the_same():
    model = _model("tagnn")
    assert model.chunk_size(20) == N_ITEMS  # 1024 MiB: everything at once
    entries, items = 357, 43098  # the nodes of a DIGINETICA batch of 100 prefix pairs: about 370 MB unchunked
    big = build_model(Config(model="tagnn", n_items=items, embedding_dim=4, score_budget_mb=256))
    chunk = big.chunk_size(entries)
    assert chunk < items and BYTES_PER_ENTRY * entries * chunk <= 256 * 2 ** 20
    assert build_model(Config(model="tagnn", n_items=items, embedding_dim=4, score_budget_mb=0)).chunk_size(
        entries) == items
    # chunks of 7 items through the model: the same scores, loss and gradients
    data = _batch(SESSIONS)
    nodes = sum(len(set(s)) for s in SESSIONS)  # the rows of the target attention: each session's distinct items
    reference = _model("tagnn")
    model.target_attention.budget = BYTES_PER_ENTRY * nodes * 7
    assert model.chunk_size(nodes) == 7
    with paddle.no_grad():
        np.testing.assert_allclose(model.full_scores(data).numpy(), reference.full_scores(data).numpy(), rtol=1e-5,
                                   atol=1e-6)
    grads = []
    for m in (reference, model):
        m.train()
        loss = m.calculate_loss(data)
        loss.backward()
        grads.append((float(loss), {n: p.grad.numpy() for n, p in m.named_parameters() if p.grad is not None}))
    assert grads[1][0] == pytest.approx(grads[0][0], rel=1e-6)
    for name, grad in grads[0][1].items():
        np.testing.assert_allclose(grads[1][1][name], grad, rtol=1e-5, atol=1e-6, err_msg=name)


def test_tagnn_trains_the_full_softmax_only_and_is_not_exportable():
    with pytest.raises(SrgnnError, match="full-softmax .* loss 'sampled_softmax' does not apply"):
        build_model(Config(model="tagnn", n_items=N_ITEMS, loss="sampled_softmax", num_negatives=5))
    assert not MODELS["tagnn"].inner_product
    with pytest.raises(SrgnnError, match="model tagnn does not score by inner product"):
        check_exportable(MODELS["tagnn"])


# ---------------------------------------------------------------------------- SGNN-HN
def _star_graph_by_loop(sessions):
    """The star graphs of a batch, session by session: for every session its satellites
    (sorted distinct items, numbered across the batch), the star's links to each of them,
    the satellite edges ``(target row, source column, weight)`` of the packed propagation
    matrix (incoming half, then outgoing half), and each entry's position."""
    satellites, star_links, incoming, outgoing, positions, last_entries = [], [], [], [], [], []
    offset, entries = 0, 0
    for b, items in enumerate(sessions):
        nodes, alias, a_in, a_out = _session_graph(items)
        satellites += nodes
        star_links += [(b, offset + i) for i in range(len(nodes))]
        incoming += [(offset + i, offset + j, a_in[i, j]) for i, j in zip(*np.nonzero(a_in))]
        outgoing += [(offset + i, offset + j, a_out[i, j]) for i, j in zip(*np.nonzero(a_out))]
        positions += list(range(len(items)))
        entries += len(items)
        last_entries.append(entries - 1)
        offset += len(nodes)
    n = offset
    edges = sorted(incoming) + sorted((n + i, n + j, w) for i, j, w in outgoing)
    return satellites, star_links, edges, positions, last_entries


@pytest.mark.parametrize("sessions", [SESSIONS, [[5], [6], [5]], [[3, 3, 3]]], ids=["mixed", "one-item", "repeats"])
def test_the_star_graph_is_the_packed_graph_with_a_star_per_session(sessions):
    graph = _batch(sessions).graph
    satellites, star_links, edges, positions, last_entries = _star_graph_by_loop(sessions)
    star = StarGraph(graph)
    assert graph.node_items.tolist() == satellites
    assert list(enumerate(star.node_session.numpy().tolist())) == [(node, b) for b, node in star_links]
    packed = sorted(zip(graph.edge_rows.tolist(), graph.edge_cols.tolist(), graph.edge_weights.tolist()))
    assert [(r, c) for r, c, _ in packed] == [(r, c) for r, c, _ in sorted(edges)]
    np.testing.assert_allclose([w for *_, w in packed], [w for *_, w in sorted(edges)], rtol=1e-6)
    position, last_entry = star.entries()
    assert position.numpy().tolist() == positions and last_entry.numpy().tolist() == last_entries
    # the star's aggregations: the mean of its satellites and a softmax over them
    rng = np.random.default_rng(0)
    nodes, logits = rng.normal(size=(len(satellites), 3)), rng.normal(size=(len(satellites), 1)) * 30
    mean = star.mean(paddle.to_tensor(nodes.astype("float32"))).numpy()
    attend = star.attend(paddle.to_tensor(logits.astype("float32")), paddle.to_tensor(nodes.astype("float32"))).numpy()
    for b in range(len(sessions)):
        mine = [node for s, node in star_links if s == b]
        np.testing.assert_allclose(mean[b], nodes[mine].mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(attend[b], _softmax(logits[mine, 0], 0) @ nodes[mine], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sessions", [SESSIONS, [[5], [6], [5]]], ids=["mixed", "one-item"])
@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "scale": 5.0, "max_length": 3}],
                         ids=["paper", "2-layers-3-positions"])
def test_sgnnhn_session_vectors_are_the_papers_equations(sessions, options):
    model = _model("sgnnhn", **options)
    assert model.num_layers == options.get("num_layers", 6) and model.scale == options.get("scale", 12.0)
    with paddle.no_grad():
        fast = model.encode(_batch(sessions)).numpy()
        wider = model.encode(_batch(sessions, width=8)).numpy()
    slow = np.array([_sgnnhn_vector(model, s) for s in sessions])
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(wider, fast, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), model.scale, rtol=1e-5)


def test_sgnnhn_scores_are_the_scaled_cosine():
    model = _model("sgnnhn", score_padding=False)
    batch = _batch(SESSIONS)
    with paddle.no_grad():
        scores = model.full_scores(batch).numpy()
        table = model.item_emb.weight.numpy().astype(np.float64)
    cosine = _sgnnhn_vector(model, SESSIONS[0]) / model.scale @ (table / np.linalg.norm(table, axis=1,
                                                                                        keepdims=True)).T
    np.testing.assert_allclose(scores[0, 1:], model.scale * cosine[1:], rtol=1e-4, atol=1e-4)
    assert (scores[:, 0] < -1e8).all() and np.abs(scores[:, 1:]).max() <= model.scale + 1e-4
    norms = np.linalg.norm(model.item_embeddings().numpy(), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_host_normalize_rows_is_paddles(threads):
    """The numpy row normalisation (chunks of rows over the threads) against
    ``F.normalize``: the same rows and gradients, a zero row and a row shorter than ``eps``
    included."""
    from srgnn_paddle.kernels.host import HostPool, host_normalize_rows

    rng = np.random.default_rng(threads)
    table = rng.normal(size=(2600, D)).astype("float32")  # more rows than one chunk
    table[0], table[5] = 0.0, 1e-14
    weights = paddle.to_tensor(rng.normal(size=table.shape).astype("float32"))
    pool = HostPool(threads)
    results = []
    for host in (False, True):
        x = paddle.to_tensor(table, stop_gradient=False)
        out = host_normalize_rows(x, pool) if host else paddle.nn.functional.normalize(x, axis=-1)
        (out * weights).sum().backward()
        results.append((out.numpy(), x.grad.numpy()))
    pool.close()
    for plain, fast, what in zip(*results, ["rows", "gradient"]):
        np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("threads", [1, 2])
def test_normalized_rows_with_the_padding_row_zeroed_are_the_same_on_both_kernels(threads):
    """``NormalizedRows(zero_first=True)`` (NISER+'s table): row 0 is the zero vector and gets
    no gradient, the other rows are ``F.normalize``'s, with the host kernels as with plain Paddle."""
    from srgnn_paddle.kernels import HostKernels, Kernels
    from srgnn_paddle.kernels.linear import NormalizedRows

    rng = np.random.default_rng(threads)
    table = rng.normal(size=(1500, D)).astype("float32")  # row 0 not zero: the layer zeroes it
    weights = paddle.to_tensor(rng.normal(size=table.shape).astype("float32"))
    results = []
    for kernels in (None, Kernels(), HostKernels(threads)):
        layer = NormalizedRows(zero_first=True)
        layer.kernels = kernels
        x = paddle.to_tensor(table, stop_gradient=False)
        out = layer(x)
        (out * weights).sum().backward()
        results.append((out.numpy(), x.grad.numpy()))
        if kernels is not None:
            kernels.close()
    expected = table / np.linalg.norm(table, axis=1, keepdims=True)
    expected[0] = 0.0
    for out, grad in results:
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
        assert not out[0].any() and not grad[0].any() and grad[1:].any()
        np.testing.assert_allclose(grad, results[0][1], rtol=1e-5, atol=1e-5)


def test_sgnnhn_host_kernels_give_the_plain_loss_and_gradients():
    """SGNN-HN's loss and every parameter's gradient with the host kernels (the GEMMs, the
    cell's gates, the table's normalisation, the softmax in numpy) against plain Paddle."""
    from srgnn_paddle.kernels import HostKernels, Kernels

    data = _batch(SESSIONS)
    grads = []
    for kernels in (Kernels(), HostKernels(2)):
        model = _model("sgnnhn", num_layers=2, score_padding=False)
        model.train()
        with kernels, kernels.attach(model):
            assert model.normalize_items.kernels is kernels and model.gnn.kernels is kernels
            loss = model.calculate_loss(data, kernels.cross_entropy)
            loss.backward()
        grads.append((float(loss), {n: p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None}))
    _assert_same_loss_and_gradients(*grads)


# ---------------------------------------------------------------------------- the paper configs
def test_the_paper_configs_load_and_build_the_published_models():
    tagnn = load_config(CONFIGS / "paper_tagnn.yaml")
    assert (tagnn.model, tagnn.protocol, tagnn.embedding_dim, tagnn.batch_size, tagnn.lr, tagnn.weight_decay,
            tagnn.lr_dc_step, tagnn.step) == ("tagnn", "paper", 100, 100, 0.001, 1e-5, 3, 1)
    sgnnhn = load_config(CONFIGS / "paper_sgnnhn.yaml")
    assert (sgnnhn.model, sgnnhn.protocol, sgnnhn.embedding_dim, sgnnhn.session_max_length) == ("sgnnhn", "paper",
                                                                                              256, 10)
    model = build_model(sgnnhn.replace(n_items=N_ITEMS))
    assert (model.num_layers, model.scale) == (6, 12.0) and model.n_positions >= 10
    assert build_model(tagnn.replace(n_items=N_ITEMS)).chunk_size(357) == N_ITEMS


# ---------------------------------------------------------------------------- through the CLI
@pytest.mark.slow
@pytest.mark.cli
@pytest.mark.parametrize("name", ["tagnn", "sgnnhn"])
def test_both_protocols_train_and_the_kernels_give_the_same_runs(name, tmp_path):
    rng = np.random.default_rng(0)
    sessions = [rng.integers(1, 30, rng.integers(1, 7)).tolist() for _ in range(200)]
    sessions = [s for s in sessions if len(s) > 1]
    paper = tmp_path / "sessions"
    write_session_pickles(paper, sessions, augment_prefixes(sessions),
                          augment_prefixes([rng.integers(1, 30, 4).tolist() for _ in range(40)]))
    common = ["train", "--model", name, "--epochs", "2", "--embedding_dim", "8", "--batch_size", "32", "--lr", "0.01",
              "--quiet", "--no-tsne"] + (["--num_layers", "2"] if name == "sgnnhn" else [])
    logs = {}
    for kernels in ("paddle", "host"):
        exp = tmp_path / kernels
        argv = common + ["--protocol", "paper", "--data_dir", str(paper), "--exp_dir", str(exp), "--kernels", kernels]
        assert cli.main(argv) == 0
        (run,) = (exp / "sessions_paper").iterdir()
        assert json.loads((run / "summary.json").read_text())["kernels"] == kernels
        logs[kernels] = pd.read_csv(run / "log.csv")
    np.testing.assert_allclose(logs["paddle"]["loss"].dropna(), logs["host"]["loss"].dropna(), rtol=1e-4)
    metrics = ["P@20", "MRR@20"]
    np.testing.assert_allclose(logs["paddle"][metrics].to_numpy(float), logs["host"][metrics].to_numpy(float),
                               atol=0.5)
    notebook = tmp_path / "tiny"
    generate_synthetic(notebook, seed=5, n_users=120, n_items=50, n_categories=4)
    exp = tmp_path / "notebook"
    assert cli.main(common + ["--data_dir", str(notebook), "--exp_dir", str(exp)]) == 0
    (run,) = (exp / "tiny_softmax").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == name and summary["epochs_run"] == 2 and 0 <= summary["test"]["recall@50"] <= 1
