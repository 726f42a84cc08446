"""GCE-GNN: the whole session encoding against a slow numpy loop (session level, global
level with 1 and 2 hops, readout with reversed positions), the neighbour sampling (seeded in
training, deterministic in evaluation), and the global graph through every path that needs
it: training (built from the training sessions before the first epoch), the checkpoint and
--resume, evaluate, predict and --refit (its own graph from training + validation); its
export, in tests/serving/test_serving.py. (The shared contract checks are in test_contract.py, the graphs' own
checks in tests/data/test_gcegnn_graphs.py, learning a chain in test_session_models.py.)"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import paddle
import paddle.nn.functional as F
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config
from srgnn_paddle.data import Batch, SessionDataset, augment_prefixes
from srgnn_paddle.data.global_graph import TOP_K, build_global_graph
from srgnn_paddle.data.sessions import write_session_pickles
from srgnn_paddle.data.typed_graph import IN, IN_OUT, OUT, SELF, build_typed_graph
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.models import GCEGNN, build_model
from srgnn_paddle.kernels import HostKernels, select_kernels
from srgnn_paddle.models.base import softmax_cross_entropy
from srgnn_paddle.models.gcegnn import POSITIONS, SAMPLING_STREAM, first_aggregation_units
from srgnn_paddle.models.layers import segment_mean, segment_sum
from srgnn_paddle.protocols import get_protocol
from srgnn_paddle.runs import load_model, load_run
from srgnn_paddle.training import MODEL_FILE, Trainer, load_state

N_ITEMS, D = 30, 6
#: training sessions: item 1 gets 12 neighbours and more, 15 two, 20 one, 25 none (never in training)
TRAIN = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 1], [1, 15, 16, 1], [20, 21], [2, 4, 2, 4], [7, 3, 9, 3],
         [17, 18, 19, 1, 17]]
HISTORY = [[1, 2, 1, 3, 1], [20], [25, 4, 9], [3, 20, 3, 25, 17, 11], [9, 9]]


def _model(hops=1, n_sample=0, fit=True) -> GCEGNN:
    """A seeded model (the same weights for the same options), with the global graph of
    :data:`TRAIN` unless ``fit`` is off."""
    paddle.seed(11)
    cfg = Config(model="gcegnn", n_items=N_ITEMS, embedding_dim=D, num_layers=hops, n_sample=n_sample,
                 dropout_gcn=0.0, dropout_local=0.0, dropout_global=0.0, init="uniform")
    model = build_model(cfg)
    if fit:
        model.fit_sessions(SessionDataset(*augment_prefixes(TRAIN), N_ITEMS).sessions())
    return model


def _batch(rows, seed=None) -> Batch:
    width = max(len(r) for r in rows)
    history = np.array([list(r) + [0] * (width - len(r)) for r in rows], dtype=np.int64)
    return Batch(history, (history > 0).astype("float32"), np.ones(len(rows), dtype=np.int64),
                 build_typed_graph(history), seed=seed)


def _leaky(x):
    return np.where(x > 0, x, 0.2 * x)


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def slow_encode(model: GCEGNN, sessions) -> np.ndarray:
    """GCE-GNN's session vectors, session by session and node by node, in float64."""
    p = {name: value.numpy().astype(np.float64) for name, value in model.named_parameters()}
    emb = p["item_emb.weight"].copy()
    emb[0] = 0.0  # the padding row
    table, counts = model.global_neighbors.numpy(), model.global_weights.numpy()
    s_count = model.n_sample

    def sample(item):  # evaluation: slot k holds neighbour k mod degree
        degree = int((counts[item] > 0).sum())
        slots = [k % max(degree, 1) for k in range(s_count)]
        return table[item][slots], counts[item][slots].astype(np.float64)

    def aggregate(t, own, neighbours, weights, session):
        w_1, q_1, w_2 = (p[f"global_agg.{t}.{name}.weight"] for name in ("w_1", "q_1", "w_2"))
        pi = np.array([(_leaky(np.r_[session * h, w] @ w_1) @ q_1)[0] for h, w in zip(neighbours, weights)])
        summary = (_softmax(pi)[:, None] * np.array(neighbours)).sum(axis=0)
        return np.maximum(np.r_[own, summary] @ w_2, 0.0)

    def vector(t, item, session):  # the vector of `item` after t aggregations
        if t == 0:
            return emb[item]
        ids, weights = sample(item)
        return aggregate(t - 1, vector(t - 1, item, session), [vector(t - 1, j, session) for j in ids], weights,
                         session)

    out = []
    for session in sessions:
        nodes = sorted(set(session))
        s = emb[session].mean(axis=0)
        moves = {(a, b) for a, b in zip(session, session[1:]) if a != b}
        hidden = {}
        for i in nodes:
            edges = [(i, SELF)]
            for j in nodes:
                if j != i and ((i, j) in moves or (j, i) in moves):
                    edges.append((j, IN_OUT if (i, j) in moves and (j, i) in moves else OUT if (i, j) in moves else IN))
            e = np.array([_leaky((emb[i] * emb[j]) @ p["session_agg.attention.weight"][:, r]) for j, r in edges])
            local = (_softmax(e)[:, None] * np.array([emb[j] for j, _ in edges])).sum(axis=0)
            hidden[i] = local + vector(model.hops, i, s)
        h = np.array([hidden[v] for v in session])  # [l, D]
        positions = p["pos_emb.weight"][[min(len(session) - 1 - t, POSITIONS - 1) for t in range(len(session))]]
        z = np.tanh(np.concatenate([h, positions], axis=1) @ p["w_3.weight"])
        gamma = _sigmoid(z @ p["w_4.weight"] + p["w_4.bias"] + h.mean(axis=0) @ p["w_5.weight"]) @ p["q_2.weight"]
        out.append((gamma * h).sum(axis=0))
    return np.array(out)


# ---------------------------------------------------------------------------- the tree's reference
def reference_sample(model: GCEGNN, items, rng):
    """The neighbour draws as the first implementation made them (Paddle ops, per row)."""
    table = paddle.gather(model.global_neighbors, items)
    weights = paddle.gather(model.global_weights, items)
    degree = paddle.sum((weights > 0).astype("int64"), axis=1, keepdim=True)
    size = [items.shape[0], model.n_sample]
    slot = paddle.arange(model.n_sample, dtype="int64").unsqueeze(0).expand(size)
    if rng is None:
        slots = slot % degree.clip(min=1)
    else:
        column = paddle.arange(TOP_K, dtype="int64").unsqueeze(0).expand([size[0], TOP_K])
        keys = paddle.to_tensor(rng.random((size[0], TOP_K), dtype=np.float32))
        keys = paddle.where(column < degree, keys, paddle.full_like(keys, 2.0))
        subset = paddle.argsort(keys, axis=1)[:, :model.n_sample]
        uniform = paddle.to_tensor(rng.random(size, dtype=np.float32))
        drawn = paddle.floor(uniform * degree.astype("float32")).astype("int64")
        drawn = paddle.minimum(drawn, (degree - 1).clip(min=0).expand(size))
        slots = paddle.where((degree >= model.n_sample).expand(size), subset, drawn)
    return paddle.take_along_axis(table, slots, axis=1), paddle.take_along_axis(weights, slots, axis=1)


def reference_encode(model: GCEGNN, graph, rng=None) -> paddle.Tensor:
    """GCE-GNN's session vectors as the first implementation computed them, in plain Paddle:
    the whole sampled tree of every node (``[n, S, S, D]`` for two hops), every slot attended
    to, each embedding looked up per slot. The same dropout calls, in the same order, as the
    model's (so that seeded runs draw the same masks)."""
    n_sessions = int(graph.pos_session[-1]) + 1
    node_items, node_session, rows, cols, types, pos_node, pos_session, pos_reversed = (
        paddle.to_tensor(x) for x in graph)
    h = model.item_emb(node_items)
    session = segment_mean(paddle.gather(h, pos_node), pos_session, n_sessions)
    local = model.session_agg(h, rows, cols, types)
    n, d, s = node_items.shape[0], model.embedding_dim, model.n_sample
    ids, weights = [node_items], []
    for hop in range(model.hops):
        neighbours, weight = reference_sample(model, ids[-1], rng)
        ids.append(neighbours.reshape([-1]))
        weights.append(weight.reshape([n, s ** hop, s]))
    vectors = [model.item_emb(i).reshape([n, s ** k, d]) for k, i in enumerate(ids)]
    node_vector = paddle.gather(session, node_session).unsqueeze(1)  # [n, 1, D]

    def aggregate(agg, own, neighbours, weight):
        features = paddle.concat([node_vector.unsqueeze(-2) * neighbours, weight.unsqueeze(-1)], axis=-1)
        pi = agg.q_1(F.leaky_relu(agg.w_1(features), 0.2)).squeeze(-1)
        summary = paddle.sum(F.softmax(pi, axis=-1).unsqueeze(-1) * neighbours, axis=-2)
        return F.relu(agg.w_2(agg.dropout(paddle.concat([own, summary], axis=-1))))

    for t, agg in enumerate(model.global_agg):
        vectors = [aggregate(agg, vectors[k], vectors[k + 1].reshape([n, s ** k, s, d]), weights[k])
                   for k in range(model.hops - t)]
    global_ = vectors[0].reshape([n, d])
    hidden = paddle.gather(model.dropout_local(local) + model.dropout_global(global_), pos_node)
    positions = model.pos_emb(pos_reversed.clip(max=POSITIONS - 1))
    z = paddle.tanh(model.w_3(paddle.concat([hidden, positions], axis=1)))
    mean = segment_mean(hidden, pos_session, n_sessions)
    gamma = model.q_2(F.sigmoid(model.w_4(z) + paddle.gather(model.w_5(mean), pos_session)))
    return segment_sum(gamma * hidden, pos_session, n_sessions)


def _loss_and_grads(model, encode, batch, seed):
    """The softmax loss of ``encode(batch)`` and every parameter's gradient, the dropouts
    drawn from ``paddle.seed(seed)``."""
    paddle.seed(seed)
    model.clear_gradients()
    loss = softmax_cross_entropy(encode(batch), model.item_embeddings(), paddle.to_tensor(batch.target).reshape([-1]),
                                 True)
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters() if p.grad is not None}
    model.clear_gradients()
    return float(loss), grads


def _random_model(hops, n_sample, dropout, seed=3):
    """A model over 200 items whose global graph has items with 12 neighbours and with fewer."""
    rng = np.random.default_rng(seed)
    sessions = [list(rng.integers(1, 200, int(rng.integers(2, 9)))) for _ in range(300)]
    sessions += [[150 + k, 151 + k] for k in range(40)]  # items 150..190: few neighbours
    paddle.seed(5)
    cfg = Config(model="gcegnn", n_items=200, embedding_dim=D, num_layers=hops, n_sample=n_sample,
                 dropout_gcn=dropout, dropout_local=dropout / 2, dropout_global=dropout, init="uniform")
    model = build_model(cfg)
    model.fit_sessions(SessionDataset(*augment_prefixes(sessions), 200).sessions())
    history = [list(rng.integers(1, 200, int(rng.integers(1, 7)))) for _ in range(20)]
    history += [[150, 151, 150], [160], [5, 5, 5], [170, 3, 170, 171]]
    return model, history


@pytest.mark.parametrize("kernels", ["paddle", "host"])
@pytest.mark.parametrize("hops,n_sample,dropout", [(2, 12, 0.3), (2, 4, 0.0), (1, 12, 0.2), (3, 3, 0.2)])
def test_training_loss_and_gradients_are_the_first_implementations(kernels, hops, n_sample, dropout):
    """The deduplicated aggregation (and the host kernel) against the whole tree computed slot
    by slot: the same loss and gradients for a seeded training step, dropouts on."""
    model, history = _random_model(hops, n_sample, dropout)
    model.train()
    batch = _batch(history, seed=(4, 2, 7))
    expected_loss, expected = _loss_and_grads(
        model, lambda b: reference_encode(model, b.graph, np.random.default_rng([*b.seed, SAMPLING_STREAM])), batch, 9)
    with select_kernels(kernels) as chosen, chosen.attach(model):
        loss, grads = _loss_and_grads(model, model.encode, batch, 9)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert grads.keys() == expected.keys()
    for name, grad in expected.items():  # the attention's gradients are small: a tolerance to each one's scale
        np.testing.assert_allclose(grads[name], grad, rtol=2e-4, atol=1e-5 * np.abs(grad).max(), err_msg=name)


@pytest.mark.parametrize("kernels", ["paddle", "host"])
def test_evaluation_vectors_are_the_first_implementations(kernels):
    model, history = _random_model(2, 12, 0.5)
    model.eval()
    batch = _batch(history)
    with paddle.no_grad(), select_kernels(kernels) as chosen, chosen.attach(model):
        np.testing.assert_allclose(model.encode(batch).numpy(), reference_encode(model, batch.graph).numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_the_global_attention_runs_on_the_kernels_of_the_run():
    model, history = _random_model(2, 12, 0.0)
    calls = []

    class Recording(HostKernels):
        def segment_attention(self, base, row, q, values, pairs, slope):
            calls.append(len(pairs.unit))
            return super().segment_attention(base, row, q, values, pairs, slope)

    with Recording(1) as kernels, kernels.attach(model):
        assert all(aggregate.kernels is kernels for aggregate in model.global_agg)
        model.calculate_loss(_batch(history), kernels.cross_entropy)
    assert len(calls) == 2  # one per aggregation
    assert all(aggregate.kernels is None for aggregate in model.global_agg)


def test_units_share_the_rows_that_compute_the_same():
    """Rows with the same session, item and multiset of neighbours are one unit; each unit's
    pairs are its distinct neighbours, counted as drawn, with their edge weights."""
    model, history = _random_model(2, 12, 0.0)
    graph = _batch(history).graph
    tree = model.sample_tree(graph.node_items, graph.node_session, np.random.default_rng(1))
    units = first_aggregation_units(tree, 12)
    parents = np.concatenate(tree.rows[:2])
    sessions = np.concatenate(tree.sessions[:2])
    children = np.concatenate(tree.rows[1:]).reshape(-1, 12)
    weights = np.concatenate(tree.weights[1:]).reshape(-1, 12)
    pairs = units.pairs
    assert pairs.n_units < len(parents) and len(pairs.unit) < children.size  # something is shared
    for row in range(len(parents)):
        k = units.row_unit[row]
        assert units.unit_item[k] == parents[row]
        mine = pairs.unit == k
        counts = dict(zip(*np.unique(children[row], return_counts=True)))
        assert dict(zip(pairs.item[mine], pairs.count[mine])) == counts
        weight_of = dict(zip(children[row], weights[row]))
        assert all(weight_of[i] == w for i, w in zip(pairs.item[mine], pairs.weight[mine]))
        assert (units.key_session[pairs.key[mine]] == sessions[row]).all()
        np.testing.assert_array_equal(units.key_item[pairs.key[mine]], pairs.item[mine])
    np.testing.assert_array_equal(tree.items[tree.rows[0]], graph.node_items)
    assert len(np.unique(units.key_session * 1000 + units.key_item)) == len(units.key_item)


def test_the_new_draws_are_the_first_implementations():
    model, history = _random_model(2, 5, 0.0)
    items = paddle.to_tensor(np.arange(200))
    for rng in (None, 1, 2):
        fresh = (lambda: None) if rng is None else (lambda: np.random.default_rng(rng))
        ids, weights = model.sample_neighbors(items, fresh())
        expected_ids, expected_weights = reference_sample(model, items, fresh())
        np.testing.assert_array_equal(np.sort(ids.numpy(), 1), np.sort(expected_ids.numpy(), 1))
        np.testing.assert_array_equal(np.sort(weights.numpy(), 1), np.sort(expected_weights.numpy(), 1))


@pytest.mark.parametrize("hops,n_sample", [(1, 0), (2, 0), (2, 3), (1, 5)])
def test_encode_is_the_slow_loop(hops, n_sample):
    model = _model(hops, n_sample)
    model.eval()
    assert (model.hops, model.n_sample) == (hops, n_sample or 12)
    with paddle.no_grad():
        fast = model.encode(_batch(HISTORY)).numpy()
    np.testing.assert_allclose(fast, slow_encode(model, HISTORY), rtol=1e-4, atol=1e-5)


def test_the_global_graph_is_in_the_state_and_changes_the_vectors():
    model = _model(2)
    model.eval()
    state = model.state_dict()
    expected = build_global_graph(SessionDataset(*augment_prefixes(TRAIN), N_ITEMS).sessions(), N_ITEMS)
    np.testing.assert_array_equal(state["global_neighbors"].numpy(), expected.neighbors)
    np.testing.assert_array_equal(state["global_weights"].numpy(), expected.weights)
    assert {name for name, _ in model.named_parameters()}.isdisjoint({"global_neighbors", "global_weights"})
    empty = _model(2, fit=False)  # the same weights, no graph: no global neighbours
    assert not empty.global_weights.numpy().any()
    empty.eval()
    with paddle.no_grad():
        with_graph, without = model.encode(_batch(HISTORY)).numpy(), empty.encode(_batch(HISTORY)).numpy()
    assert np.abs(with_graph - without).max() > 1e-3
    np.testing.assert_allclose(without, slow_encode(empty, HISTORY), rtol=1e-4, atol=1e-5)


def test_positions_past_the_table_share_its_last_row():
    model = _model()
    model.eval()
    long = [list(range(1, 15)) * 15]  # 210 clicks
    with paddle.no_grad():
        fast = model.encode(_batch(long)).numpy()
    np.testing.assert_allclose(fast, slow_encode(model, long), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- neighbour sampling
def test_evaluation_takes_the_top_neighbours_or_repeats_them_in_order():
    model = _model(n_sample=4)
    table, weights = model.global_neighbors.numpy(), model.global_weights.numpy()
    items = np.array([1, 20, 25, 15])
    ids, w = (x.numpy() for x in model.sample_neighbors(paddle.to_tensor(items)))
    np.testing.assert_array_equal(ids[0], table[1, :4])  # many neighbours: the 4 heaviest
    assert (weights[20] > 0).sum() == 1 and ids[1].tolist() == [21] * 4  # one neighbour, four times
    assert not ids[2].any() and not w[2].any()  # none: padding
    degree = int((weights[15] > 0).sum())  # 1 and 16
    assert degree == 2 and ids[3].tolist() == [table[15, k % degree] for k in range(4)]
    np.testing.assert_array_equal(w, np.take_along_axis(weights[items], np.array(
        [[k % max(int((weights[i] > 0).sum()), 1) for k in range(4)] for i in items]), 1))


def test_training_draws_are_seeded_and_from_the_top_neighbours():
    model = _model(n_sample=4)
    table, weights = model.global_neighbors.numpy(), model.global_weights.numpy()
    items = paddle.to_tensor(np.array([1] * 200 + [15] * 200))
    ids, w = (x.numpy() for x in model.sample_neighbors(items, np.random.default_rng(5)))
    again, _ = (x.numpy() for x in model.sample_neighbors(items, np.random.default_rng(5)))
    other, _ = (x.numpy() for x in model.sample_neighbors(items, np.random.default_rng(6)))
    np.testing.assert_array_equal(ids, again)
    assert (ids != other).any()
    many = ids[:200]  # item 1 has 12 neighbours: 4 distinct of them per draw, each of the 12 drawn sometimes
    assert all(len(set(row)) == 4 for row in many) and set(many.reshape(-1)) == set(table[1])
    few = ids[200:]  # item 15 has 2 (fewer than 4): 4 draws with replacement from them
    degree = int((weights[15] > 0).sum())
    assert set(few.reshape(-1)) == set(table[15, :degree]) and all(len(set(row)) <= 2 for row in few)
    weight_of = {int(n): float(c) for n, c in zip(table[15], weights[15])}
    assert all(weight_of[int(n)] == c for n, c in zip(few.reshape(-1), w[200:].reshape(-1)))


def test_training_encodes_with_the_batch_seed_and_evaluation_without():
    model = _model(2, n_sample=3)
    model.train()
    first = model.encode(_batch(HISTORY, seed=(1, 1, 0))).numpy()
    same = model.encode(_batch(HISTORY, seed=(1, 1, 0))).numpy()
    step = model.encode(_batch(HISTORY, seed=(1, 1, 1))).numpy()
    np.testing.assert_array_equal(first, same)
    assert np.abs(first - step).max() > 1e-5
    unseeded = model.encode(_batch(HISTORY)).numpy()  # a batch made by hand: the evaluation's neighbours
    model.eval()
    with paddle.no_grad():
        evaluated = model.encode(_batch(HISTORY, seed=(1, 1, 0))).numpy()
    np.testing.assert_allclose(unseeded, evaluated, rtol=1e-5, atol=1e-6)


def test_dropouts_are_the_configured_ones_and_act_in_training_only():
    model = build_model(Config(model="gcegnn", n_items=N_ITEMS, embedding_dim=D, num_layers=2, dropout_gcn=0.2,
                               dropout_local=0.1, dropout_global=0.5))
    assert (model.global_agg[0].dropout.p, model.global_agg[1].dropout.p) == (0.2, 0.2)
    assert (model.dropout_local.p, model.dropout_global.p) == (0.1, 0.5)
    model.fit_sessions(SessionDataset(*augment_prefixes(TRAIN), N_ITEMS).sessions())
    batch = _batch(HISTORY)
    model.train()
    assert np.abs(model.encode(batch).numpy() - model.encode(batch).numpy()).max() > 1e-5
    model.eval()
    with paddle.no_grad():
        np.testing.assert_array_equal(model.encode(batch).numpy(), model.encode(batch).numpy())


def test_config_checks_the_options():
    for key, value in (("dropout_gcn", 1.0), ("dropout_local", -0.1), ("dropout_global", 1.5)):
        with pytest.raises(SrgnnError, match=f"'{key}' must be in \\[0, 1\\)"):
            Config.from_dict({key: value})
    with pytest.raises(SrgnnError, match="'n_sample' must be in 0..12"):
        Config.from_dict({"n_sample": 13})


# ---------------------------------------------------------------------------- the runs' paths
def _folder(path, seed=0):
    """Sessions that walk a cycle of 25 items, some with a detour, and their test prefixes."""
    rng = np.random.default_rng(seed)

    def walk(length):
        start = int(rng.integers(0, 25))
        return [(start + k) % 25 + 1 for k in range(length)]

    sessions = [walk(int(rng.integers(2, 7))) for _ in range(240)]
    write_session_pickles(path, sessions, augment_prefixes(sessions),
                          augment_prefixes([walk(int(rng.integers(2, 6))) for _ in range(40)]))
    return path


FAST = ["--model", "gcegnn", "--protocol", "paper", "--embedding_dim", "8", "--batch_size", "32", "--lr", "0.01",
        "--num_layers", "2", "--n_sample", "4", "--dropout_global", "0", "--quiet", "--no-tsne"]
RUN = "walk_paper/GCEGNN_0.01_32_8"


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    return _folder(tmp_path_factory.mktemp("gce") / "walk")


def _graph_of(dataset, n_items):
    return build_global_graph(dataset.sessions(), n_items)


@pytest.mark.slow
@pytest.mark.cli
def test_training_builds_the_graph_of_the_training_sessions_and_resume_keeps_it(walk, tmp_path, monkeypatch):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert cli.main(["train", "--data_dir", str(walk), "--exp_dir", str(whole), *FAST, "--epochs", "2"]) == 0
    cfg, summary = load_run(whole / RUN)
    data = get_protocol("paper").load_data(cfg, walk)
    expected = _graph_of(data.train, cfg.n_items)  # the training pairs' sessions, validation held out
    assert expected.weights.sum() < _graph_of(data.train_all or data.valid.base, cfg.n_items).weights.sum()
    best = load_state(whole / RUN / MODEL_FILE, "")
    np.testing.assert_array_equal(best["global_neighbors"].numpy(), expected.neighbors)
    np.testing.assert_array_equal(best["global_weights"].numpy(), expected.weights)
    # Ctrl-C in epoch 2, then --resume: the graph comes from the checkpoint, not rebuilt
    argv = ["train", "--data_dir", str(walk), "--exp_dir", str(parts), *FAST, "--epochs", "2"]
    original = Trainer.train_epoch

    def interrupted(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, epoch)

    def refuse(self, sessions):
        raise AssertionError("a resumed run rebuilt its global graph")

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_epoch", interrupted)
        assert cli.main(argv) == 130
    monkeypatch.setattr(GCEGNN, "fit_sessions", refuse)
    assert cli.main(argv + ["--resume"]) == 0
    resumed = json.loads((parts / RUN / "summary.json").read_text())
    assert resumed["test"] == pytest.approx(summary["test"]) and resumed["epochs_run"] == 2
    for name, value in load_state(parts / RUN / MODEL_FILE, "").items():
        np.testing.assert_array_equal(value.numpy(), best[name].numpy(), err_msg=name)
    # evaluate and a loaded model score with the saved graph
    assert cli.main(["evaluate", "--run_dir", str(whole / RUN), "--quiet"]) == 0
    model = load_model(cfg, whole / RUN)
    np.testing.assert_array_equal(model.global_neighbors.numpy(), expected.neighbors)


@pytest.mark.slow
@pytest.mark.cli
def test_refit_builds_its_graph_from_training_and_validation_and_predict_uses_each(walk, tmp_path):
    exp = tmp_path / "exp"
    assert cli.main(["train", "--data_dir", str(walk), "--exp_dir", str(exp), *FAST, "--epochs", "2",
                     "--refit"]) == 0
    cfg, summary = load_run(exp / RUN)
    assert "test_refit" in summary
    data = get_protocol("paper").load_data(cfg, walk)
    refit = load_state(exp / RUN / "refit" / MODEL_FILE, "")
    expected = _graph_of(data.train_all, cfg.n_items)
    np.testing.assert_array_equal(refit["global_neighbors"].numpy(), expected.neighbors)
    np.testing.assert_array_equal(refit["global_weights"].numpy(), expected.weights)
    selected = load_state(exp / RUN / MODEL_FILE, "")
    assert (selected["global_weights"].numpy() != refit["global_weights"].numpy()).any()
    # predict: the selected model and, with --refit, the refit one, each with its own graph
    sessions = [[3, 4, 5], [9], [20, 21, 22, 23]]
    csv = tmp_path / "sessions.csv"
    csv.write_text("session\n" + "".join(f'"{s}"\n' for s in sessions))
    for flags, folder in (([], exp / RUN), (["--refit"], exp / RUN / "refit")):
        out = tmp_path / f"out{len(flags)}.csv"
        assert cli.main(["predict", "--run_dir", str(exp / RUN), "--input", str(csv), "--out", str(out), "--topk",
                         "3", "--quiet", *flags]) == 0
        model = load_model(cfg, folder)
        model.eval()
        with paddle.no_grad():
            top = np.argsort(-model.full_scores(_batch(sessions)).numpy(), axis=1, kind="stable")[:, :3]
        predictions = pd.read_csv(out)["prediction"]
        assert [json.loads(text) for text in predictions] == top.tolist()


@pytest.mark.slow
@pytest.mark.cli
def test_the_notebook_protocol_builds_the_graph_of_the_training_users(tmp_path):
    from srgnn_paddle.synthetic import generate_synthetic

    data = tmp_path / "tiny"
    generate_synthetic(data, seed=5, n_users=150, n_items=60, n_categories=4)
    exp = tmp_path / "exp"
    assert cli.main(["train", "--model", "gcegnn", "--targets", "all", "--data_dir", str(data), "--exp_dir", str(exp),
                     "--epochs", "1", "--batch_size", "32", "--embedding_dim", "8", "--quiet", "--no-tsne"]) == 0
    run = exp / "tiny_softmax" / "GCEGNN_0.0001_32_8_all"
    cfg, summary = load_run(run)
    assert 0 <= summary["test"]["recall@50"] <= 1
    expected = _graph_of(get_protocol("notebook").load_data(cfg, data).train, cfg.n_items)
    assert expected.weights.any()
    np.testing.assert_array_equal(load_state(run / MODEL_FILE, "")["global_neighbors"].numpy(), expected.neighbors)
