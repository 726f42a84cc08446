"""LESSR (srgnn_paddle/models/lessr.py) and its graphs (srgnn_paddle/data/lessr_graphs.py):
the vectorised EOP multigraph and shortcut graph against a slow, obviously correct loop on
hand-made sessions (repeated items, length-1 sessions, batches without a transition); the
model's session vectors against a numpy loop over nodes and edges (a GRU step by step over
each node's in-neighbours in time order, the attentions edge by edge); the projected item
table, the initialisation, batch normalisation and dropout; the layer count and the paper
config; training through the CLI and the export served by cosine as its recall was. (The shared
contract checks are in test_contract.py; learning a chain, in test_session_models.py.)"""
from __future__ import annotations

import json
import warnings

import numpy as np
import paddle
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.data import Batch, SessionDataset, augment_prefixes, make_loader
from srgnn_paddle.data.lessr_graphs import LessrGraphs, build_lessr_graphs
from srgnn_paddle.models import MODELS, build_model
from srgnn_paddle.models.lessr import EOPA, SGAT, NodeBatchNorm
from srgnn_paddle.evaluation.retrieval import l2_normalize
from srgnn_paddle.runs import load_model, load_run
from srgnn_paddle.serving import SessionRecommender
from srgnn_paddle.synthetic import generate_synthetic

N_ITEMS = 30
SESSIONS = [[1, 2, 1, 3, 1], [7], [4, 4], [5, 6, 7, 8], [9, 9, 2, 4], [3, 1, 3, 1, 3, 1], [12]]


def _padded(sessions, width=None):
    width = width or max(len(s) for s in sessions)
    return np.array([list(s) + [0] * (width - len(s)) for s in sessions], dtype=np.int64)


# ---------------------------------------------------------------------------- the graphs
def _slow_graphs(sessions):
    """Per session, in plain Python: its sorted distinct items, every node's in-neighbours in
    the order of the transitions (EOP multigraph) and the set of shortcut edges (src, dst)
    for every pair of positions i <= j, in the session's own node numbers."""
    graphs = []
    for s in sessions:
        items = sorted(set(s))
        node = {item: k for k, item in enumerate(items)}
        in_lists = [[] for _ in items]
        for t in range(len(s) - 1):
            in_lists[node[s[t + 1]]].append(node[s[t]])
        shortcut = {(node[s[i]], node[s[j]]) for i in range(len(s)) for j in range(i, len(s))}
        graphs.append((items, in_lists, shortcut, node[s[-1]]))
    return graphs


def _check_against_the_loop(sessions, width=None):
    fast = build_lessr_graphs(_padded(sessions, width))
    slow = _slow_graphs(sessions)
    offsets = np.cumsum([0] + [len(items) for items, *_ in slow])
    assert fast.node_items.tolist() == [i for items, *_ in slow for i in items]
    assert fast.node_session.tolist() == [b for b, (items, *_) in enumerate(slow) for _ in items]
    assert fast.last_node.tolist() == [offsets[b] + last for b, (*_, last) in enumerate(slow)]
    in_lists = {int(node): fast.in_neighbours[r, :fast.in_degree[r]].tolist() for r, node in enumerate(fast.in_node)}
    expected = {int(offsets[b] + k): [int(offsets[b] + j) for j in js]
                for b, (_, lists, _, _) in enumerate(slow) for k, js in enumerate(lists) if js}
    assert in_lists == expected  # the nodes with in-edges, each with its sources in time order
    assert (fast.in_neighbours[np.arange(fast.in_neighbours.shape[1])[None, :] >= fast.in_degree[:, None]] == 0).all()
    edges = list(zip(fast.shortcut_src.tolist(), fast.shortcut_dst.tolist()))
    assert edges == sorted(set(edges), key=lambda e: (e[1], e[0]))  # distinct, sorted by (dst, src)
    assert set(edges) == {(offsets[b] + i, offsets[b] + j) for b, (*_, sc, _) in enumerate(slow) for i, j in sc}
    return fast


def test_the_graphs_of_hand_made_sessions():
    g = _check_against_the_loop([[1, 2, 1, 3, 1]])
    # nodes 1, 2, 3; transitions 1->2, 2->1, 1->3, 3->1: node "1" hears from "2" then "3"
    assert g.node_items.tolist() == [1, 2, 3] and g.in_node.tolist() == [0, 1, 2]
    assert g.in_neighbours.tolist() == [[1, 2], [0, 0], [0, 0]] and g.in_degree.tolist() == [2, 1, 1]
    assert list(zip(g.shortcut_src, g.shortcut_dst)) == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (0, 2), (1, 2),
                                                         (2, 2)]
    one = _check_against_the_loop([[7]])  # a length-1 session: a node, its self-loop, no in-edge
    assert one.in_neighbours.shape == (0, 0) and one.shortcut_src.tolist() == one.shortcut_dst.tolist() == [0]
    loop = _check_against_the_loop([[4, 4, 4]])  # parallel self-loops of the multigraph, one shortcut
    assert loop.in_neighbours.tolist() == [[0, 0]] and loop.in_degree.tolist() == [2]
    _check_against_the_loop(SESSIONS, width=8)  # a batch, extra padding


def test_the_graphs_of_random_batches_with_repeats():
    rng = np.random.default_rng(0)
    for _ in range(20):
        sessions = [rng.integers(1, 6, rng.integers(1, 12)).tolist() for _ in range(int(rng.integers(1, 9)))]
        _check_against_the_loop(sessions, width=13)


def test_a_batch_without_transitions_and_bad_histories():
    g = _check_against_the_loop([[3], [3], [5]])
    assert len(g.in_node) == 0 and g.in_neighbours.shape == (0, 0) and len(g.shortcut_src) == 3
    with pytest.raises(ValueError, match="not right-padded"):
        build_lessr_graphs(np.array([[1, 0, 2]]))
    with pytest.raises(ValueError, match="at least one item"):
        build_lessr_graphs(np.array([[1, 2], [0, 0]]))


def test_the_loader_builds_them_for_the_model_layout():
    pairs = SessionDataset(*augment_prefixes(SESSIONS[:5]), n_items=N_ITEMS)
    batch = next(iter(make_loader(pairs, 4, layout=MODELS["lessr"].batch_layout)))
    assert isinstance(batch.graph, LessrGraphs)
    expected = build_lessr_graphs(batch.history)
    for name, value in batch.graph._asdict().items():
        np.testing.assert_array_equal(value, getattr(expected, name), err_msg=name)


# ---------------------------------------------------------------------------- the model against a loop
def _model(num_layers=3, dropout=0.0, init="uniform", seed=3):
    paddle.seed(seed)
    return build_model(Config(model="lessr", n_items=N_ITEMS, embedding_dim=6, num_layers=num_layers,
                              dropout=dropout, init=init))


def _with_running_statistics(model, seed=0):
    """Evaluation mode with running statistics away from 0 / 1 (else batch norm is nearly the identity)."""
    rng = np.random.default_rng(seed)
    model.eval()
    for layer in model.sublayers():
        if isinstance(layer, NodeBatchNorm):
            layer.running_mean.set_value(rng.normal(0, 0.5, layer.running_mean.shape).astype("float32"))
            layer.running_var.set_value(rng.uniform(0.3, 3.0, layer.running_var.shape).astype("float32"))
            layer.weight.set_value(rng.uniform(0.5, 1.5, layer.weight.shape).astype("float32"))
            layer.bias.set_value(rng.normal(0, 0.2, layer.bias.shape).astype("float32"))
    return model


def _np(tensor):
    return tensor.numpy().astype(np.float64)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _bn(layer, x):
    return (x - _np(layer.running_mean)) / np.sqrt(_np(layer.running_var) + 1e-5) * _np(layer.weight) + _np(layer.bias)


def _prelu(layer, x):
    slope = _np(layer.parameters()[0])
    return np.maximum(x, 0) + slope * np.minimum(x, 0)


def _linear(layer, x):
    out = x @ _np(layer.weight)
    return out if layer.bias is None else out + _np(layer.bias)


def _gru(layer, inputs):
    """Paddle's GRU (gate order r, z, c; ``h' = z h + (1 - z) c``) over ``inputs``, from zeros."""
    p = {name: _np(value) for name, value in layer.named_parameters()}
    h = np.zeros(p["weight_hh_l0"].shape[1])
    for x in inputs:
        gi, gh = p["weight_ih_l0"] @ x + p["bias_ih_l0"], p["weight_hh_l0"] @ h + p["bias_hh_l0"]
        size = len(h)
        r = _sigmoid(gi[:size] + gh[:size])
        z = _sigmoid(gi[size:2 * size] + gh[size:2 * size])
        c = np.tanh(gi[2 * size:] + r * gh[2 * size:])
        h = z * h + (1 - z) * c
    return h


def _slow_encode(model, sessions):
    """LESSR's session vectors, one session, node and edge at a time, in float64."""
    weight = _np(model.item_emb.weight)
    table = weight / np.maximum(1.0, np.linalg.norm(weight, axis=1, keepdims=True))
    vectors = []
    for items, in_lists, shortcut, last in _slow_graphs(sessions):
        x = table[items]
        for layer in model.layers:
            f = _bn(layer.batch_norm, x)
            out = []
            for i in range(len(items)):
                if isinstance(layer, EOPA):  # a GRU over the in-neighbours in time order, then two products
                    agg = _gru(layer.gru, [f[j] for j in in_lists[i]]) if in_lists[i] else np.zeros(f.shape[1])
                    out.append(f[i] @ _np(layer.fc_self.weight) + agg @ _np(layer.fc_neigh.weight))
                else:  # SGAT: attention over the shortcut in-edges (j, i)
                    sources = sorted(j for j, k in shortcut if k == i)
                    e = np.array([(_sigmoid(_linear(layer.fc_q, f[j]) + _linear(layer.fc_k, f[i]))
                                   @ _np(layer.fc_e.weight))[0] for j in sources])
                    alpha = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
                    out.append(sum(a * _linear(layer.fc_v, f[j]) for a, j in zip(alpha, sources)))
            x = np.concatenate([_prelu(layer.activation, np.array(out)), x], axis=1)
        r = model.readout
        f = _bn(r.batch_norm, x)
        e = np.array([(_sigmoid(_linear(r.fc_u, f[k]) + _linear(r.fc_v, f[last])) @ _np(r.fc_e.weight))[0]
                      for k in range(len(items))])
        beta = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
        s_g = _prelu(r.activation, (beta[:, None] * f).sum(0) @ _np(r.fc_out.weight))
        s_h = _bn(model.batch_norm, np.concatenate([x[last], s_g])) @ _np(model.fc_sr.weight)
        vectors.append(s_h)
    return np.array(vectors)


@pytest.mark.parametrize("num_layers", [1, 3, 4])
def test_session_vectors_are_the_loop_over_nodes_and_edges(num_layers):
    model = _with_running_statistics(_model(num_layers))
    with paddle.no_grad():
        fast = model.encode(Batch(_padded(SESSIONS, 9), None, None, build_lessr_graphs(_padded(SESSIONS, 9))))
        built_here = model.encode(Batch(_padded(SESSIONS), None, None))  # no graph from the loader: built in encode
    np.testing.assert_allclose(fast.numpy(), _slow_encode(model, SESSIONS), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(built_here.numpy(), fast.numpy(), rtol=1e-6, atol=1e-6)


def test_a_batch_of_length_1_sessions_is_the_loop_too():
    model = _with_running_statistics(_model(4))
    sessions = [[3], [5], [3]]
    with paddle.no_grad():
        fast = model.encode(Batch(_padded(sessions), None, None)).numpy()
    np.testing.assert_allclose(fast, _slow_encode(model, sessions), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast[0], fast[2], rtol=1e-6)


def test_every_parameter_learns_from_a_batch_with_transitions():
    model = _model(4)
    history = _padded(SESSIONS)
    loss = model.calculate_loss(Batch(history, (history > 0).astype("float32"), np.arange(1, len(SESSIONS) + 1)))
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and float(paddle.abs(param.grad).sum()) > 0, name


# ---------------------------------------------------------------------------- table, init, normalisation, dropout
def test_the_item_table_is_the_projection_onto_the_unit_ball():
    model = _model()
    weight = model.item_emb.weight.numpy()
    np.testing.assert_allclose(np.linalg.norm(weight, axis=1), 1.0, rtol=1e-5)  # init uniform: norm 1
    scaled = weight * np.linspace(0.2, 3.0, N_ITEMS)[:, None].astype("float32")
    model.item_emb.weight.set_value(scaled)
    table = model.item_embeddings().numpy()
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    np.testing.assert_allclose(table, scaled / np.maximum(norms, 1.0), rtol=1e-5, atol=1e-7)
    assert model.sparse_parameters() == []  # the lookups gather from the projected table: a dense gradient


def test_the_official_initialisation_and_the_layers():
    model = _model(num_layers=0)  # 0 = the paper's 4 for DIGINETICA: EOPA, SGAT, EOPA, SGAT
    assert [type(layer) for layer in model.layers] == [EOPA, SGAT, EOPA, SGAT]
    assert [layer.fc_self.weight.shape[0] if isinstance(layer, EOPA) else layer.fc_q.weight.shape[0]
            for layer in model.layers] == [6, 12, 18, 24]  # dense connections: (l + 1) D inputs
    assert model.readout.fc_u.weight.shape == [30, 6] and model.fc_sr.weight.shape == [36, 6]
    for layer in model.sublayers():
        if isinstance(layer, NodeBatchNorm):
            assert (layer.weight.numpy() == 1).all() and (layer.bias.numpy() == 0).all()
    slopes = [p.numpy() for name, p in model.named_parameters() if "activation" in name]
    assert len(slopes) == 5 and all((s == np.float32(0.25)).all() for s in slopes)
    bound = 1 / np.sqrt(18)  # layer 2 reads 3 D = 18 features
    for weight in (model.layers[2].fc_self.weight, model.layers[2].gru.weight_ih_l0):
        assert np.abs(weight.numpy()).max() <= bound + 1e-7 and np.abs(weight.numpy()).max() > 0.8 * bound
    notebook = _model(init="notebook")
    assert np.linalg.norm(notebook.item_emb.weight.numpy(), axis=1).max() < 0.9  # Paddle's initialiser


def test_node_batch_norm_is_paddles_batch_norm_without_the_warning():
    ours, paddles = NodeBatchNorm(3), paddle.nn.BatchNorm1D(3)
    x = paddle.to_tensor(np.random.default_rng(0).normal(1.0, 2.0, (7, 3)).astype("float32"))
    with pytest.warns(UserWarning, match="global mean and variance"):
        expected = paddles(x)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(ours(x).numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
    assert not caught
    np.testing.assert_allclose(ours.running_mean.numpy(), 0.1 * x.numpy().mean(0), rtol=1e-5)  # momentum 0.1
    np.testing.assert_allclose(ours.running_mean.numpy(), paddles._mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.running_var.numpy(), paddles._variance.numpy(), rtol=1e-6)
    ours.eval(), paddles.eval()
    np.testing.assert_allclose(ours(x).numpy(), paddles(x).numpy(), rtol=1e-6, atol=1e-6)


def test_training_mode_normalises_with_the_batch_and_drops_features():
    model = _model(dropout=0.2)
    batch = Batch(_padded(SESSIONS), None, None)
    paddle.seed(1)
    first, second = model.encode(batch).numpy(), model.encode(batch).numpy()
    assert np.abs(first - second).max() > 1e-4  # dropout in training
    model.eval()
    with paddle.no_grad():
        a, b = model.encode(batch).numpy(), model.encode(batch).numpy()
        alone = model.encode(Batch(_padded(SESSIONS[:2]), None, None)).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(alone, a[:2], rtol=1e-5, atol=1e-6)  # running statistics: per session
    model.train()
    no_drop = _model(dropout=0.0)
    batch_vectors = no_drop.encode(batch).numpy()
    assert np.abs(no_drop.encode(Batch(_padded(SESSIONS[:2]), None, None)).numpy() - batch_vectors[:2]).max() > 1e-4


# ---------------------------------------------------------------------------- config, CLI, export
def test_the_paper_config():
    cfg = load_config("configs/paper_lessr.yaml")
    assert (cfg.model, cfg.protocol, cfg.embedding_dim, cfg.num_layers, cfg.dropout) == ("lessr", "paper", 32, 4, 0.2)
    assert (cfg.batch_size, cfg.lr, cfg.lr_dc_step, cfg.weight_decay, cfg.epochs) == (512, 1e-3, 0, 0.0, 30)
    assert cfg.init == "uniform" and not cfg.score_padding and cfg.topN == 20


def test_it_trains_in_the_notebook_protocol_and_its_export_recommends_by_cosine_as_the_eager_model(tmp_path):
    data = tmp_path / "tiny"
    generate_synthetic(data, seed=5, n_users=120, n_items=50, n_categories=4)
    exp = tmp_path / "exp"
    argv = ["train", "--model", "lessr", "--data_dir", str(data), "--exp_dir", str(exp), "--epochs", "1",
            "--batch_size", "32", "--embedding_dim", "8", "--num_layers", "2", "--dropout", "0.2", "--lr", "0.01",
            "--quiet", "--no-tsne"]
    assert cli.main(argv) == 0
    run = exp / "tiny_softmax" / "LESSR_0.01_32_8"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == "lessr" and summary["epochs_run"] == 1 and 0 <= summary["test"]["recall@50"] <= 1
    assert cli.main(["export", "--run_dir", str(run), "--out", str(tmp_path / "export")]) == 0
    recommender = SessionRecommender.load(tmp_path / "export")
    sessions = [[3, 7, 3, 9], [12], [5, 6, 7, 8, 9, 10], [40, 2]]  # a repeat, one item, a chain
    got = [answer.items for answer in recommender.recommend(sessions, 5)]
    cfg, _ = load_run(run)
    model = load_model(cfg, run)
    model.eval()
    history = np.zeros((4, 6), dtype=np.int64)
    for row, items in enumerate(sessions):
        history[row, :len(items)] = items
    with paddle.no_grad():
        vectors = model.encode(Batch(history, (history > 0).astype("float32"), None)).numpy()
        table = model.item_embeddings().numpy()
    scores = l2_normalize(vectors) @ l2_normalize(table[1:]).T  # the notebook protocol's recall: cosine
    assert got == (np.argsort(-scores, axis=1, kind="stable")[:, :5] + 1).tolist()
