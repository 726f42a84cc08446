"""The paper protocol (spec ``paper.md``, issue 5): loader, scoring, metrics, validation
split, model selection, the CLI end to end, the official configs and the real DIGINETICA
counts. Everything runs on tiny generated pickles except the ``shared_data`` tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pandas as pd
import paddle
import pytest

from srgnn_paddle import cli, runs
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.protocols import get_protocol
from srgnn_paddle.data import Batch, SessionDataset, SubsetDataset, make_loader, split_validation
from srgnn_paddle.data.graph import build_packed_graph
from srgnn_paddle.evaluation.metrics import rank_sums, target_ranks
from srgnn_paddle.models import SRGNN, Recommender
from srgnn_paddle.data.sessions import augment_prefixes, write_session_pickles
from srgnn_paddle.evaluation import NextItemEvaluator
from srgnn_paddle.kernels import Kernels, HostKernels
from srgnn_paddle.training import EarlyStopping

REPO_ROOT = Path(__file__).resolve().parents[2]
N_ITEMS = 13  # items 1..12, 0 = padding
TINY = ["--embedding_dim", "8", "--batch_size", "16", "--eval_batch_size", "64", "--num_workers", "0",
        "--cpu_threads", "1", "--dataset", "tiny", "--quiet"]


def _sessions(rng: np.random.Generator, count: int) -> List[List[int]]:
    """``count`` sessions of 2..6 items drawn from 1..N_ITEMS-1 (every item used)."""
    out = [list(range(1, 7)), list(range(7, N_ITEMS))]
    while len(out) < count:
        out.append(rng.integers(1, N_ITEMS, size=int(rng.integers(2, 7))).tolist())
    return out


def _tiny_sessions() -> Tuple[List[List[int]], List[List[int]]]:
    """The (train, test) sessions of the tiny data set: 24 and 6 sessions."""
    rng = np.random.default_rng(0)
    return _sessions(rng, 24), _sessions(rng, 6)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """A paper-layout folder (all_train_seq.txt, train.txt, test.txt) of the tiny sessions."""
    folder = tmp_path_factory.mktemp("tiny") / "tiny"
    train_sessions, test_sessions = _tiny_sessions()
    write_session_pickles(folder, train_sessions, augment_prefixes(train_sessions), augment_prefixes(test_sessions))
    return folder


def _test_split(data: runs.PreparedData):
    """The test dataset of ``data`` (``PreparedData.test``)."""
    return data.test


def _train_argv(data_dir: Path, exp_dir: Path, *extra: str) -> List[str]:
    return ["train", "--config", str(REPO_ROOT / "configs" / "paper_diginetica.yaml"), "--data_dir", str(data_dir),
            "--exp_dir", str(exp_dir), *TINY, *extra]


@pytest.fixture(scope="module")
def paper_run(tiny_dir, tmp_path_factory) -> Path:
    """One uninterrupted 6-epoch paper run with the official config (tiny sizes)."""
    exp = tmp_path_factory.mktemp("exp")
    assert cli.main(_train_argv(tiny_dir, exp, "--epochs", "6")) == 0
    return exp / "tiny_paper" / "SRGNN_0.001_16_8"


# ============================================================================ loader
def test_loader_pads_to_batch_max_and_builds_the_graph():
    seqs = [[1, 2], [3, 4, 5, 6, 7], [8], [2, 2, 9], [10, 11, 12, 1], [5]]
    labels = [3, 8, 9, 10, 2, 6]
    ds = SessionDataset(seqs, labels, N_ITEMS)
    loader = make_loader(ds, batch_size=3, shuffle=False)
    batches = list(loader)
    assert len(batches) == 2
    for b, batch in enumerate(batches):
        hist, mask, target = batch.history, batch.mask, batch.target
        chunk = seqs[3 * b: 3 * b + 3]
        width = max(map(len, chunk))
        assert hist.shape == mask.shape == (3, width)  # the batch's own longest prefix
        for row, seq in enumerate(chunk):
            assert hist[row].tolist() == seq + [0] * (width - len(seq))  # right-padded
            assert mask[row].tolist() == [1.0] * len(seq) + [0.0] * (width - len(seq))
        assert mask.dtype == np.float32 and hist.dtype == np.int64
        assert target.tolist() == labels[3 * b: 3 * b + 3]  # label = score column, no shift
        for got, want in zip(batch.graph, build_packed_graph(hist)):
            np.testing.assert_array_equal(got, want)
        assert batch.graph.node_items[batch.graph.last_node].tolist() == [seq[-1] for seq in chunk]
    assert batches[0].history.shape[1] == 5 and batches[1].history.shape[1] == 4

    # a validation view pads to its own batch's longest prefix too
    sub = SubsetDataset(ds, np.array([2, 5]))
    hist, mask, target = sub.make_batch([0, 1])
    assert hist.tolist() == [[8], [5]] and target.tolist() == [9, 6]


def _batch(hist: np.ndarray, target) -> Batch:
    """A loader-style batch of padded histories with their packed graphs."""
    return Batch(hist, (hist > 0).astype("float32"), np.asarray(target), build_packed_graph(hist))


@pytest.mark.parametrize("kernels", [Kernels(), HostKernels(2)], ids=["paddle", "host"])
def test_score_column_c_is_item_c_and_padding_is_masked(kernels):
    cfg = Config(protocol="paper", n_items=N_ITEMS, embedding_dim=4, step=1, init="uniform", score_padding=False)
    paddle.seed(0)
    model = SRGNN(cfg)
    target = np.array([1, 7, 12])
    batch = _batch(np.array([[3, 4, 0], [5, 0, 0], [2, 9, 11]]), target.reshape(-1, 1))
    user = model.encode(batch)
    weight = model.item_emb.weight.numpy()
    scores = model.full_scores(batch).numpy()
    raw = user.numpy() @ weight.T
    np.testing.assert_allclose(scores[:, 1:], raw[:, 1:], rtol=1e-5, atol=1e-6)  # column c = item c
    assert (scores[:, 0] < -1e8).all()  # padding pushed out of the softmax
    assert model.targets(batch).numpy().tolist() == target.tolist()
    # the loss is the softmax over items 1..n-1 with the item id as class (= slicing + shift by one)
    sliced = raw[:, 1:]
    log_p = sliced - sliced.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(3), target - 1].mean()
    assert float(model.calculate_loss(batch, kernels.cross_entropy)) == pytest.approx(expected, rel=1e-5)


def _reference_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Rank among columns 1.. with ties counted against the target (plain loop)."""
    ranks = []
    for row, t in zip(scores, targets):
        ranks.append(sum(1 for c in range(1, len(row)) if not row[c] < row[t]))
    return np.array(ranks)


@pytest.mark.parametrize("kernels", [Kernels(), HostKernels(2)], ids=["paddle", "host"])
def test_padding_never_ranked_even_when_it_scores_highest(kernels):
    cfg = Config(protocol="paper", n_items=N_ITEMS, embedding_dim=8, step=1, init="uniform",
                 eval_batch_size=64)
    paddle.seed(1)
    model = SRGNN(cfg)  # score_padding=True: full_scores keeps column 0 unmasked
    seqs = [[1, 2, 3], [4, 5], [6], [7, 8, 9, 10], [11, 12]]
    labels = [4, 6, 7, 11, 1]
    ds = SessionDataset(seqs, labels, N_ITEMS)
    hist, mask, target = ds.make_batch(np.arange(len(ds)))
    batch = _batch(hist, target)
    model.eval()
    with paddle.no_grad():
        user = model.encode(batch).numpy()
    # give the padding row the highest score of every case (the user vectors do not depend on it)
    weight = model.item_emb.weight.numpy()
    raw = user @ weight.T
    wanted = raw.max(axis=1) + 10.0
    weight[0] = np.linalg.lstsq(user, wanted, rcond=None)[0]
    model.item_emb.weight.set_value(paddle.to_tensor(weight))
    with paddle.no_grad():
        scores = model.full_scores(batch).numpy()
    assert (scores.argmax(axis=1) == 0).all()

    evaluator = NextItemEvaluator(ds, cfg, model, kernels)
    evaluator.ks = (1, 2, 5)
    metrics = evaluator(model)
    ranks = _reference_ranks(scores, target)
    for k in evaluator.ks:
        assert metrics[f"P@{k}"] == pytest.approx(100.0 * np.mean(ranks <= k))
        assert metrics[f"MRR@{k}"] == pytest.approx(100.0 * np.mean(np.where(ranks <= k, 1.0 / ranks, 0.0)))
    assert metrics["P@1"] == pytest.approx(100.0 * np.mean(ranks == 1))  # not 0, as column 0 would make it


# ============================================================================ metrics
def test_ranks_and_metrics_on_a_hand_made_score_matrix():
    # columns 0..5, column 0 = padding (scored highest on purpose, never a candidate)
    scores = np.array([
        [9.0, 0.9, 0.5, 0.3, 0.1, 0.0],  # target 1: rank 1
        [9.0, 0.9, 0.5, 0.5, 0.1, 0.0],  # target 3: tied with item 2 -> rank 3 (ties count against)
        [9.0, 0.9, 0.5, 0.5, 0.1, 0.0],  # target 2: same tie -> rank 3
        [9.0, 0.2, 0.2, 0.2, 0.2, 0.2],  # target 4: all tied -> last, rank 5
        [9.0, 0.9, 0.8, 0.7, 0.6, 0.5],  # target 5: rank 5
        [9.0, 0.1, 0.9, 0.3, 0.4, 0.5],  # target 4: rank 3
    ], dtype=np.float32)
    targets = np.array([1, 3, 2, 4, 5, 4])
    ranks = target_ranks(paddle.to_tensor(scores), paddle.to_tensor(targets), exclude_padding=True)
    assert ranks.tolist() == [1, 3, 3, 5, 5, 3]
    # with the padding column as a candidate every rank moves down by one
    with_pad = target_ranks(paddle.to_tensor(scores), paddle.to_tensor(targets.reshape(-1, 1)), exclude_padding=False)
    assert with_pad.tolist() == [2, 4, 4, 6, 6, 4]

    sums = rank_sums(ranks, ks=(1, 2, 3, 5, 50))
    assert sums["P@1"] == 1 and sums["MRR@1"] == pytest.approx(1.0)
    assert sums["P@2"] == 1 and sums["MRR@2"] == pytest.approx(1.0)  # rank 3 outside top 2 gives 0
    assert sums["P@3"] == 4 and sums["MRR@3"] == pytest.approx(1 + 3 * (1 / 3))
    # K >= the 5 candidates: every case counts, MRR@K is the uncut mean reciprocal rank
    for k in (5, 50):
        assert sums[f"P@{k}"] == 6 and sums[f"MRR@{k}"] == pytest.approx(2 + 2 / 5)
    # percentages as the evaluator reports them (x100 over the cases)
    assert 100 * sums["P@3"] / 6 == pytest.approx(66.6666667) and 100 * sums["MRR@3"] / 6 == pytest.approx(33.3333333)


class _HandScored(Recommender):
    """A model of the contract that serves the rows of a fixed score matrix: case i's user
    vector is the one-hot ``e_i`` and the item table is ``scores.T``, so ``user @ table.T``
    (host kernels) and ``full_scores`` (Paddle kernels) give row i."""

    batch_layout = "sequence"

    def __init__(self, scores: np.ndarray) -> None:
        super().__init__()
        self.table = paddle.to_tensor(np.ascontiguousarray(scores.T, dtype=np.float32))  # [C, n_cases]
        self.n_cases, self.offset = len(scores), 0
        self.n_items, self.embedding_dim = self.table.shape

    def encode(self, batch):
        user = np.eye(self.n_cases, dtype=np.float32)[self.offset: self.offset + len(batch)]
        self.offset += len(batch)
        return paddle.to_tensor(user)

    def item_embeddings(self):
        return self.table


@pytest.mark.parametrize("kernels", [Kernels(), HostKernels(2)], ids=["paddle", "host"])
def test_evaluator_on_the_hand_made_score_matrix(kernels):
    scores = np.array([
        [9.0, 0.9, 0.5, 0.3, 0.1, 0.0],
        [9.0, 0.9, 0.5, 0.5, 0.1, 0.0],
        [9.0, 0.9, 0.5, 0.5, 0.1, 0.0],
        [9.0, 0.2, 0.2, 0.2, 0.2, 0.2],
        [9.0, 0.9, 0.8, 0.7, 0.6, 0.5],
        [9.0, 0.1, 0.9, 0.3, 0.4, 0.5],
    ], dtype=np.float32)
    targets = [1, 3, 2, 4, 5, 4]  # ranks 1, 3, 3, 5, 5, 3 (see the previous test)
    ds = SessionDataset([[1]] * 6, targets, n_items=6)
    model = _HandScored(scores)
    evaluator = NextItemEvaluator(ds, Config(protocol="paper", eval_batch_size=4), model, kernels)  # batches of 4, 2
    evaluator.ks = (1, 3, 50)
    metrics = evaluator(model)
    assert metrics["P@1"] == pytest.approx(100 / 6) and metrics["MRR@1"] == pytest.approx(100 / 6)
    assert metrics["P@3"] == pytest.approx(400 / 6) and metrics["MRR@3"] == pytest.approx(200 / 6)
    assert metrics["P@50"] == pytest.approx(100.0) and metrics["MRR@50"] == pytest.approx(100 * 2.4 / 6)


def test_nan_scores_count_against_the_target():
    scores = paddle.to_tensor(np.array([[0.0, 1.0, np.nan, 0.5], [0.0, np.nan, 1.0, 2.0]], dtype=np.float32))
    assert target_ranks(scores, paddle.to_tensor([1, 1]), exclude_padding=True).tolist() == [2, 3]


def test_evaluator_k_wider_than_the_catalogue(tmp_path):
    n_items = 5  # 4 candidates, K = 10/20/50 all wider (used to crash in paddle.topk)
    cfg = Config(protocol="paper", n_items=n_items, embedding_dim=4, step=1, init="uniform", score_padding=False)
    paddle.seed(2)
    model = SRGNN(cfg)
    seqs, labels = [[1, 2], [3], [4, 1, 2], [2]], [3, 4, 3, 1]
    ds = SessionDataset(seqs, labels, n_items)
    metrics = NextItemEvaluator(ds, cfg, model, HostKernels(2))(model)
    hist, mask, target = ds.make_batch(np.arange(4))
    model.eval()
    scores = model.full_scores(_batch(hist, target)).numpy()
    ranks = _reference_ranks(scores, target)
    for k in NextItemEvaluator.KS:
        assert metrics[f"P@{k}"] == pytest.approx(100.0)
        assert metrics[f"MRR@{k}"] == pytest.approx(100.0 * np.mean(1.0 / ranks))


# ============================================================================ validation split
@pytest.mark.parametrize("n, portion", [(10, 0.1), (25, 0.1), (719_470, 0.1), (7, 0.5), (3, 0.0)])
def test_split_validation_seeded_disjoint_complete(n, portion):
    train, valid = split_validation(n, portion, seed=5)
    assert len(valid) == int(round(portion * n))  # Python's round: 2.5 -> 2
    assert np.intersect1d(train, valid).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(n))
    again = split_validation(n, portion, seed=5)
    np.testing.assert_array_equal(again[1], valid)
    if 0 < len(valid) < n and n > 20:
        assert not np.array_equal(split_validation(n, portion, seed=6)[1], valid)


def test_load_paper_data_holds_out_the_seeded_split(tiny_dir, tmp_path):
    cfg = load_config(REPO_ROOT / "configs" / "paper_diginetica.yaml")
    data = get_protocol("paper").load_data(cfg, tiny_dir)
    train_sessions, test_sessions = _tiny_sessions()
    seqs, labels = augment_prefixes(train_sessions)
    train_idx, valid_idx = split_validation(len(seqs), 0.1, cfg.seed)
    np.testing.assert_array_equal(data.train.indices, train_idx)
    np.testing.assert_array_equal(data.valid.indices, valid_idx)
    assert len(data.valid) == round(0.1 * len(seqs)) and data.n_items == N_ITEMS
    hist, mask, target = data.valid.make_batch(np.arange(len(valid_idx)))
    assert target.tolist() == [labels[i] for i in valid_idx]
    assert [row[row > 0].tolist() for row in hist] == [seqs[i] for i in valid_idx]
    assert len(_test_split(data)) == len(augment_prefixes(test_sessions)[0])
    # without train.txt the pairs are rebuilt from all_train_seq.txt: the same split
    only_sessions = tmp_path / "sessions_only"
    only_sessions.mkdir()
    for name in ("all_train_seq.txt", "test.txt"):
        (only_sessions / name).write_bytes((tiny_dir / name).read_bytes())
    rebuilt = get_protocol("paper").load_data(cfg, only_sessions)
    np.testing.assert_array_equal(rebuilt.valid.make_batch(np.arange(len(valid_idx)))[0], hist)


# ============================================================================ selection
def test_early_stopping_on_p20_then_mrr20():
    stopper = EarlyStopping(patience=2)
    sequence = [(40.0, 10.0), (42.0, 9.0), (42.0, 11.0), (42.0, 11.0), (41.0, 30.0), (42.0, 10.5)]
    improved = [stopper.update(epoch, score) for epoch, score in enumerate(sequence, start=1)]
    # P@20 first; an equal P@20 with a higher MRR@20 wins; an equal pair does not improve
    assert improved == [True, True, True, False, False, False]
    assert stopper.best_epoch == 3 and stopper.best_score == (42.0, 11.0)
    assert not stopper.should_stop(5) and stopper.should_stop(6)  # 6 - 3 > patience 2


class _Spy:
    """Wraps an evaluator: records each call and can replace the selection scores."""

    def __init__(self, evaluator, kind: str, events: List[Tuple[str, Any]],
                 scores: Dict[int, Tuple[float, float]] | None = None,
                 metrics: Dict[int, Dict[str, float]] | None = None) -> None:
        self.evaluator, self.kind, self.events = evaluator, kind, events
        self.scores, self.metrics, self.calls = scores, metrics, 0

    def __call__(self, model, desc: str = "eval") -> Dict[str, float]:
        self.calls += 1
        weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        self.events.append((self.kind, weights))
        out = self.evaluator(model, desc)
        if self.metrics is not None:
            out = {**out, **self.metrics[self.calls]}
        return out

    def score(self, metrics):
        return self.scores[self.calls] if self.scores is not None else self.evaluator.score(metrics)

    def columns(self):
        return self.evaluator.columns()


def _spy_run(monkeypatch, tiny_dir: Path, exp: Path, valid_scores, test_metrics=None, *extra: str):
    """Run ``train`` with spied evaluators; returns (events, test factory calls, run folder)."""
    events: List[Tuple[str, Any]] = []
    factory_calls = []
    real_make = runs.make_evaluator

    def make(cfg, dataset, model, kernels, progress, **options):
        if not isinstance(dataset, SessionDataset):  # the validation split: a SubsetDataset
            return _Spy(real_make(cfg, dataset, model, kernels, progress, **options), "valid", events,
                        scores=valid_scores)
        factory_calls.append(1)  # the test evaluator factory at work
        events.append(("factory", None))
        return _Spy(real_make(cfg, dataset, model, kernels, progress, **options), "test", events,
                    metrics=test_metrics)

    monkeypatch.setattr(runs, "make_evaluator", make)
    assert cli.main(_train_argv(tiny_dir, exp, *extra)) == 0
    return events, factory_calls, exp / "tiny_paper" / "SRGNN_0.001_16_8"


def test_select_on_valid_scores_test_once_with_the_best_weights(monkeypatch, tiny_dir, tmp_path):
    scores = {1: (30.0, 5.0), 2: (50.0, 1.0), 3: (50.0, 0.5), 4: (20.0, 9.0)}  # best: epoch 2
    events, factory_calls, run_dir = _spy_run(monkeypatch, tiny_dir, tmp_path, scores, None, "--epochs", "4")
    kinds = [kind for kind, _ in events]
    assert kinds == ["valid"] * 4 + ["factory", "test"]  # test split built and scored once, after training
    assert len(factory_calls) == 1
    test_weights, best_weights, last_weights = events[-1][1], events[1][1], events[3][1]
    for name, value in test_weights.items():
        np.testing.assert_array_equal(value, best_weights[name])  # epoch 2's weights reloaded
    assert any(not np.array_equal(test_weights[n], last_weights[n]) for n in test_weights)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_epoch"] == 2 and summary["epochs_run"] == 4
    assert "test_best_over_epochs" not in summary
    log = pd.read_csv(run_dir / "log.csv")
    assert log["phase"].tolist() == ["valid"] * 4 + ["test"]
    assert log.loc[log.phase == "test", "epoch"].tolist() == [2]
    assert log.loc[log.phase == "test", "P@20"].item() == pytest.approx(summary["test"]["P@20"])


def test_select_on_test_logs_each_epoch_and_the_best_of_each_metric(monkeypatch, tiny_dir, tmp_path):
    scores = {1: (10.0, 1.0), 2: (20.0, 1.0), 3: (15.0, 1.0)}
    fake = {1: {"P@20": 30.0, "MRR@20": 12.0}, 2: {"P@20": 40.0, "MRR@20": 8.0},
            3: {"P@20": 35.0, "MRR@20": 14.0}, 4: {"P@20": 41.0, "MRR@20": 9.0}}
    events, factory_calls, run_dir = _spy_run(monkeypatch, tiny_dir, tmp_path, scores, fake,
                                              "--epochs", "3", "--select_on", "test")
    assert [kind for kind, _ in events] == ["valid", "factory", "test"] + ["valid", "test"] * 2 + ["test"]
    assert len(factory_calls) == 1  # one test evaluator, reused
    log = pd.read_csv(run_dir / "log.csv")
    assert log["phase"].tolist() == ["valid", "test_epoch"] * 3 + ["test"]
    per_epoch = log[log.phase == "test_epoch"]
    assert per_epoch["epoch"].tolist() == [1, 2, 3] and per_epoch["P@20"].tolist() == [30.0, 40.0, 35.0]
    summary = json.loads((run_dir / "summary.json").read_text())
    best = summary["test_best_over_epochs"]
    assert best["P@20"] == 40.0 and best["MRR@20"] == 14.0  # from different epochs
    assert summary["test_best_over_epochs_epochs"]["P@20"] == 2
    assert summary["test_best_over_epochs_epochs"]["MRR@20"] == 3
    assert summary["best_epoch"] == 2 and summary["test"]["P@20"] == 41.0  # selected on valid, scored once more


# ============================================================================ CLI end to end
def test_train_paper_run_files_lr_and_evaluate(paper_run, tiny_dir, capsys):
    for name in ("log.csv", "summary.json", "model.pdparams", "config.yaml", "checkpoint.pdckpt"):
        assert (paper_run / name).is_file()
    cfg = load_config(paper_run / "config.yaml")
    assert cfg.protocol == "paper" and not cfg.score_padding and cfg.n_items == N_ITEMS
    log = pd.read_csv(paper_run / "log.csv")
    valid = log[log.phase == "valid"]
    assert valid["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    # lr x 0.1 every 3 epochs: 1e-3 for epochs 1-3, 1e-4 for 4-6 (the official code decays after 2)
    np.testing.assert_allclose(valid["lr"].to_numpy(), [1e-3] * 3 + [1e-4] * 3, rtol=1e-6)
    assert np.isfinite(valid["loss"]).all()
    assert list(log.columns[:7]) == ["P@20", "MRR@20", "P@10", "MRR@10", "P@50", "MRR@50", "phase"]
    summary = json.loads((paper_run / "summary.json").read_text())
    assert summary["protocol"] == "paper" and set(summary["test"]) >= {"P@20", "MRR@20"}

    metrics = runs.evaluate_run(paper_run, tiny_dir, "test", progress=False)
    assert metrics["P@20"] == pytest.approx(summary["test"]["P@20"], abs=1e-9)
    assert metrics["MRR@20"] == pytest.approx(summary["test"]["MRR@20"], abs=1e-9)
    capsys.readouterr()
    assert cli.main(["evaluate", "--run_dir", str(paper_run), "--data_dir", str(tiny_dir), "--quiet"]) == 0
    printed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert float(printed["P@20"]) == pytest.approx(summary["test"]["P@20"], abs=1e-6)


def test_resume_after_interruption_logs_each_epoch_once(monkeypatch, paper_run, tiny_dir, tmp_path):
    from srgnn_paddle.training import Trainer

    real_epoch = Trainer.train_epoch

    def interrupted(self, epoch):
        if epoch == 4:
            raise KeyboardInterrupt
        return real_epoch(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", interrupted)
    assert cli.main(_train_argv(tiny_dir, tmp_path, "--epochs", "6")) == 130
    run_dir = tmp_path / "tiny_paper" / "SRGNN_0.001_16_8"
    assert pd.read_csv(run_dir / "log.csv")["epoch"].tolist() == [1, 2, 3]
    monkeypatch.setattr(Trainer, "train_epoch", real_epoch)
    assert cli.main(_train_argv(tiny_dir, tmp_path, "--epochs", "6", "--resume")) == 0
    log = pd.read_csv(run_dir / "log.csv")
    assert log["phase"].tolist() == ["valid"] * 6 + ["test"]
    assert log.loc[log.phase == "valid", "epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    # the resumed run continues as the uninterrupted one did (same losses, lr and metrics)
    straight = pd.read_csv(paper_run / "log.csv")
    for col in ("loss", "lr", "P@20", "MRR@20"):
        np.testing.assert_allclose(log[col].to_numpy(), straight[col].to_numpy(), rtol=1e-4, equal_nan=True)


@pytest.mark.slow
def test_train_subprocess_protocol_flag_nonhybrid(tiny_dir, tmp_path):
    # --protocol paper without a config: the paper's official defaults (lr 1e-3, step 1,
    # uniform init, padding not scored), flags still override them (D 8, batch 16)
    argv = ["train", "--protocol", "paper", "--data_dir", str(tiny_dir), "--exp_dir", str(tmp_path),
            "--epochs", "2", "--nonhybrid", *TINY]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "srgnn_paddle", *argv], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run_dir = tmp_path / "tiny_paper" / "SRGNN_0.001_16_8"
    for name in ("log.csv", "summary.json", "model.pdparams"):
        assert (run_dir / name).is_file()
    cfg = load_config(run_dir / "config.yaml")
    assert cfg.nonhybrid and cfg.protocol == "paper"
    assert (cfg.step, cfg.init, cfg.score_padding, cfg.weight_decay, cfg.lr_dc_step) == (1, "uniform", False, 1e-5, 3)
    assert pd.read_csv(run_dir / "log.csv")["phase"].tolist() == ["valid", "valid", "test"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and 0.0 <= summary["test"]["P@20"] <= 100.0
    assert "best epoch" in proc.stdout
    metrics = runs.evaluate_run(run_dir, tiny_dir, "test", progress=False)
    assert metrics["P@20"] == pytest.approx(summary["test"]["P@20"], abs=1e-9)


# ============================================================================ configs
@pytest.mark.parametrize("name", ["paper_diginetica.yaml", "paper_yoochoose.yaml"])
def test_protocol_paper_alone_equals_the_paper_configs(name):
    from_file = load_config(REPO_ROOT / "configs" / name)
    assert load_config(None, {"protocol": "paper", "dataset": from_file.dataset}) == from_file
    assert load_config(None, {"protocol": "paper", "lr": 0.5}).lr == 0.5  # flags still win
    assert load_config(None, {}).embedding_dim == 16  # the notebook's defaults otherwise


@pytest.mark.parametrize("name", ["paper_diginetica.yaml", "paper_yoochoose.yaml"])
def test_paper_configs_hold_the_official_defaults(name):
    cfg = load_config(REPO_ROOT / "configs" / name)
    assert cfg.protocol == "paper"
    assert (cfg.embedding_dim, cfg.batch_size, cfg.step) == (100, 100, 1)
    assert cfg.lr == 1e-3 and cfg.weight_decay == 1e-5
    assert (cfg.lr_dc_step, cfg.lr_dc) == (3, 0.1)
    assert cfg.init == "uniform" and cfg.score_padding is False and cfg.nonhybrid is False
    assert (cfg.epochs, cfg.patience, cfg.valid_portion) == (30, 10, 0.1)
    assert cfg.select_on == "valid" and cfg.loss == "softmax"


# ============================================================================ real data
@pytest.mark.slow
def test_real_diginetica_counts_and_one_finite_loss(shared_data):
    folder = shared_data / "diginetica"
    if not (folder / "test.txt").is_file():
        pytest.skip(f"{folder} has no test.txt")
    cfg = load_config(REPO_ROOT / "configs" / "paper_diginetica.yaml")
    data = get_protocol("paper").load_data(cfg, folder)
    assert (len(data.train), len(data.valid), len(_test_split(data))) == (647_523, 71_947, 60_858)
    assert data.n_items == 43_098
    paddle.seed(0)
    model = SRGNN(cfg.replace(n_items=data.n_items))
    hist, mask, target = data.train.make_batch(np.arange(100))
    out = model(hist, mask, target, train=True)
    loss = float(out["loss"])
    assert np.isfinite(loss) and abs(loss - np.log(43_097)) < 1.0  # about uniform at initialisation
