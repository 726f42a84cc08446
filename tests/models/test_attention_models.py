"""NISER+, GC-SAN and SASRec, and the pieces they share: the packed graph's entry positions and
padded layout against a Python loop over hand-made sessions (repeated items, one-item
sessions, a batch without any transition), the self-attention block against a slow numpy loop
(heads, causal or not, padding), and each model's session vectors against a per-session numpy
reference. (The shared contract checks are in ``test_contract.py``; learning a chain through
the CLI in ``test_session_models.py``; export in ``tests/serving``.)"""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config
from srgnn_paddle.data import Batch, build_packed_graph, build_session_graph
from srgnn_paddle.data.sessions import augment_prefixes, write_session_pickles
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.models import build_model
from srgnn_paddle.models.layers import (PackedHistory, PositionEmbedding, SelfAttentionBlock, attention_bias,
                                        history_positions)

N_ITEMS, D = 30, 8
#: hand-made sessions: repeats (a cycle 1 -> 2 -> 1 -> 3 -> 1), one-item sessions, a self-loop
SESSIONS = [[1, 2, 1, 3, 1], [7], [4, 4], [5, 6, 7, 8], [9]]


def _padded(rows, width=None):
    width = width or max(len(r) for r in rows)
    return np.array([list(r) + [0] * (width - len(r)) for r in rows], dtype=np.int64)


def _batch(rows, width=None, graph=True):
    history = _padded(rows, width)
    return Batch(history, (history > 0).astype("float32"), np.ones(len(rows), dtype=np.int64),
                 build_packed_graph(history) if graph else None)


def _model(name, **options):
    paddle.seed(11)
    model = build_model(Config(model=name, n_items=N_ITEMS, embedding_dim=D, **options))
    model.eval()
    return model


# ---------------------------------------------------------------------------- numpy references
def _linear(x, layer):
    out = x @ layer.weight.numpy().astype(np.float64)
    return out if layer.bias is None else out + layer.bias.numpy()


def _layer_norm(x, layer):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + layer._epsilon) * layer.weight.numpy() + layer.bias.numpy()


def _normalize(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _block(block, x):
    """One SelfAttentionBlock on one unpadded row ``x [n, D]``, position by position and head by head."""
    n, dim = x.shape
    d = dim // block.heads
    q = _layer_norm(x, block.attention_norm)
    queries, keys, values = _linear(q, block.query), _linear(x, block.key), _linear(x, block.value)
    heads = np.zeros((n, dim))
    for h in range(block.heads):
        cols = slice(h * d, (h + 1) * d)
        for t in range(n):
            seen = range(t + 1) if block.causal else range(n)
            scores = np.array([queries[t, cols] @ keys[j, cols] / math.sqrt(d) for j in seen])
            weights = np.exp(scores - scores.max())
            weights /= weights.sum()
            heads[t, cols] = sum(w * values[j, cols] for w, j in zip(weights, seen))
    a = q + _linear(heads, block.output)
    f = _layer_norm(a, block.feed_forward_norm)
    return f + _linear(np.maximum(_linear(f, block.feed_forward_1), 0.0), block.feed_forward_2)


def _entry_nodes(model, session):
    """The gated graph network's vector of every entry of one session, from the dense
    (notebook) graph of that session alone: ``[n, D]``; the item vectors fed in are
    ``model``'s (normalised for NISER)."""
    graph = build_session_graph(_padded([session]))
    emb = model.item_emb(paddle.to_tensor(graph.items))
    if model.name == "niser":
        emb = paddle.nn.functional.normalize(emb, axis=-1)
    with paddle.no_grad():
        nodes = model.gnn(paddle.to_tensor(graph.A), emb).numpy()[0].astype(np.float64)
    return nodes[graph.alias_inputs[0]]


# ---------------------------------------------------------------------------- shared pieces
@pytest.mark.parametrize("rows", [SESSIONS, [[3], [5], [3]], [[2, 2, 2]]], ids=["mixed", "no_transition", "one"])
def test_packed_entries_positions_and_padded_layout_match_a_loop(rows):
    graph = build_packed_graph(_padded(rows))
    history = PackedHistory(graph)
    n_entries = sum(len(r) for r in rows)
    values = np.random.default_rng(0).normal(size=(n_entries, 3)).astype("float32")
    expected_positions, expected_last, expected_padded = [], [], np.zeros((len(rows), max(map(len, rows)), 3))
    k = 0
    for b, row in enumerate(rows):
        for t in range(len(row)):
            expected_positions.append(t)
            expected_padded[b, t] = values[k]
            k += 1
        expected_last.append(values[k - 1])
    assert history.lengths().numpy().tolist() == [len(r) for r in rows]
    assert history.entry_positions().numpy().tolist() == expected_positions
    np.testing.assert_array_equal(history.last_entry(paddle.to_tensor(values)).numpy(), np.array(expected_last))
    padded, mask = history.padded(paddle.to_tensor(values))
    np.testing.assert_array_equal(padded.numpy(), expected_padded)
    np.testing.assert_array_equal(mask.numpy(), _padded(rows) > 0)
    # the node of every entry, in order: entry t of a session is the node of its item
    nodes = np.asarray(graph.node_items)[np.asarray(graph.pos_node)]
    assert nodes.tolist() == [i for r in rows for i in r]


def test_history_positions_count_from_the_first_item_and_clip():
    mask = paddle.to_tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(history_positions(mask).numpy(), [[0, 1, 2, 3], [0, 1, 2, 3]])
    table = PositionEmbedding(3, 4)
    rows = table(paddle.to_tensor([0, 1, 2, 3, 7])).numpy()
    np.testing.assert_array_equal(rows[3:], rows[[2, 2]])  # positions >= 3 share the last row
    np.testing.assert_array_equal(rows[:3], table.weight.numpy())


def test_attention_bias_masks_padding_and_the_future():
    mask = paddle.to_tensor([[1.0, 1.0, 0.0]])
    allowed = attention_bias(mask, causal=True).numpy()[0, 0] == 0
    np.testing.assert_array_equal(allowed, [[1, 0, 0], [1, 1, 0], [1, 1, 0]])
    allowed = attention_bias(mask, causal=False).numpy()[0, 0] == 0
    np.testing.assert_array_equal(allowed, [[1, 1, 0]])  # every query: the real keys


@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "whole_row"])
def test_self_attention_block_matches_a_loop_and_ignores_padding(heads, causal):
    paddle.seed(5)
    block = SelfAttentionBlock(D, heads, 0.0, causal)
    block.eval()
    rows = [np.random.default_rng(n).normal(size=(n, D)) for n in (3, 1, 5)]
    width = 7  # more padding than the longest row
    x = np.zeros((len(rows), width, D), dtype="float32")
    mask = np.zeros((len(rows), width), dtype="float32")
    for b, row in enumerate(rows):
        x[b, :len(row)], mask[b, :len(row)] = row, 1.0
    with paddle.no_grad():
        out = block(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy()
    for b, row in enumerate(rows):
        np.testing.assert_allclose(out[b, :len(row)], _block(block, row), rtol=1e-4, atol=1e-5, err_msg=f"row {b}")
        assert not out[b, len(row):].any()


def test_self_attention_heads_must_divide_the_dimension():
    with pytest.raises(SrgnnError, match="num_heads 3 must divide embedding_dim 8"):
        build_model(Config(model="sasrec", n_items=N_ITEMS, embedding_dim=D, num_heads=3))
    with pytest.raises(SrgnnError, match="'gcsan_weight' must be in \\[0, 1\\], got 1.5"):
        Config.from_dict({"gcsan_weight": 1.5})
    with pytest.raises(SrgnnError, match="'max_positions' must be >= 0"):
        Config.from_dict({"max_positions": -1})


def test_uniform_init_keeps_layer_norms_at_one_and_zero():
    model = _model("sasrec", init="uniform")
    for name, value in model.state_dict().items():
        if "norm" in name:
            np.testing.assert_array_equal(value.numpy(), 1.0 if name.endswith("weight") else 0.0, err_msg=name)
        else:
            assert 0 < np.abs(value.numpy()).max() <= 1 / math.sqrt(D) + 1e-7, name


# ---------------------------------------------------------------------------- NISER+
def _niser_reference(model, session):
    v = _entry_nodes(model, session) + model.position_emb.weight.numpy()[np.minimum(np.arange(len(session)),
                                                                                     model.position_emb.n_positions - 1)]
    s_l = v[-1]
    alpha = _linear(1.0 / (1.0 + np.exp(-(_linear(s_l, model.linear_one) + _linear(v, model.linear_two)))),
                    model.linear_three)  # [n, 1]
    s = _linear(np.concatenate([(alpha * v).sum(0), s_l]), model.linear_transform)
    return model.scale * _normalize(s)


@pytest.mark.parametrize("max_positions", [0, 2])
def test_niser_session_vectors_match_a_per_session_reference(max_positions):
    model = _model("niser", max_positions=max_positions)
    assert model.scale == 16.0 and model.position_emb.n_positions == (max_positions or 50)
    with paddle.no_grad():
        fast = model.encode(_batch(SESSIONS, width=7)).numpy()
    slow = np.array([_niser_reference(model, s) for s in SESSIONS])
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 16.0, rtol=1e-5)


def test_niser_scores_are_scale_times_cosines():
    model = _model("niser", scale=10.0)
    batch = _batch(SESSIONS)
    items = model.item_embeddings().numpy()
    np.testing.assert_allclose(np.linalg.norm(items[1:], axis=1), 1.0, rtol=1e-5)
    assert not items[0].any()  # the padding row stays the zero vector
    table = model.item_emb.weight.numpy()
    with paddle.no_grad():
        session = model.encode(batch).numpy()
        scores = model.full_scores(batch).numpy()
    cosines = _normalize(session) @ _normalize(table).T
    np.testing.assert_allclose(scores[:, 1:], 10.0 * cosines[:, 1:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["niser", "gcsan", "sasrec"])
def test_dropout_acts_in_training_only(name):
    model = _model(name, dropout=0.5)
    model.train()
    batch = _batch(SESSIONS, graph=model.batch_layout == "session_graph")
    paddle.seed(1)
    first, second = model.encode(batch).numpy(), model.encode(batch).numpy()
    assert np.abs(first - second).max() > 1e-4
    model.eval()
    with paddle.no_grad():
        np.testing.assert_array_equal(model.encode(batch).numpy(), model.encode(batch).numpy())


# ---------------------------------------------------------------------------- GC-SAN
def _gcsan_reference(model, session):
    h = _entry_nodes(model, session)  # H: [n, D]
    e = h
    for block in model.blocks:
        e = _block(block, e)
    return model.weight * e[-1] + (1 - model.weight) * h[-1]


@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "num_heads": 2, "gcsan_weight": 0.3}],
                         ids=["paper", "two_blocks_two_heads"])
def test_gcsan_session_vectors_match_a_per_session_reference(options):
    model = _model("gcsan", **options)
    assert len(model.blocks) == options.get("num_layers", 1) and model.blocks[0].heads == options.get("num_heads", 1)
    assert not model.blocks[0].causal  # the paper attends over the whole session
    with paddle.no_grad():
        fast = model.encode(_batch(SESSIONS, width=6)).numpy()
    slow = np.array([_gcsan_reference(model, s) for s in SESSIONS])
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)


def test_gcsan_weight_zero_is_the_last_node_and_one_the_attention():
    batch = _batch(SESSIONS)
    with paddle.no_grad():
        nodes_only = _model("gcsan", gcsan_weight=0.0)
        np.testing.assert_allclose(nodes_only.encode(batch).numpy(),
                                   np.array([_entry_nodes(nodes_only, s)[-1] for s in SESSIONS]), rtol=1e-4, atol=1e-6)
        attention_only = _model("gcsan", gcsan_weight=1.0)
        expected = [_block(attention_only.blocks[0], _entry_nodes(attention_only, s))[-1] for s in SESSIONS]
        np.testing.assert_allclose(attention_only.encode(batch).numpy(), np.array(expected), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- SASRec
def _sasrec_reference(model, session):
    """``F^(b)`` of every position of one unpadded session: ``[n, D]``."""
    n = len(session)
    positions = np.minimum(np.arange(n), model.position_emb.n_positions - 1)
    x = model.item_emb.weight.numpy()[session] * math.sqrt(D) + model.position_emb.weight.numpy()[positions]
    for block in model.blocks:
        x = _block(block, x)
    return _layer_norm(x, model.last_norm)


@pytest.mark.parametrize("max_positions", [0, 3])
def test_sasrec_every_position_matches_a_per_session_reference(max_positions):
    model = _model("sasrec", max_positions=max_positions)
    assert len(model.blocks) == 2 and model.blocks[0].heads == 1 and model.blocks[0].causal
    batch = _batch(SESSIONS, width=8, graph=False)
    with paddle.no_grad():
        positions = model.encode_positions(batch).numpy()
        last = model.encode(batch).numpy()
    for b, session in enumerate(SESSIONS):
        slow = _sasrec_reference(model, session)
        np.testing.assert_allclose(positions[b, :len(session)], slow, rtol=1e-4, atol=1e-5, err_msg=f"row {b}")
        np.testing.assert_allclose(last[b], slow[-1], rtol=1e-4, atol=1e-5)
        assert not positions[b, len(session):].any()


# ---------------------------------------------------------------------------- through the CLI
def test_a_bad_head_count_is_one_error_line(tmp_path, capsys):
    sessions = [[1 + k % 5, 2 + k % 7, 3] for k in range(30)]
    write_session_pickles(tmp_path / "data", sessions, augment_prefixes(sessions), augment_prefixes([[1, 2]]))
    argv = ["train", "--model", "gcsan", "--protocol", "paper", "--data_dir", str(tmp_path / "data"), "--exp_dir",
            str(tmp_path / "exp"), "--embedding_dim", "10", "--num_heads", "4", "--epochs", "1", "--quiet"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: num_heads 4 must divide embedding_dim 10 (each head has embedding_dim / num_heads "
                   "dimensions); choose another --num_heads or --embedding_dim"]


@pytest.mark.cli
@pytest.mark.slow
@pytest.mark.parametrize("name", ["niser", "gcsan", "sasrec"])
def test_the_paper_config_trains_through_the_cli(name, tmp_path):
    """``train --model NAME --config configs/paper_NAME.yaml`` (a tiny folder, one epoch, a small D)."""
    import json
    from pathlib import Path

    rng = np.random.default_rng(0)
    sessions = [rng.integers(1, 40, rng.integers(2, 8)).tolist() for _ in range(200)]
    write_session_pickles(tmp_path / "data", sessions, augment_prefixes(sessions),
                          augment_prefixes([rng.integers(1, 40, 4).tolist() for _ in range(30)]))
    config = Path(__file__).resolve().parents[2] / "configs" / f"paper_{name}.yaml"
    argv = ["train", "--model", name, "--config", str(config), "--data_dir", str(tmp_path / "data"), "--exp_dir",
            str(tmp_path / "exp"), "--epochs", "1", "--embedding_dim", "8", "--quiet", "--no-tsne"]
    assert cli.main(argv) == 0
    (summary,) = (tmp_path / "exp").rglob("summary.json")
    result = json.loads(summary.read_text())
    assert result["model"] == name and result["epochs_run"] == 1 and 0 <= result["test"]["P@20"] <= 100
    assert summary.parent.name.endswith("_all") == (name == "sasrec")  # SASRec trains every position


@pytest.mark.cli
@pytest.mark.slow
@pytest.mark.parametrize("name,targets", [("niser", "last"), ("gcsan", "last"), ("sasrec", "last"), ("sasrec", "all")])
def test_the_notebook_protocol_trains_each_model(name, targets, tmp_path):
    from srgnn_paddle.synthetic import generate_synthetic

    generate_synthetic(tmp_path / "tiny", seed=5, n_users=150, n_items=60, n_categories=4)
    argv = ["train", "--model", name, "--targets", targets, "--data_dir", str(tmp_path / "tiny"), "--exp_dir",
            str(tmp_path / "exp"), "--epochs", "1", "--batch_size", "32", "--embedding_dim", "8", "--lr", "0.01",
            "--quiet", "--no-tsne"]
    assert cli.main(argv) == 0
    assert len(list((tmp_path / "exp" / "tiny_softmax").glob("*/summary.json"))) == 1
