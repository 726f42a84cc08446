"""GNN cell and SRGNN layer (spec notebook.md §4-5) against numpy, checkpoints, a tiny training run."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import paddle
import pytest

from srgnn_paddle.data import Batch, SequenceDataset, make_loader
from srgnn_paddle.data.graph import build_packed_graph, build_session_graph
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.models import GNN, SRGNN, softmax_cross_entropy
from srgnn_paddle.evaluation.retrieval import evaluate_model

D = 8
N_ITEMS = 40


def expected_shapes(n_items, d):
    """Every parameter of the notebook's model, by its state-dict name (Paddle layout)."""
    return {
        "item_emb.weight": [n_items, d],
        "gnn.w_ih": [2 * d, 3 * d],
        "gnn.w_hh": [d, 3 * d],
        "gnn.b_ih": [3 * d],
        "gnn.b_hh": [3 * d],
        "gnn.b_iah": [d],
        "gnn.b_ioh": [d],
        "gnn.linear_edge_in.weight": [d, d],
        "gnn.linear_edge_in.bias": [d],
        "gnn.linear_edge_out.weight": [d, d],
        "gnn.linear_edge_out.bias": [d],
        "linear_one.weight": [d, d],
        "linear_one.bias": [d],
        "linear_two.weight": [d, d],
        "linear_two.bias": [d],
        "linear_three.weight": [d, 1],
        "linear_transform.weight": [2 * d, d],
        "linear_transform.bias": [d],
    }


def make_model(seed=0, **options):
    paddle.seed(seed)
    cfg = {"n_items": N_ITEMS, "embedding_dim": D, "step": 2, **options}
    return SRGNN(cfg)


def randomize(layer, seed):
    """Give every parameter (biases too, which default to zero) a random non-trivial value."""
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.set_value(rng.uniform(-0.6, 0.6, size=p.shape).astype("float32"))


def params(layer):
    return {k: v.numpy().astype(np.float64) for k, v in layer.state_dict().items()}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_gnn(adj, h, p, step, prefix="gnn."):
    """Spec §4, one cell repeated ``step`` times, in float64."""
    d = h.shape[-1]
    length = adj.shape[1]
    for _ in range(step):
        e_in = h @ p[prefix + "linear_edge_in.weight"] + p[prefix + "linear_edge_in.bias"]
        e_out = h @ p[prefix + "linear_edge_out.weight"] + p[prefix + "linear_edge_out.bias"]
        inp = adj[:, :, :length] @ e_in + p[prefix + "b_iah"]
        out = adj[:, :, length:] @ e_out + p[prefix + "b_ioh"]
        a = np.concatenate([inp, out], -1)
        gi = a @ p[prefix + "w_ih"] + p[prefix + "b_ih"]
        gh = h @ p[prefix + "w_hh"] + p[prefix + "b_hh"]
        r = sigmoid(gi[..., :d] + gh[..., :d])
        z = sigmoid(gi[..., d:2 * d] + gh[..., d:2 * d])
        n = np.tanh(gi[..., 2 * d:] + r * gh[..., 2 * d:])
        h = (1 - z) * h + z * n
    return h


def np_srgnn(seq, p, step):
    """Spec §5 readout in float64. Returns (user_emb, a)."""
    g = build_session_graph(seq)
    emb = p["item_emb.weight"][g.items]
    emb[g.items == 0] = 0.0  # Embedding(padding_idx=0) looks padding up as zeros
    hidden = np_gnn(g.A.astype(np.float64), emb, p, step)
    b_idx = np.arange(seq.shape[0])[:, None]
    seq_hidden = hidden[b_idx, g.alias_inputs]  # [B, L, D]
    last = g.mask.sum(1).astype(int) - 1
    ht = seq_hidden[np.arange(seq.shape[0]), last]  # [B, D]
    q1 = ht @ p["linear_one.weight"] + p["linear_one.bias"]
    q2 = seq_hidden @ p["linear_two.weight"] + p["linear_two.bias"]
    alpha = sigmoid(q1[:, None, :] + q2) @ p["linear_three.weight"]  # [B, L, 1]
    a = (alpha * seq_hidden * g.mask[:, :, None]).sum(1)
    user = np.concatenate([a, ht], -1) @ p["linear_transform.weight"] + p["linear_transform.bias"]
    return user, a


def np_cross_entropy(logits, target):
    logits = logits - logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return float(-logp[np.arange(len(target)), target].mean())


# Histories of varied shape: padded, full length (no padding), repeats, single item.
SEQ = np.array([
    [3, 7, 3, 9, 0, 0],
    [1, 2, 3, 4, 5, 6],
    [5, 0, 0, 0, 0, 0],
    [8, 8, 8, 2, 0, 0],
    [39, 12, 7, 12, 39, 0],
], dtype=np.int64)
TARGET = np.array([[4], [7], [6], [8], [1]], dtype=np.int64)


# ---------------------------------------------------------------------------- parameters
def test_parameter_names_and_shapes():
    model = make_model()
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert shapes == expected_shapes(N_ITEMS, D)
    gnn = GNN(D, step=2)
    assert {k: list(v.shape) for k, v in gnn.state_dict().items()} == {
        k[len("gnn."):]: v for k, v in expected_shapes(N_ITEMS, D).items() if k.startswith("gnn.")
    }


def test_notebook_named_checkpoint_loads(tmp_path):
    """A checkpoint written by the notebook (plain dict of its names) loads without renaming."""
    rng = np.random.default_rng(3)
    state = {k: rng.normal(size=s).astype("float32") for k, s in expected_shapes(N_ITEMS, D).items()}
    path = tmp_path / "model.pdparams"
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(path))
    model = make_model(seed=1)
    model.set_state_dict(paddle.load(str(path)))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k], err_msg=k)


def test_checkpoint_round_trip_same_outputs(tmp_path):
    model = make_model(seed=1)
    randomize(model, 4)
    path = tmp_path / "model.pdparams"
    paddle.save(model.state_dict(), str(path))
    fresh = make_model(seed=2)
    before = fresh(SEQ, item=TARGET)["loss"].numpy()
    fresh.set_state_dict(paddle.load(str(path)))
    out_a = model(SEQ, item=TARGET)
    out_b = fresh(SEQ, item=TARGET)
    np.testing.assert_array_equal(out_a["user_emb"].numpy(), out_b["user_emb"].numpy())
    np.testing.assert_array_equal(out_a["loss"].numpy(), out_b["loss"].numpy())
    assert before != out_b["loss"].numpy()  # the fresh model really changed


# ---------------------------------------------------------------------------- math
def test_gnn_cell_matches_numpy_step2():
    paddle.seed(0)
    gnn = GNN(D, step=2)
    randomize(gnn, 5)
    g = build_session_graph(SEQ)
    h = np.random.default_rng(6).normal(size=(SEQ.shape[0], SEQ.shape[1], D))
    got = gnn(paddle.to_tensor(g.A), paddle.to_tensor(h.astype("float32"))).numpy()
    p = params(gnn)
    np.testing.assert_allclose(got, np_gnn(g.A.astype(np.float64), h, p, 2, prefix=""), rtol=1e-4, atol=1e-5)
    # step really repeats the cell: one step gives something else
    assert not np.allclose(got, np_gnn(g.A.astype(np.float64), h, p, 1, prefix=""), atol=1e-3)


def test_readout_matches_numpy():
    model = make_model()
    randomize(model, 7)
    out = model(SEQ, item=TARGET)
    user, _ = np_srgnn(SEQ, params(model), step=2)
    np.testing.assert_allclose(out["user_emb"].numpy(), user, rtol=1e-4, atol=1e-5)
    # loss: cross-entropy over all n_items rows (row 0 included)
    scores = user @ params(model)["item_emb.weight"].T
    assert scores.shape[1] == N_ITEMS
    np.testing.assert_allclose(float(out["loss"]), np_cross_entropy(scores, TARGET[:, 0]), rtol=1e-4)


def test_int32_mask_works_and_equals_float_mask():
    model = make_model()
    randomize(model, 8)
    mask = (SEQ > 0)
    seq_t = paddle.to_tensor(SEQ.astype("int32"))  # the notebook's dtypes
    out_int = model(seq_t, paddle.to_tensor(mask.astype("int32")), paddle.to_tensor(TARGET.astype("int32")))
    out_float = model(SEQ, paddle.to_tensor(mask.astype("float32")), TARGET)
    out_none = model(SEQ, None, TARGET)
    for out in (out_int, out_none):
        np.testing.assert_allclose(out["user_emb"].numpy(), out_float["user_emb"].numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(float(out["loss"]), float(out_float["loss"]), rtol=1e-6)


def test_precomputed_graph_equals_item_seq():
    model = make_model()
    randomize(model, 9)
    g = build_session_graph(SEQ)
    from_seq = model(paddle.to_tensor(SEQ), item=TARGET)
    from_graph = model(None, item=TARGET, graph=g)
    from_tensors = model(None, item=TARGET, graph=tuple(paddle.to_tensor(x) for x in g))
    for out in (from_graph, from_tensors):
        np.testing.assert_allclose(out["user_emb"].numpy(), from_seq["user_emb"].numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(float(out["loss"]), float(from_seq["loss"]), rtol=1e-6)
    assert set(model(SEQ, train=False)) == {"user_emb"}
    with pytest.raises(SrgnnError, match="needs the target ids 'item'"):
        model(SEQ, train=True)  # no target
    with pytest.raises(SrgnnError, match="item_seq: .*integer item ids"):
        model(np.array([[1.5, 3.0]]), train=False)  # the notebook's call form raises SrgnnError only


def _outputs_and_grads(model, graph, target):
    user = model.encode_graph(graph)
    loss = softmax_cross_entropy(user, model.item_embeddings(), paddle.to_tensor(target).reshape([-1]),
                                 not model.score_padding)
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters() if p.grad is not None}
    model.clear_gradients()
    return user.numpy(), float(loss), grads


@pytest.mark.parametrize("step,nonhybrid,score_padding", [(1, False, False), (2, False, True), (2, True, False)])
def test_packed_graph_gives_the_dense_graph_vectors_loss_and_gradients(step, nonhybrid, score_padding):
    """The packed layout (real nodes and entries only) computes what the notebook's padded
    layout computes: session vectors, loss and every parameter's gradient."""
    rng = np.random.default_rng(step)
    n_items, length = 30, 9
    lengths = rng.integers(1, length + 1, 48)
    lengths[0] = length  # a full row
    seq = rng.integers(1, n_items, (48, length))
    seq[np.arange(length)[None, :] >= lengths[:, None]] = 0
    seq[1, :4], seq[1, 4:] = 7, 0  # repeats: one node with a self loop
    seq[2, :], seq[3, 1:] = 5, 0  # all identical; a single item
    target = paddle.to_tensor(rng.integers(1, n_items, 48))
    paddle.seed(4)
    model = SRGNN({"n_items": n_items, "embedding_dim": D, "step": step, "nonhybrid": nonhybrid,
                   "score_padding": score_padding, "init": "uniform"})
    dense = _outputs_and_grads(model, build_session_graph(seq), target)
    packed = _outputs_and_grads(model, build_packed_graph(seq), target)
    np.testing.assert_allclose(packed[0], dense[0], rtol=1e-5, atol=1e-6)
    assert packed[1] == pytest.approx(dense[1], rel=1e-6)
    assert set(packed[2]) == set(dense[2])
    for name in dense[2]:
        np.testing.assert_allclose(packed[2][name], dense[2][name], rtol=1e-4, atol=1e-7, err_msg=name)


def test_sparse_item_gradient_equals_the_dense_one():
    """With sparse_item_grad the lookup's gradient is row-sparse; the item table's total
    gradient (lookup + full softmax) is the same dense tensor, the padding row included."""
    rng = np.random.default_rng(8)
    seq = rng.integers(1, N_ITEMS, (16, 6))
    seq[::3, 3:] = 0
    target = paddle.to_tensor(rng.integers(1, N_ITEMS, 16))
    results = []
    for sparse in (True, False):
        paddle.seed(6)
        model = SRGNN({"n_items": N_ITEMS, "embedding_dim": D, "step": 2}, sparse_item_grad=sparse)
        for graph in (build_session_graph(seq), build_packed_graph(seq)):
            results.append(_outputs_and_grads(model, graph, target))
    for other in results[1:]:
        for name, grad in results[0][2].items():
            np.testing.assert_allclose(other[2][name], grad, rtol=1e-4, atol=1e-7, err_msg=name)


def test_uniform_init_bounds():
    d = 16
    paddle.seed(3)
    model = SRGNN({"n_items": 50, "embedding_dim": d, "step": 1, "init": "uniform"})
    bound = 1.0 / math.sqrt(d)
    for name, p in model.state_dict().items():
        v = p.numpy()
        assert np.abs(v).max() <= bound + 1e-7, name
        assert np.abs(v).max() > 0.5 * bound, name  # actually re-drawn (Linear biases start at 0)
    emb = model.item_emb.weight.numpy()
    assert abs(emb.mean()) < 0.05 and 0.8 * bound / math.sqrt(3) < emb.std() < 1.2 * bound / math.sqrt(3)


def test_notebook_init_is_paddle_default():
    paddle.seed(3)
    model = SRGNN({"n_items": 50, "embedding_dim": 16, "step": 1})
    sd = model.state_dict()
    for name in ("linear_one.bias", "linear_two.bias", "linear_transform.bias",
                 "gnn.linear_edge_in.bias", "gnn.linear_edge_out.bias"):
        assert not sd[name].numpy().any(), name  # Linear biases: zeros
    for name in ("gnn.b_ih", "gnn.b_hh", "gnn.b_iah", "gnn.b_ioh", "gnn.w_ih"):
        assert np.abs(sd[name].numpy()).max() > 0, name  # create_parameter: Xavier-uniform


def test_score_padding_false_scores_items_1_to_n():
    model = make_model(score_padding=False)
    randomize(model, 10)
    out = model(SEQ, item=TARGET)
    user = out["user_emb"].numpy().astype(np.float64)
    weight = params(model)["item_emb.weight"]
    scores = model.full_scores(Batch(SEQ, (SEQ > 0).astype("float32"), TARGET)).numpy()
    assert scores.shape == (SEQ.shape[0], N_ITEMS)
    # column c is item c; the padding column can never win (it is masked to -1e9)
    np.testing.assert_allclose(scores[:, 1:], user @ weight[1:].T, rtol=1e-4, atol=1e-5)
    assert (scores[:, 0] < -1e8).all()
    # the loss is the softmax over items 1..n-1 with targets shifted by one
    expected = np_cross_entropy(user @ weight[1:].T, TARGET[:, 0] - 1)
    np.testing.assert_allclose(float(out["loss"]), expected, rtol=1e-5)
    # the notebook setting scores row 0 too, so its loss differs on the same weights
    notebook = make_model(score_padding=True)
    notebook.set_state_dict(model.state_dict())
    assert abs(float(notebook(SEQ, item=TARGET)["loss"]) - expected) > 1e-4
    np.testing.assert_allclose(float(notebook(SEQ, item=TARGET)["loss"]),
                               np_cross_entropy(user @ weight.T, TARGET[:, 0]), rtol=1e-5)


def test_nonhybrid_returns_attention_vector():
    model = make_model(nonhybrid=True)
    randomize(model, 11)
    user, a = np_srgnn(SEQ, params(model), step=2)
    got = model(SEQ, train=False)["user_emb"].numpy()
    np.testing.assert_allclose(got, a, rtol=1e-4, atol=1e-5)
    assert not np.allclose(got, user, atol=1e-3)


def test_output_items_is_item_embedding():
    model = make_model()
    assert model.output_items() is model.item_emb.weight


def test_bad_model_options():
    with pytest.raises(SrgnnError, match="n_items >= 2"):
        SRGNN({"n_items": 1, "embedding_dim": 4})
    with pytest.raises(SrgnnError, match="'init' must be one of"):
        SRGNN({"n_items": 10, "embedding_dim": 4, "init": "kaiming"})
    with pytest.raises(SrgnnError, match="must be a Config or a dict"):
        SRGNN(["n_items", 10])
    assert SRGNN({"n_items": 10, "Epoch": 100}).embedding_dim == 16  # the notebook's loop settings are not the model's


# ---------------------------------------------------------------------------- training
def chain_frame(users, length, n_chain, start_user=1):
    """Each user walks the cycle 1 -> 2 -> ... -> n_chain -> 1 from its own start item."""
    rows = []
    for u in range(users):
        start = (u * 7) % n_chain
        for t in range(length):
            rows.append((start_user + u, (start + t) % n_chain + 1, 1000 + t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def test_tiny_model_learns_a_cyclic_chain():
    n_chain = 30
    n_items = n_chain + 1
    train_df = chain_frame(90, 12, n_chain)
    test_df = chain_frame(30, 5, n_chain, start_user=500)  # k = 4, ground truth = the next item
    cfg = {"n_items": n_items, "embedding_dim": 16, "step": 1, "max_length": 8, "seed": 0}
    train_ds = SequenceDataset(cfg, train_df, "train")
    test_ds = SequenceDataset(cfg, test_df, "test")
    assert all(len(gt) == 1 for gt in test_ds.get_test_gd().values())
    train_loader = make_loader(train_ds, 30, shuffle=True, seed=0)
    test_loader = make_loader(test_ds, 16)

    paddle.seed(0)
    model = SRGNN(cfg)
    opt = paddle.optimizer.Adam(learning_rate=1e-2, parameters=model.parameters())
    before = evaluate_model(model, test_loader, 16, topN=3)
    losses = []
    for epoch in range(25):
        train_loader.batch_view.set_epoch(epoch)
        total = 0.0
        for batch in train_loader:
            out = model(batch.history, batch.mask, batch.target, graph=batch.graph)
            out["loss"].backward()
            opt.step()
            opt.clear_grad()
            total += float(out["loss"])
        losses.append(total / len(train_loader))
    after = evaluate_model(model, test_loader, 16, topN=3)
    assert losses[-1] < 0.3 * losses[0], losses
    assert after["recall@3"] >= 0.9, after
    assert before["recall@3"] < 0.5, before
