"""The model contracts: every registered model passes the checks of its contract (shared
mixins, in the spirit of implicit's test classes): :class:`ContractChecks` for what every
model offers, :class:`TrainedChecks` for the trained ones (srgnn_paddle.models.base.Recommender),
:class:`CountedChecks` for the counted ones (srgnn_paddle.models.counts.CountModel); within a
contract a check is skipped only where the model's declarations exclude it (no positions in
the ``pairs`` layout, no inner products with ``inner_product = False``). Which GEMMs of every
model run on the host kernel is listed in :data:`HOST_GEMMS`. A model written as the README
shows trains end to end through the CLI."""
from __future__ import annotations

import json
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.data import Batch, PairBatch, SessionDataset, augment_prefixes
from srgnn_paddle.data.datasets import next_item_targets
from srgnn_paddle.data.loaders import GRAPH_BUILDERS, graph_for_layout
from srgnn_paddle.kernels import HostKernels, Kernels, has_sparse_gradients, kernel_linears
from srgnn_paddle.models import BATCH_LAYOUTS, MODELS, CountModel, Recommender, build_model, model_class
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.layers import history_tensors
from srgnn_paddle.models.sequence import SessionModel
from srgnn_paddle.models.srgnn import GNN
from srgnn_paddle.synthetic import generate_synthetic

N_ITEMS, N_USERS, D = 40, 6, 8
HISTORY = np.array([[3, 5, 7, 0], [9, 9, 2, 4], [11, 0, 0, 0], [6, 1, 8, 0], [30, 31, 32, 33]])
TARGET = np.array([[4], [7], [12], [2], [39]])
#: training sessions for the models that count (trainable = False) instead of training
SESSIONS = [[3, 5, 7, 4], [9, 2, 4, 7], [11, 12], [6, 1, 8, 2], [30, 31, 32, 33, 39], [5, 7, 9], [2, 4]]


USERS = np.array([0, 5, 2, 2, 1])  # pairs layout: the users of the rows, labels 1 0 1 1 0
LABELS = np.array([1, 0, 1, 1, 0], dtype="float32")


def _batch(model: Recommender, history: np.ndarray = HISTORY, target: np.ndarray = TARGET,
           position_targets: np.ndarray | None = None):
    if model.batch_layout == "pairs":
        return PairBatch(USERS, TARGET.reshape(-1), LABELS)
    builder = graph_for_layout(model.batch_layout)
    graph = None if builder is None else GRAPH_BUILDERS[builder](history)
    return Batch(history, (history > 0).astype("float32"), target, graph, position_targets)


def _prefix_pairs(history: np.ndarray, target: np.ndarray):
    """Every (prefix, next item) pair of the padded rows, as separate samples: the prefix
    augmentation of the sessions ``history[b] + [target[b]]`` (row by row, shortest first)."""
    prefixes, labels = [], []
    for row, label in zip(history, target.reshape(-1)):
        items = [int(i) for i in row if i > 0] + [int(label)]
        for end in range(1, len(items)):
            prefixes.append(items[:end] + [0] * (history.shape[1] - end))
            labels.append(items[end])
    return np.array(prefixes, dtype=np.int64), np.array(labels, dtype=np.int64)


def _expected_loss(model: Recommender, batch) -> float:
    """The loss a model of this layout must compute, from its own scores in float64: the
    full softmax cross-entropy of the targets, or (pairs) the log loss of the pairs' logits."""
    if model.batch_layout == "pairs":
        logits = model.score_items(batch, TARGET).numpy().astype(np.float64)[:, 0]
        p = 1.0 / (1.0 + np.exp(-logits))
        return float(-(LABELS * np.log(p) + (1 - LABELS) * np.log(1 - p)).mean())
    scores = model.full_scores(batch).numpy().astype(np.float64)
    log_p = scores - scores.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(TARGET)), TARGET[:, 0]].mean())


class ContractChecks:
    """What the trainer, evaluators and retrieval rely on for every model; a subclass sets ``model_name``."""

    model_name = ""

    @pytest.fixture(params=[True, False], ids=["score_padding", "paper_scoring"])
    def model(self, request) -> Recommender:
        return self.build(request.param, seed=7)

    def build(self, score_padding: bool, seed: int) -> Recommender:
        """A fresh model (seeded), counted on :data:`SESSIONS` when it is not trained; in
        training mode with its dropout layers at p = 0 (NARM's published dropouts would make
        repeated calls different functions; eval mode would not do: Paddle's fused GRU has no
        backward there)."""
        paddle.seed(seed)
        cfg = Config(model=self.model_name, n_items=N_ITEMS, n_users=N_USERS, embedding_dim=D,
                     mlp_layers="12,8,4", score_padding=score_padding)
        model = build_model(cfg)
        if not model.trainable:
            model.fit(SessionDataset(*augment_prefixes(SESSIONS), N_ITEMS).sessions())
            return model
        for layer in model.sublayers():
            if isinstance(layer, nn.Dropout):
                layer.p = 0.0
        return model

    def test_declarations(self, model):
        assert MODELS[model.name] is type(model) and model.display_name
        assert model.batch_layout in BATCH_LAYOUTS and isinstance(model.inner_product, bool)
        assert isinstance(model.trainable, bool) and model.n_items == N_ITEMS
        assert isinstance(model, Recommender if model.trainable else CountModel)  # the contract it declares

    def test_shapes(self, model):
        batch = _batch(model)
        assert model.targets(batch).numpy().tolist() == TARGET.reshape(-1).tolist()
        scores = model.full_scores(batch)
        assert scores.shape == [len(HISTORY), N_ITEMS] and scores.dtype == paddle.float32

    def test_host_gemms_are_the_listed_ones(self, model):
        """The model's kernels ``Linear`` layers are those of :data:`HOST_GEMMS`, and a
        training loss (or a scoring pass) under the host kernels runs exactly their GEMMs there."""
        expected = HOST_GEMMS[self.model_name]
        assert [name for name, _ in kernel_linears(model)] == expected
        owner = {id(layer.weight): name for name, layer in kernel_linears(model)}
        cells = [(name, layer) for name, layer in model.named_sublayers() if isinstance(layer, GNN)] if isinstance(
            model, nn.Layer) else []
        for cell, gnn in cells:  # the gated graph cell's gate GEMMs run there too
            owner.update({id(gnn.w_ih): f"{cell}.w_ih", id(gnn.w_hh): f"{cell}.w_hh"})
        used = []

        class Recording(HostKernels):
            def linear(self, x, weight, bias):
                used.append(owner[id(weight)])
                return super().linear(x, weight, bias)

        with Recording(1) as kernels, kernels.attach(model):
            if model.trainable:
                model.calculate_loss(_batch(model), kernels.cross_entropy)
            else:
                model.full_scores(_batch(model))
        assert sorted(set(used)) == sorted(expected + [f"{cell}.{w}" for cell, _ in cells for w in ("w_ih", "w_hh")])

    def test_saved_state_gives_the_same_scores(self, model, tmp_path):
        paddle.save(model.state_dict(), str(tmp_path / "model.pdparams"))
        other = build_model(Config(model=self.model_name, n_items=N_ITEMS, n_users=N_USERS, embedding_dim=D,
                                   mlp_layers="12,8,4", score_padding=model.score_padding))  # other weights, or nothing counted
        other.set_state_dict(paddle.load(str(tmp_path / "model.pdparams")))
        model.eval(), other.eval()
        np.testing.assert_array_equal(other.full_scores(_batch(model)).numpy(), model.full_scores(_batch(model)).numpy())

    def test_ranks_are_the_same_with_either_kernels(self, model):
        batch = _batch(model)
        with paddle.no_grad():
            plain = Kernels().target_ranks(model, batch)
            with HostKernels(2) as host, host.attach(model):
                fast = host.target_ranks(model, batch)
        assert plain.shape == (len(HISTORY),) and plain.min() >= 1
        np.testing.assert_array_equal(fast, plain)

class TrainedChecks(ContractChecks):
    """The trained models' contract (:class:`~srgnn_paddle.models.base.Recommender`)."""

    def test_trained_declarations(self, model):
        assert model.n_parameters() > 0
        assert model.embedding_dim == (D if model.batch_layout != "pairs" else model.item_embeddings().shape[1])
        batch = _batch(model)
        user = model.encode(batch)
        assert user.shape == [len(HISTORY), model.embedding_dim] and user.dtype == paddle.float32
        assert model.item_embeddings().shape == [N_ITEMS, model.embedding_dim]

    def test_sparse_parameters_are_the_declared_ones(self, model):
        """The parameters a model declares row-sparse are those whose lookup gradient is
        row-sparse (the encoder alone: the full softmax adds a dense gradient to the item table)."""
        declared = model.sparse_parameters()
        assert set(declared) <= {name for name, _ in model.named_parameters()}
        model.encode(_batch(model)).sum().backward()
        sparse = [name for name, p in model.named_parameters() if p.grad is not None and p.grad.is_selected_rows()]
        assert sparse == declared
        assert has_sparse_gradients(model) == bool(declared)
        model.clear_gradients()

    def test_score_items_are_the_full_scores_of_those_items(self, model):
        batch = _batch(model)
        items = np.array([[4, 1, 39], [7, 7, 2], [12, 3, 5], [2, 9, 11], [39, 30, 1]])
        full = model.full_scores(batch).numpy()
        np.testing.assert_allclose(model.score_items(batch, items).numpy(), np.take_along_axis(full, items, 1),
                                   rtol=1e-5, atol=1e-5)

    def test_full_scores_are_inner_products_with_padding_masked(self, model):
        if not model.inner_product:
            pytest.skip("not an inner-product model")
        batch = _batch(model)
        scores = model.full_scores(batch).numpy()
        raw = model.encode(batch).numpy() @ model.item_embeddings().numpy().T
        offset = scores[:, 1:2] - raw[:, 1:2]  # a constant per row is allowed (GMF's output bias)
        np.testing.assert_allclose(scores[:, 1:], raw[:, 1:] + offset, rtol=1e-5, atol=1e-5)
        if model.score_padding:
            np.testing.assert_allclose(scores[:, 0], raw[:, 0] + offset[:, 0], rtol=1e-5, atol=1e-5)
        else:
            assert (scores[:, 0] < -1e8).all()

    def test_loss_is_the_layouts_loss_and_has_gradients(self, model):
        batch = _batch(model)
        expected = _expected_loss(model, batch)
        loss = model.calculate_loss(batch)
        assert loss.shape == [] and float(loss) == pytest.approx(expected, rel=1e-4)
        loss.backward()
        grads = [p for p in model.parameters() if p.grad is not None]
        assert grads and any(float(paddle.abs(p.grad).sum()) > 0 for p in grads)

    def test_encode_positions_is_the_encoding_of_every_prefix(self, model):
        if model.batch_layout == "pairs":
            pytest.skip("(user, item) pairs have no positions")
        positions = model.encode_positions(_batch(model)).numpy()
        assert positions.shape == (*HISTORY.shape, D)
        for b, row in enumerate(HISTORY):
            n = int((row > 0).sum())
            prefixes = np.array([[*row[:t + 1], *[0] * (n - t - 1)] for t in range(n)])
            alone = model.encode(_batch(model, prefixes, np.zeros(n))).numpy()  # each prefix as a sample
            np.testing.assert_allclose(positions[b, :n], alone, rtol=1e-4, atol=1e-5, err_msg=f"row {b}")
            assert not positions[b, n:].any()

    def test_targets_all_is_the_mean_loss_of_the_prefix_pairs(self, model):
        if model.batch_layout == "pairs":
            pytest.skip("(user, item) pairs have no positions")
        mask = (HISTORY > 0).astype("float32")
        all_positions = _batch(model, position_targets=next_item_targets(HISTORY, mask, TARGET))
        prefixes, labels = _prefix_pairs(HISTORY, TARGET)
        assert len(labels) == int(mask.sum())  # one pair per position
        loss = model.calculate_loss(all_positions)
        expected = model.calculate_loss(_batch(model, prefixes, labels))
        assert float(loss) == pytest.approx(float(expected), rel=1e-4)
        loss.backward()
        assert any(float(paddle.abs(p.grad).sum()) > 0 for p in model.parameters() if p.grad is not None)

    @pytest.mark.parametrize("targets", ["last", "all"])
    def test_host_kernels_compute_the_same_loss_and_gradients(self, model, targets):
        if targets == "all" and model.batch_layout == "pairs":
            pytest.skip("(user, item) pairs have no positions")
        mask = (HISTORY > 0).astype("float32")
        position_targets = next_item_targets(HISTORY, mask, TARGET) if targets == "all" else None
        results = []
        for kernels in (Kernels(), HostKernels(2)):
            with kernels, kernels.attach(model):
                loss = model.calculate_loss(_batch(model, position_targets=position_targets), kernels.cross_entropy)
                loss.backward()
            results.append((float(loss), {n: p.grad.numpy().copy() for n, p in model.named_parameters()
                                          if p.grad is not None}))
            model.clear_gradients()
        (plain, plain_grads), (host, host_grads) = results
        assert host == pytest.approx(plain, rel=1e-5)
        assert plain_grads.keys() == host_grads.keys()
        for name, grad in plain_grads.items():
            np.testing.assert_allclose(host_grads[name], grad, rtol=1e-4, atol=1e-6, err_msg=name)

    @pytest.mark.parametrize("kernels_name", ["paddle", "host"])
    def test_freed_gradients_train_as_zeroed_ones(self, kernels_name):
        """In one process the trainer frees the gradients after each step
        (``clear_grad(set_to_zero=False)``) instead of zeroing them: three optimiser steps
        give the same weights, to the bit, with either kernels (row-sparse item gradients too)."""
        weights = []
        for set_to_zero in (True, False):
            model = self.build(True, seed=7)
            kernels = Kernels() if kernels_name == "paddle" else HostKernels(2)
            with kernels, kernels.attach(model), paddle.utils.unique_name.guard():
                opt = kernels.optimizer(model.parameters(), 0.01, 1e-3, dense_gradients=not has_sparse_gradients(model))
                for _ in range(3):
                    model.calculate_loss(_batch(model), kernels.cross_entropy).backward()
                    opt.step()
                    opt.clear_grad(set_to_zero=set_to_zero)
            weights.append({name: p.numpy().copy() for name, p in model.named_parameters()})
        zeroed, freed = weights
        assert zeroed.keys() == freed.keys()
        for name, value in zeroed.items():
            np.testing.assert_array_equal(freed[name], value, err_msg=name)


class CountedChecks(ContractChecks):
    """The counted models' contract (:class:`~srgnn_paddle.models.counts.CountModel`):
    ``fit``, ``full_scores``, and their state (the counted arrays)."""

    def test_counted_contract(self, model):
        assert not model.trainable and not model.inner_product and model.n_parameters() == 0
        assert not isinstance(model, nn.Layer)  # no parameters, no layers: nothing for the optimiser
        assert model.stats and model.state_dict().keys() == model.stats.keys()
        assert all(isinstance(value, paddle.Tensor) for value in model.state_dict().values())
        model.eval()
        assert not model.training
        model.train()
        assert model.training

    def test_scores_need_the_counts(self):
        model = build_model(Config(model=self.model_name, n_items=N_ITEMS))
        with pytest.raises(RuntimeError, match="call fit"):
            model.full_scores(_batch(model))

    def test_fit_counts_the_same_statistics_again(self, model):
        other = self.build(model.score_padding, seed=99)  # the seed does not matter to counts
        assert other.stats.keys() == model.stats.keys()
        for key, value in model.stats.items():
            np.testing.assert_array_equal(other.stats[key], value, err_msg=key)


#: Per registered model, its kernels ``Linear`` layers: the GEMMs that run on the host kernel
#: (numpy's BLAS) with ``kernels: host``. Besides these, the full softmax of the inner-product
#: models runs there (``kernels.cross_entropy``), and so do the gated graph cell's gate GEMMs
#: (``gnn.w_ih``, ``gnn.w_hh``: ``kernels.linear`` on the notebook's parameters). Everything else is
#: Paddle's with either kernels: the GRU of GRU4Rec / NARM / GRUwATT (``nn.GRU``), the batched attention
#: products (``paddle.bmm``), and NCF's full-catalogue tower split (``tower_over_items``).
#: the GEMMs of one self-attention block (srgnn_paddle.models.layers.SelfAttentionBlock)
ATTENTION_GEMMS = ["query", "key", "value", "output", "feed_forward_1", "feed_forward_2"]
HOST_GEMMS = {
    "srgnn": ["gnn.linear_edge_in", "gnn.linear_edge_out", "linear_one", "linear_two", "linear_three",
              "linear_transform"],
    "gru4rec": ["feed_forward"],
    "narm": ["a_1", "a_2", "v", "b"],
    "stamp": ["w_1", "w_2", "w_3", "w_0", "mlp_s", "mlp_t"],
    "gruwatt": ["a_1", "a_2", "v", "feed_forward"],
    "ggnnwatt": ["gnn.linear_edge_in", "gnn.linear_edge_out", "a_1", "a_2", "v", "feed_forward"],
    "niser": ["gnn.linear_edge_in", "gnn.linear_edge_out", "linear_one", "linear_two", "linear_three",
              "linear_transform"],
    "gcsan": ["gnn.linear_edge_in", "gnn.linear_edge_out"] + [f"blocks.0.{name}" for name in ATTENTION_GEMMS],
    "sasrec": [f"blocks.{k}.{name}" for k in (0, 1) for name in ATTENTION_GEMMS],  # the paper's 2 blocks
    "gcegnn": ["session_agg.attention", "global_agg.0.w_1", "global_agg.0.w_2", "w_3", "w_4", "w_5", "q_2"],
    "lessr": [f"layers.{i}.{fc}" for i in range(4) for fc in (("fc_self", "fc_neigh") if i % 2 == 0 else
                                                          ("fc_q", "fc_k", "fc_v", "fc_e"))]
             + ["readout.fc_u", "readout.fc_v", "readout.fc_e", "readout.fc_out", "fc_sr"],
    "tagnn": ["gnn.linear_edge_in", "gnn.linear_edge_out", "linear_one", "linear_two", "linear_three",
              "linear_transform", "linear_t", "linear_target"],
    "sgnnhn": ["gnn.linear_edge_in", "gnn.linear_edge_out", "w_q1", "w_k1", "w_q2", "w_k2", "w_g", "w_1", "w_2",
               "w_3", "w_0", "w_4"],
    "gmf": ["predict_layer"],
    "mlp": ["mlp.0", "mlp.2", "predict_layer"],
    "neumf": ["mlp.0", "mlp.2", "predict_layer"],
    "pop": [], "spop": [], "itemknn": [], "sknn": [],
    "sr": [], "vsknn": [], "stan": [], "vstan": [],
}


class TestSRGNN(TrainedChecks):
    model_name = "srgnn"


class TestGRU4Rec(TrainedChecks):
    model_name = "gru4rec"


class TestNARM(TrainedChecks):
    model_name = "narm"


class TestSTAMP(TrainedChecks):
    model_name = "stamp"


class TestGRUwATT(TrainedChecks):
    model_name = "gruwatt"


class TestGGNNwATT(TrainedChecks):
    model_name = "ggnnwatt"


class TestNISER(TrainedChecks):
    model_name = "niser"


class TestGCSAN(TrainedChecks):
    model_name = "gcsan"


class TestSASRec(TrainedChecks):
    model_name = "sasrec"
class TestGCEGNN(TrainedChecks):
    model_name = "gcegnn"

    def build(self, score_padding: bool, seed: int) -> Recommender:
        """With its global graph, as the trainer builds it before the first epoch."""
        model = super().build(score_padding, seed)
        model.fit_sessions(SessionDataset(*augment_prefixes(SESSIONS), N_ITEMS).sessions())
        return model


class TestLESSR(TrainedChecks):
    model_name = "lessr"

    def build(self, score_padding: bool, seed: int) -> Recommender:
        """Batch normalisation on its running statistics (set away from 0 / 1): in training mode
        it normalises with the batch's own, so a session's vector would depend on the other
        sessions of its batch, and the per-sample checks compare different batches."""
        from srgnn_paddle.models.lessr import NodeBatchNorm

        model = super().build(score_padding, seed)
        rng = np.random.default_rng(seed)
        for layer in model.sublayers():
            if isinstance(layer, NodeBatchNorm):
                layer.eval()
                layer.running_mean.set_value(rng.normal(0, 0.3, layer.running_mean.shape).astype("float32"))
                layer.running_var.set_value(rng.uniform(0.5, 2.0, layer.running_var.shape).astype("float32"))
        return model
class TestTAGNN(TrainedChecks):
    model_name = "tagnn"


class TestSGNNHN(TrainedChecks):
    model_name = "sgnnhn"


class TestPOP(CountedChecks):
    model_name = "pop"


class TestSPOP(CountedChecks):
    model_name = "spop"


class TestItemKNN(CountedChecks):
    model_name = "itemknn"


class TestSKNN(CountedChecks):
    model_name = "sknn"


class TestSR(CountedChecks):
    model_name = "sr"


class TestVSKNN(CountedChecks):
    model_name = "vsknn"


class TestSTAN(CountedChecks):
    model_name = "stan"


class TestVSTAN(CountedChecks):
    model_name = "vstan"


class TestGMF(TrainedChecks):
    model_name = "gmf"


class TestMLP(TrainedChecks):
    model_name = "mlp"


class TestNeuMF(TrainedChecks):
    model_name = "neumf"


def test_every_registered_model_has_its_contract_tests():
    trained = {cls.model_name for cls in TrainedChecks.__subclasses__()}
    counted = {cls.model_name for cls in CountedChecks.__subclasses__()}
    assert trained | counted == set(MODELS) == set(HOST_GEMMS)
    assert all(MODELS[name].trainable for name in trained) and not any(MODELS[name].trainable for name in counted)


def test_unknown_model_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SrgnnError, match="unknown model 'nope'; choose one of srgnn, gru4rec, "):
        model_class("nope")
    with pytest.raises(SrgnnError, match="unknown model 'nope'"):  # checked where models are built
        model_class(Config.from_dict({"model": "nope"}).model)


# ---------------------------------------------------------------------------- the README's example
class ItemMean(SessionModel):
    """The README's 10-line example model: the mean of the history's item vectors, projected."""

    name, display_name, batch_layout = "itemmean", "ItemMean", "sequence"

    def __init__(self, cfg, sparse_item_grad=True):
        super().__init__(cfg, sparse_item_grad)  # the item table item_emb [n_items, D], scored by item_embeddings()
        self.project = Linear(cfg.embedding_dim, cfg.embedding_dim)  # kernels.linear.Linear: a host-kernel GEMM

    def encode(self, batch):  # the mean of the history's item vectors, projected: [B, D]
        items, mask = history_tensors(batch)  # models/layers.py: [B, L] int64, [B, L] float32
        mean = (self.item_emb(items) * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        return self.project(mean)


def test_the_readme_example_is_the_tested_one():
    """The README's "Adding a model" block is this file's ItemMean, line for line (comments aside)."""
    import inspect
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```python\nclass ItemMean(SessionModel):", 1)[1].split("```", 1)[0]

    def code(text):
        return [re.sub(r"\s+#.*$", "", line).strip() for line in text.splitlines()
                if line.strip() and not line.strip().startswith(('"""', "#"))]

    source = inspect.getsource(ItemMean).split("\n", 1)[1]
    assert code(block) == [line for line in code(source) if not line.startswith('"""')]


@pytest.mark.parametrize("protocol", ["notebook", "paper"])
@pytest.mark.slow
def test_the_readme_example_model_trains_through_the_cli(protocol, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(MODELS, ItemMean.name, ItemMean)
    data = tmp_path / "tiny"
    if protocol == "notebook":
        generate_synthetic(data, seed=5, n_users=150, n_items=60, n_categories=4)
    else:
        from srgnn_paddle.data.sessions import write_session_pickles

        rng = np.random.default_rng(0)
        sessions = [rng.integers(1, 50, rng.integers(2, 6)).tolist() for _ in range(300)]
        test = augment_prefixes([rng.integers(1, 50, rng.integers(2, 5)).tolist() for _ in range(60)])
        data.mkdir()
        write_session_pickles(data, sessions, augment_prefixes(sessions), test)
    exp = tmp_path / "exp"
    argv = ["train", "--model", "itemmean", "--protocol", protocol, "--data_dir", str(data), "--exp_dir", str(exp),
            "--epochs", "2", "--batch_size", "32", "--embedding_dim", "8", "--lr", "0.01", "--quiet",
            "--tsne_max_items", "40"]
    assert cli.main(argv) == 0
    folder = "tiny_softmax" if protocol == "notebook" else "tiny_paper"
    run = exp / folder / "ItemMean_0.01_32_8"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == "itemmean" and summary["epochs_run"] == 2
    assert summary["parameters"] == load_config(run / "config.yaml").n_items * 8 + 8 * 8 + 8  # the table, project
    assert (run / "tsne.png").is_file() and (run / "curves.png").is_file()
    assert cli.main(["evaluate", "--run_dir", str(run), "--quiet"]) == 0
    assert cli.main(["report", "--exp_dir", str(exp)]) == 0
    assert f"{folder}/ItemMean_0.01_32_8" in capsys.readouterr().out
