"""The model contract (srgnn_paddle.models.base.Recommender): every registered model passes
the same checks (a shared mixin, in the spirit of implicit's test classes), and a model
written as the README shows trains end to end through the CLI."""
from __future__ import annotations

import json
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.data import Batch, PairBatch, build_packed_graph
from srgnn_paddle.kernels import HostKernels, Kernels
from srgnn_paddle.models import BATCH_LAYOUTS, MODELS, Recommender, build_model, model_class
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.synthetic import generate_synthetic

N_ITEMS, N_USERS, D = 40, 6, 8
HISTORY = np.array([[3, 5, 7, 0], [9, 9, 2, 4], [11, 0, 0, 0], [6, 1, 8, 0], [30, 31, 32, 33]])
TARGET = np.array([[4], [7], [12], [2], [39]])
USERS = np.array([0, 5, 2, 2, 1])  # pairs layout: the users of the rows, labels 1 0 1 1 0
LABELS = np.array([1, 0, 1, 1, 0], dtype="float32")


def _batch(model: Recommender):
    if model.batch_layout == "pairs":
        return PairBatch(USERS, TARGET.reshape(-1), LABELS)
    graph = build_packed_graph(HISTORY) if model.batch_layout == "session_graph" else None
    return Batch(HISTORY, (HISTORY > 0).astype("float32"), TARGET, graph)


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
    """What the trainer, evaluators, retrieval and t-SNE rely on; a subclass sets ``model_name``."""

    model_name = ""

    @pytest.fixture(params=[True, False], ids=["score_padding", "paper_scoring"])
    def model(self, request) -> Recommender:
        paddle.seed(7)
        cfg = Config(model=self.model_name, n_items=N_ITEMS, n_users=N_USERS, embedding_dim=D,
                     mlp_layers="12,8,4", score_padding=request.param)
        return build_model(cfg)

    def test_declarations(self, model):
        assert MODELS[model.name] is type(model) and model.display_name
        assert model.batch_layout in BATCH_LAYOUTS and isinstance(model.inner_product, bool)
        assert model.n_items == N_ITEMS and model.n_parameters() > 0
        assert model.embedding_dim == (D if model.batch_layout != "pairs" else model.item_embeddings().shape[1])

    def test_shapes(self, model):
        batch = _batch(model)
        user = model.encode(batch)
        assert user.shape == [len(HISTORY), model.embedding_dim] and user.dtype == paddle.float32
        assert model.item_embeddings().shape == [N_ITEMS, model.embedding_dim]
        assert model.targets(batch).numpy().tolist() == TARGET.reshape(-1).tolist()
        assert model.full_scores(batch).shape == [len(HISTORY), N_ITEMS]

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

    def test_host_kernels_compute_the_same_loss_and_gradients(self, model):
        results = []
        for kernels in (Kernels(), HostKernels(2)):
            with kernels, kernels.attach(model):
                loss = model.calculate_loss(_batch(model), kernels.cross_entropy)
                loss.backward()
            results.append((float(loss), {n: p.grad.numpy().copy() for n, p in model.named_parameters()
                                          if p.grad is not None}))
            model.clear_gradients()
        (plain, plain_grads), (host, host_grads) = results
        assert host == pytest.approx(plain, rel=1e-5)
        assert plain_grads.keys() == host_grads.keys()
        for name, grad in plain_grads.items():
            np.testing.assert_allclose(host_grads[name], grad, rtol=1e-4, atol=1e-6, err_msg=name)


class TestSRGNN(ContractChecks):
    model_name = "srgnn"


class TestGMF(ContractChecks):
    model_name = "gmf"


class TestMLP(ContractChecks):
    model_name = "mlp"


class TestNeuMF(ContractChecks):
    model_name = "neumf"


def test_every_registered_model_has_its_contract_tests():
    tested = {cls.model_name for cls in ContractChecks.__subclasses__()}
    assert tested == set(MODELS)


def test_unknown_model_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SrgnnError, match="unknown model 'nope'; choose one of srgnn, gmf, mlp, neumf"):
        model_class("nope")
    with pytest.raises(SrgnnError, match="'model' must be one of"):
        Config.from_dict({"model": "nope"})


# ---------------------------------------------------------------------------- the README's example
class ItemMean(Recommender):
    """The README's 10-line example model: the mean of the history's item vectors."""

    name, display_name, batch_layout = "itemmean", "ItemMean", "sequence"

    def __init__(self, cfg, sparse_item_grad=True):
        super().__init__()
        self.n_items, self.embedding_dim, self.score_padding = cfg.n_items, cfg.embedding_dim, cfg.score_padding
        self.item_emb = nn.Embedding(cfg.n_items, cfg.embedding_dim, padding_idx=0, sparse=sparse_item_grad)

    def encode(self, batch):
        mask = paddle.to_tensor(batch.mask).unsqueeze(-1)
        return (self.item_emb(paddle.to_tensor(batch.history)) * mask).sum(1) / mask.sum(1)

    def item_embeddings(self):
        return self.item_emb.weight


@pytest.mark.parametrize("protocol", ["notebook", "paper"])
def test_the_readme_example_model_trains_through_the_cli(protocol, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(MODELS, ItemMean.name, ItemMean)
    data = tmp_path / "tiny"
    if protocol == "notebook":
        generate_synthetic(data, seed=5, n_users=150, n_items=60, n_categories=4)
    else:
        from srgnn_paddle.data.sessions import write_session_pickles, augment_prefixes

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
    assert summary["parameters"] == load_config(run / "config.yaml").n_items * 8  # the item table only
    assert (run / "tsne.png").is_file() and (run / "curves.png").is_file()
    assert cli.main(["evaluate", "--run_dir", str(run), "--quiet"]) == 0
    assert cli.main(["report", "--exp_dir", str(exp)]) == 0
    assert f"{folder}/ItemMean_0.01_32_8" in capsys.readouterr().out
