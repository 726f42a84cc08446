"""End-to-end pipeline: train / evaluate / tsne / report through the CLI, early stopping,
resume after an interruption, refusal of an existing run, and every bad input to ``train``.

All runs use a tiny generated dataset (160 training users, 119 items) and a few epochs.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import pandas as pd
import pytest
import yaml

from srgnn_paddle import cli
from srgnn_paddle.config import load_config
from srgnn_paddle.data import SequenceDataset
from srgnn_paddle.plots import item_labels, popularity_deciles, sample_items
from srgnn_paddle.report import PUBLISHED, build_report, published_for
from srgnn_paddle.evaluation.baselines import evaluate_popularity
from srgnn_paddle.kernels import Kernels
from srgnn_paddle.runs import run_dir_for
from srgnn_paddle.synthetic import generate_synthetic
from srgnn_paddle.training import EarlyStopping, Trainer, TrainerOptions

pytestmark = pytest.mark.cli

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = {"seed": 1, "n_users": 200, "n_items": 120, "n_categories": 6}
FAST = ["--lr", "0.005", "--batch_size", "64", "--quiet", "--no-tsne"]
RUN_NAME = "tiny_softmax/SRGNN_0.005_64_16"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic dataset (folder name ``tiny``), generated once for the module."""
    path = tmp_path_factory.mktemp("data") / "tiny"
    generate_synthetic(path, **TINY)
    return path


def _train(data_dir: Path, exp_dir: Path, *extra: str) -> int:
    return cli.main(["train", "--data_dir", str(data_dir), "--exp_dir", str(exp_dir), *FAST, *extra])


def _error_lines(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# ---------------------------------------------------------------------------- early stopping
class _ScriptedEvaluator:
    """Stands in for the validation (or test) evaluator of a real Trainer: epoch e's
    recall@50 is ``scores[e - 1]``; it remembers the item table it was shown each time."""

    def __init__(self, scores: Sequence[float]) -> None:
        self.scores = list(scores)
        self.seen: List[np.ndarray] = []

    def __call__(self, model, desc: str = "eval"):
        self.seen.append(model.item_emb.weight.numpy().copy())
        return {"recall@50": self.scores[len(self.seen) - 1], "ndcg@50": 0.0, "hitrate@50": 0.0}

    def score(self, metrics):
        return (metrics["recall@50"],)

    def columns(self):
        return ["recall@50", "ndcg@50", "hitrate@50"]


def _stop_epoch(scores: Sequence[float], patience: int, tmp_path: Path) -> Tuple[int, int, List[int]]:
    """Run a real Trainer.fit whose validation metric follows ``scores``: returns (last
    epoch trained, best epoch, epochs logged as improving), after checking that the test
    split was scored once, with the best epoch's weights."""
    from srgnn_paddle.config import Config
    from srgnn_paddle.models import SRGNN

    seqs = {u: [(u * 5 + t) % 30 + 1 for t in range(7)] for u in range(1, 21)}
    frame = pd.DataFrame([(u, i, t) for u, items in seqs.items() for t, i in enumerate(items)],
                         columns=["user_id", "item_id", "timestamp"])
    cfg = Config(n_items=31, embedding_dim=4, batch_size=8, epochs=len(scores), patience=patience, lr=0.01)
    valid, test = _ScriptedEvaluator(scores), _ScriptedEvaluator([0.5])
    messages: List[str] = []
    run_dir = tmp_path / f"run_{len(list(tmp_path.iterdir()))}"
    run_dir.mkdir()
    trainer = Trainer(cfg, SRGNN(cfg), SequenceDataset(cfg, frame, "train"), valid, run_dir, lambda: test,
                      Kernels(), TrainerOptions(progress=False, log=messages.append))
    summary = trainer.fit()
    improved = [int(m.split(":")[0].split()[1]) for m in messages if "*best*" in m]
    log = pd.read_csv(run_dir / "log.csv")
    assert list(log["phase"]) == ["valid"] * summary["epochs_run"] + ["test"]
    assert len(test.seen) == 1 and np.array_equal(test.seen[0], valid.seen[summary["best_epoch"] - 1])
    return summary["epochs_run"], summary["best_epoch"], improved


def test_early_stopping_reproduces_the_notebooks_published_run(tmp_path):
    # spec notebook.md §8: valid recall@50 per epoch; best epoch 1, stopped after epoch 7
    recalls = [0.129350, 0.124243, 0.110797, 0.099720, 0.094904, 0.101922, 0.107475, 0.2]
    assert _stop_epoch(recalls, 5, tmp_path) == (7, 1, [1])


def test_early_stopping_needs_a_strictly_greater_score(tmp_path):
    # epoch 3 only equals the best: no improvement, so the counter runs from epoch 2
    assert _stop_epoch([0.1, 0.2, 0.2, 0.15, 0.19, 0.3], 2, tmp_path) == (5, 2, [1, 2])
    assert _stop_epoch([0.1, 0.2, 0.2, 0.15, 0.21, 0.3, 0.3, 0.3], 2, tmp_path) == (8, 6, [1, 2, 5, 6])
    assert _stop_epoch([0.5, 0.4], 0, tmp_path) == (2, 1, [1])
    assert _stop_epoch([0.1, 0.2, 0.3], 0, tmp_path) == (3, 3, [1, 2, 3])  # ran out of epochs


@pytest.mark.parametrize("nan_epoch", [1, 2])
def test_nan_loss_stops_with_one_error_and_keeps_the_best_weights(tiny_data, tmp_path, capsys, monkeypatch,
                                                                  nan_epoch):
    real = Trainer.train_epoch
    kept = {}

    def train_epoch(self, epoch):
        if epoch == nan_epoch:
            kept["weights"] = {k: v.numpy().copy() for k, v in self.model.state_dict().items()}
            return float("nan")
        return real(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", train_epoch)
    exp = tmp_path / "exp"
    assert _train(tiny_data, exp, "--epochs", "4") == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "NaN" in errors[0] and f"epoch {nan_epoch}" in errors[0]
    run = exp / RUN_NAME
    if nan_epoch == 1:  # nothing finished: nothing is left behind
        assert "no weights to keep" in errors[0]
        assert not run.exists()
        return
    assert "(epoch 1)" in errors[0] and str(run / "model.pdparams") in errors[0]
    import paddle

    best = paddle.load(str(run / "model.pdparams"))  # epoch 1's weights, the state NaN was hit from
    for name, value in kept["weights"].items():
        np.testing.assert_array_equal(best[name].numpy(), value)
    log = pd.read_csv(run / "log.csv")
    assert list(log["epoch"]) == [1] and list(log["phase"]) == ["valid"]


def test_early_stopping_tuples_break_ties_and_state_round_trips():
    stopper = EarlyStopping(3)
    assert stopper.update(1, (50.0, 17.0))
    assert not stopper.update(2, (50.0, 17.0))
    assert stopper.update(3, (50.0, 17.5))  # same P@20, better MRR@20
    assert not stopper.update(4, (49.9, 30.0))
    copy = EarlyStopping(0)
    copy.set_state_dict(stopper.state_dict())
    assert (copy.patience, copy.best_epoch, copy.best_score) == (3, 3, (50.0, 17.5))
    assert not copy.should_stop(6) and copy.should_stop(7)


# ---------------------------------------------------------------------------- train in-process
def test_train_writes_the_run_folder_and_prints_the_table(tiny_data, tmp_path, capsys):
    exp = tmp_path / "exp"
    rc = cli.main(["train", "--data_dir", str(tiny_data), "--exp_dir", str(exp), "--lr", "0.005",
                   "--batch_size", "64", "--epochs", "3", "--quiet", "--tsne_max_items", "60"])
    out = capsys.readouterr().out
    assert rc == 0
    run = exp / RUN_NAME
    for name in ("model.pdparams", "checkpoint.pdckpt", "log.csv", "config.yaml", "summary.json",
                 "tsne.png", "curves.png"):
        assert (run / name).is_file(), name
    assert (run / "tsne.png").read_bytes()[:8] == PNG_MAGIC
    assert (run / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    log = pd.read_csv(run / "log.csv")
    assert list(log.columns[:4]) == ["recall@50", "ndcg@50", "hitrate@50", "phase"]
    assert list(log["phase"]) == ["valid", "valid", "valid", "test"]
    assert list(log["epoch"]) == [1, 2, 3, log["epoch"].iloc[-1]]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 3 and log["epoch"].iloc[-1] == summary["best_epoch"]
    assert summary["test"]["recall@50"] == pytest.approx(log["recall@50"].iloc[-1])
    assert Path(summary["data_dir"]) == tiny_data.resolve()
    assert load_config(run / "config.yaml").n_items == 120

    # popularity: the 50 most frequent training items for the same test users, same metrics
    train = pd.read_csv(tiny_data / "train_enc.csv")
    test = SequenceDataset({"max_length": 20}, pd.read_csv(tiny_data / "test_enc.csv"), "test")
    expected = evaluate_popularity(train["item_id"].to_numpy(), test.get_test_gd(), topN=50)
    assert summary["popularity_test"]["recall@50"] == pytest.approx(expected["recall@50"])
    assert summary["popularity_test"]["ndcg@50"] == pytest.approx(expected["ndcg@50"])
    assert 0.0 < expected["recall@50"] < 1.0
    # the printed table: the log's rows, then the popularity row
    table = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert [row[4] for row in table] == ["valid", "valid", "valid", "test", "popularity_test"]
    assert float(table[-1][1]) == pytest.approx(expected["recall@50"], abs=1e-6)
    assert f"best epoch {summary['best_epoch']}" in out


def test_existing_run_is_refused_then_overwritten(tiny_data, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert _train(tiny_data, exp, "--epochs", "1") == 0
    run = exp / RUN_NAME
    before = (run / "log.csv").read_bytes()
    capsys.readouterr()
    assert _train(tiny_data, exp, "--epochs", "2") == 2
    err = capsys.readouterr().err
    assert _error_lines(err) == [f"error: {run} already holds a run; add --resume to continue it "
                                 f"or --overwrite to replace it"]
    assert (run / "log.csv").read_bytes() == before
    assert _train(tiny_data, exp, "--epochs", "2", "--overwrite") == 0
    assert list(pd.read_csv(run / "log.csv")["phase"]) == ["valid", "valid", "test"]
    assert _train(tiny_data, exp, "--epochs", "2", "--resume", "--overwrite") == 2
    assert "exclude each other" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_after_an_interruption_matches_an_uninterrupted_run(tiny_data, tmp_path, monkeypatch, capsys):
    args = ("--epochs", "4", "--patience", "10")
    assert _train(tiny_data, tmp_path / "straight", *args) == 0
    reference = pd.read_csv(tmp_path / "straight" / RUN_NAME / "log.csv")

    original = Trainer.train_epoch

    def interrupted(self, epoch):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", interrupted)
    exp = tmp_path / "resumed"
    assert _train(tiny_data, exp, *args) == 130
    run = exp / RUN_NAME
    assert list(pd.read_csv(run / "log.csv")["epoch"]) == [1, 2]
    assert not (run / "summary.json").exists()
    assert _train(tiny_data, exp, *args) == 2  # the half-done run is not silently restarted
    assert "--resume" in _error_lines(capsys.readouterr().err)[0]
    monkeypatch.setattr(Trainer, "train_epoch", original)
    assert _train(tiny_data, exp, *args, "--max_length", "10", "--resume") == 2
    assert "saved config differs" in capsys.readouterr().err

    assert _train(tiny_data, exp, *args, "--resume") == 0
    resumed = pd.read_csv(run / "log.csv")
    assert list(resumed["phase"]) == ["valid"] * 4 + ["test"]
    assert list(resumed["epoch"][:4]) == [1, 2, 3, 4]
    cols = ["recall@50", "ndcg@50", "hitrate@50", "epoch", "loss"]
    np.testing.assert_allclose(resumed[cols].to_numpy(float), reference[cols].to_numpy(float),
                               rtol=1e-5, atol=1e-6)
    # resuming a finished run changes nothing
    assert _train(tiny_data, exp, *args, "--resume") == 0
    pd.testing.assert_frame_equal(pd.read_csv(run / "log.csv"), resumed)


@pytest.mark.slow
def test_resume_after_the_process_is_killed(tmp_path):
    """SIGKILL a real training process after its second epoch, then --resume in a new
    process: every epoch is logged once, and the log equals an uninterrupted run's."""
    data = tmp_path / "mid"
    generate_synthetic(data, seed=3, n_users=2500, n_items=300, n_categories=8)  # epochs of ~0.25 s
    args = [*FAST, "--epochs", "8", "--patience", "20"]
    assert _train(data, tmp_path / "straight", *args) == 0
    reference = pd.read_csv(tmp_path / "straight" / "mid_softmax" / "SRGNN_0.005_64_16" / "log.csv")

    exp = tmp_path / "killed"
    run = exp / "mid_softmax" / "SRGNN_0.005_64_16"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "srgnn_paddle", "train", "--data_dir", str(data),
                             "--exp_dir", str(exp), *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            log = run / "log.csv"
            if log.exists() and len(pd.read_csv(log)) >= 2:
                proc.kill()  # SIGKILL: no cleanup runs
                break
            time.sleep(0.02)
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == -9, "the run ended before it could be killed; make its epochs longer"
    done = list(pd.read_csv(run / "log.csv")["epoch"])
    assert 2 <= len(done) < 8 and not (run / "summary.json").exists()

    assert _run_cli(["train", "--data_dir", str(data), "--exp_dir", str(exp), *args, "--resume"]).returncode == 0
    resumed = pd.read_csv(run / "log.csv")
    assert list(resumed["phase"]) == ["valid"] * 8 + ["test"]
    assert list(resumed["epoch"][:8]) == list(range(1, 9))
    cols = ["recall@50", "ndcg@50", "hitrate@50", "epoch", "loss"]
    np.testing.assert_allclose(resumed[cols].to_numpy(float), reference[cols].to_numpy(float), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- bad inputs
def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _short_users(path: Path, length: int) -> None:
    rows = [f"{u},{u * 3 + i + 1},{i}" for u in range(1, 6) for i in range(length)]
    _write(path, "user_id,item_id,timestamp\n" + "\n".join(rows) + "\n")


BAD_INPUTS = {
    # name: (how to spoil a copy of the data, the file named in the error, words in it)
    "missing_file": (lambda d: (d / "valid_enc.csv").unlink(), "valid_enc.csv", "file not found"),
    "unreadable": (lambda d: (d / "test_enc.csv").write_bytes(b"user_id,item_id\xff\xfe,timestamp\n\x81\x00,1,2\n"),
                   "test_enc.csv", "cannot be read"),
    "missing_column": (lambda d: _write(d / "train_enc.csv", "user_id,item,timestamp\n1,2,3\n"),
                       "train_enc.csv", "missing column(s) item_id"),
    "non_integer_id": (lambda d: _write(d / "valid_enc.csv", "user_id,item_id,timestamp\n1,2,3\n1,abc,4\n"),
                       "valid_enc.csv", "line 3, column 'item_id'"),
    "fractional_id": (lambda d: _write(d / "test_enc.csv", "user_id,item_id,timestamp\n1.5,2,3\n"),
                      "test_enc.csv", "line 2, column 'user_id'"),
    "negative_id": (lambda d: _write(d / "train_enc.csv", "user_id,item_id,timestamp\n1,2,3\n1,-4,5\n"),
                    "train_enc.csv", "id -4 is < 1"),
    "empty_file": (lambda d: _write(d / "valid_enc.csv", ""), "valid_enc.csv", "file is empty"),
    "header_only": (lambda d: _write(d / "test_enc.csv", "user_id,item_id,timestamp\n"),
                    "test_enc.csv", "no rows"),
    "no_usable_train_users": (lambda d: _short_users(d / "train_enc.csv", 4), "train_enc.csv", "no usable users"),
    "no_usable_test_users": (lambda d: _short_users(d / "test_enc.csv", 1), "test_enc.csv", "no usable users"),
    # raw, un-encoded ids: an item table of 2e9 rows (128 GB at D 16) must not be allocated
    "raw_item_id": (lambda d: _raw_id(d / "valid_enc.csv", 2_000_000_000), "valid_enc.csv",
                    "line 4, column 'item_id': item id 2000000000 would size the item table at 2000000001 rows, over the limit "
                    "of 100,000,000 rows"),
}


def _raw_id(path: Path, value: int) -> None:
    (path.parent / "meta.json").unlink()  # no n_items recorded: the table would be sized from the ids
    frame = pd.read_csv(path)
    frame.loc[2, "item_id"] = value
    frame.to_csv(path, index=False)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_ends_with_one_error_line_and_no_run_folder(case, tiny_data, tmp_path, capsys):
    spoil, fname, words = BAD_INPUTS[case]
    data = tmp_path / "tiny"
    shutil.copytree(tiny_data, data)
    spoil(data)
    exp = tmp_path / "exp"
    assert _train(data, exp, "--epochs", "1") == 2
    captured = capsys.readouterr()
    errors = _error_lines(captured.err)
    assert len(errors) == 1 and captured.err.strip().splitlines()[-1] == errors[0]
    assert str(data / fname) in errors[0] and words in errors[0]
    assert "Traceback" not in captured.err + captured.out
    assert not exp.exists()


@pytest.mark.parametrize("extra, words", [
    (["--data_dir", "{tmp}/nowhere"], "nowhere: data folder not found"),
    (["--data_dir", "{data}", "--n_items", "50"], ">= n_items 50"),
    (["--data_dir", "{data}", "--n_items", "2000000000"], "n_items 2000000000 x embedding_dim 16 needs 476.8 GiB"),
    (["--data_dir", "{data}", "--config", "{tmp}/missing.yaml"], "missing.yaml: config file not found"),
    (["--data_dir", "{data}", "--resume"], "no checkpoint to resume"),
])
def test_bad_arguments_end_with_one_error_line(extra, words, tiny_data, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, data=tiny_data) for a in extra]
    exp = tmp_path / "exp"
    assert cli.main(["train", "--exp_dir", str(exp), *FAST, "--epochs", "1", *argv]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and words in errors[0]
    assert not exp.exists()


@pytest.mark.slow
def test_bad_input_through_a_real_process_has_no_traceback(tiny_data, tmp_path):
    data = tmp_path / "tiny"
    shutil.copytree(tiny_data, data)
    _write(data / "train_enc.csv", "user_id,item_id,timestamp\n1,x,3\n")
    proc = _run_cli(["train", "--data_dir", str(data), "--exp_dir", str(tmp_path / "exp"), *FAST])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {data / 'train_enc.csv'}: line 2, column 'item_id': 'x' is not an integer id; "
        f"encode ids as integers (see 'srgnn-paddle prepare')"]
    assert not (tmp_path / "exp").exists()


# ---------------------------------------------------------------------------- subprocess end to end
def _run_cli(argv: List[str]) -> subprocess.CompletedProcess:
    """``python -m srgnn_paddle ...`` importing this checkout (PYTHONPATH = its root)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "srgnn_paddle", *argv], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.slow
def test_train_evaluate_tsne_report_in_real_processes(tiny_data, tmp_path):
    exp = tmp_path / "exp"
    proc = _run_cli(["train", "--data_dir", str(tiny_data), "--exp_dir", str(exp), *FAST, "--epochs", "2"])
    assert proc.returncode == 0, proc.stderr
    assert "popularity_test" in proc.stdout
    run = exp / RUN_NAME
    summary = json.loads((run / "summary.json").read_text())
    assert not (run / "tsne.png").exists()  # --no-tsne

    proc = _run_cli(["evaluate", "--run_dir", str(run), "--quiet"])  # data folder from summary.json
    assert proc.returncode == 0, proc.stderr
    printed = dict(line.split("\t") for line in proc.stdout.strip().splitlines())
    assert float(printed["recall@50"]) == pytest.approx(summary["test"]["recall@50"], abs=1e-6)
    assert float(printed["hitrate@50"]) == pytest.approx(summary["test"]["hitrate@50"], abs=1e-6)

    out = tmp_path / "map.png"
    proc = _run_cli(["tsne", "--run_dir", str(run), "--data_dir", str(tiny_data), "--out", str(out),
                     "--max_items", "40"])
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC

    unfinished = exp / "other_softmax" / "SRGNN_0.1_8_4"
    unfinished.mkdir(parents=True)
    shutil.copy(run / "config.yaml", unfinished / "config.yaml")
    proc = _run_cli(["report", "--exp_dir", str(exp)])
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(exp / "results.csv")
    assert list(table["run"]) == ["other_softmax/SRGNN_0.1_8_4", RUN_NAME]
    assert list(table["status"]) == ["unfinished", "finished"]
    done = table.iloc[1]
    assert done["test_recall@50"] == pytest.approx(summary["test"]["recall@50"])
    assert done["popularity_test"] == pytest.approx(summary["popularity_test"]["recall@50"])
    assert done["best_epoch"] == summary["best_epoch"] and done["batch_size"] == 64
    md = (exp / "results.md").read_text()
    assert RUN_NAME in md and "| unfinished |" in md
    assert RUN_NAME in proc.stdout


# ---------------------------------------------------------------------------- report
def _fake_run(exp: Path, folder: str, cfg: dict, summary=None, log: str = "") -> Path:
    run = exp / folder
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    if summary is not None:
        (run / "summary.json").write_text(summary if isinstance(summary, str) else json.dumps(summary))
    if log:
        (run / "log.csv").write_text(log)
    return run


def test_report_puts_published_numbers_beside_matching_runs(tmp_path, capsys):
    exp = tmp_path / "exp"
    nb = {"dataset": "ml-20m", "protocol": "notebook", "lr": 0.0001, "batch_size": 256, "embedding_dim": 16}
    _fake_run(exp, "ml-20m_softmax/SRGNN_0.0001_256_16", nb, {
        "best_epoch": 1, "epochs_run": 7, "train_seconds": 100.0, "data_dir": "/data/data173799",
        "valid": {"recall@50": 0.13}, "test": {"recall@50": 0.14, "ndcg@50": 0.3, "hitrate@50": 0.6}})
    paper = {"dataset": "diginetica", "protocol": "paper", "lr": 0.001, "batch_size": 100, "embedding_dim": 100}
    _fake_run(exp, "diginetica_paper/SRGNN_0.001_100_100", paper, {
        "best_epoch": 4, "epochs_run": 14, "train_seconds": 9000.0, "data_dir": "/d/diginetica",
        "valid": {"P@20": 52.0}, "test": {"P@20": 51.0, "MRR@20": 17.0},
        "test_best_over_epochs": {"P@20": 51.5, "MRR@20": 17.8, "P@10": 40.0}})
    synth = {**nb, "dataset": "ml-20m"}  # notebook.yaml borrowed for synthetic data: no published row
    _fake_run(exp, "x_softmax/SRGNN_0.0001_256_16", synth, {
        "best_epoch": 2, "data_dir": "/d/synthetic", "valid": {"recall@50": 0.3}, "test": {"recall@50": 0.3}})
    _fake_run(exp, "y_softmax/SRGNN_0.01_256_16", nb, "{not json",
              log="recall@50,ndcg@50,hitrate@50,phase,epoch\n0.1,0.2,0.3,valid,1\n0.15,0.2,0.3,valid,2\n"
                  "0.12,0.2,0.3,valid,3\n")
    assert cli.main(["report", "--exp_dir", str(exp)]) == 0
    table = pd.read_csv(exp / "results.csv").set_index("run")
    ml = table.loc["ml-20m_softmax/SRGNN_0.0001_256_16"]
    assert ml["published_recall@50"] == 0.130097
    assert ml["diff_recall@50"] == pytest.approx(0.14 - 0.130097)
    assert ml["diff_hitrate@50"] == pytest.approx(0.6 - 0.586691)
    dg = table.loc["diginetica_paper/SRGNN_0.001_100_100"]
    assert (dg["test_P@20"], dg["published_P@20"], dg["diff_MRR@20"]) == (51.0, 50.73, pytest.approx(17.0 - 17.59))
    assert dg["best_valid"] == 52.0 and dg["valid_metric"] == "P@20"
    assert (dg["test_best_P@20"], dg["test_best_MRR@20"]) == (51.5, 17.8)  # the official script's habit
    assert pd.isna(ml["test_best_P@20"])
    assert pd.isna(table.loc["x_softmax/SRGNN_0.0001_256_16", "published"])
    broken = table.loc["y_softmax/SRGNN_0.01_256_16"]
    assert (broken["status"], broken["best_epoch"], broken["best_valid"]) == ("unfinished", 2, 0.15)
    assert "50.73" in (exp / "results.md").read_text()
    assert "| unfinished |" in capsys.readouterr().out


def test_report_published_table_and_errors(tmp_path, capsys):
    assert published_for("notebook", "whatever", "/mnt/data173799")["metrics"]["recall@50"] == 0.130097
    assert published_for("paper", "yoochoose1_64")["metrics"] == {"P@20": 70.57, "MRR@20": 30.94}
    assert published_for("notebook", "diginetica") is None
    assert published_for("paper", "tmall", "/data/tmall")["models"]["gcegnn"] == ("GCE-GNN", {"P@20": 33.42,
                                                                                               "MRR@20": 15.42})
    assert len(PUBLISHED) == 6
    assert build_report(tmp_path).empty
    assert cli.main(["report", "--exp_dir", str(tmp_path / "none")]) == 2
    assert _error_lines(capsys.readouterr().err)[0].startswith(f"error: {tmp_path / 'none'}: experiment folder")


# ---------------------------------------------------------------------------- plots helpers, scripts
def test_tsne_labels_sampling_and_deciles(tiny_data):
    np.testing.assert_array_equal(popularity_deciles(np.array([5, 0, 9, 1, 3, 3, 7, 2, 8, 4])),
                                  [6, 0, 9, 1, 3, 4, 7, 2, 8, 5])
    ids = sample_items(1000, 100, seed=3)
    assert len(ids) == 100 and ids.min() >= 1 and np.all(np.diff(ids) > 0)
    np.testing.assert_array_equal(sample_items(6, 0), [1, 2, 3, 4, 5])
    labels, name = item_labels(tiny_data, None, 120)
    cats = pd.read_csv(tiny_data / "items.csv")
    assert name == "category" and labels[0] == -1
    np.testing.assert_array_equal(labels[cats["item_id"]], cats["category"])
    labels, name = item_labels(None, np.arange(10), 10)
    assert name == "popularity decile" and list(labels) == list(range(10))


def test_scripts_default_run_is_the_synthetic_configs_run():
    cfg = load_config(REPO_ROOT / "configs" / "synthetic.yaml")
    expected = run_dir_for(cfg, Path("exp")).as_posix()
    for script in ("evaluate.sh", "tsne.sh"):
        text = (REPO_ROOT / "scripts" / script).read_text()
        assert f'DEFAULT_RUN="{expected}"' in text, script
    assert "configs/synthetic.yaml" in (REPO_ROOT / "scripts" / "train.sh").read_text()


def test_paper_protocol_run_has_its_baseline_curves_and_report_row(tmp_path, capsys):
    from conftest import write_paper_folder
    from srgnn_paddle.data.sessions import augment_prefixes

    rng = np.random.default_rng(0)
    # sessions walk a ring of 30 items: the next item is predictable, popularity is flat-ish
    sessions = [[int((s + i) % 30) + 1 for i in range(int(rng.integers(2, 6)))] for s in rng.integers(0, 30, 300)]
    data = write_paper_folder(tmp_path / "diginetica", sessions[:240], sessions[240:])
    exp = tmp_path / "exp"
    rc = cli.main(["train", "--data_dir", str(data), "--exp_dir", str(exp), "--protocol", "paper", "--lr", "0.01",
                   "--batch_size", "32", "--embedding_dim", "16", "--epochs", "2", "--valid_portion", "0.2", "--quiet",
                   "--tsne_max_items", "20"])
    assert rc == 0
    run = exp / "diginetica_paper" / "SRGNN_0.01_32_16"
    log = pd.read_csv(run / "log.csv")
    assert list(log.columns[:2]) == ["P@20", "MRR@20"] and list(log["phase"]) == ["valid", "valid", "test"]
    summary = json.loads((run / "summary.json").read_text())
    test_seqs, test_labels = augment_prefixes(sessions[240:])
    counts = np.bincount(augment_prefixes(sessions[:240])[1], minlength=31)
    top20 = np.argsort(-counts, kind="stable")[:20]
    assert summary["popularity_test"]["P@20"] == pytest.approx(100.0 * np.isin(test_labels, top20).mean())
    assert (run / "curves.png").is_file() and (run / "tsne.png").is_file()
    assert "popularity_test" in capsys.readouterr().out
    row = build_report(exp).iloc[0]
    assert row["published_P@20"] == 50.73
    assert row["diff_P@20"] == pytest.approx(summary["test"]["P@20"] - 50.73)


def test_train_without_data_dir_uses_the_embedded_synthetic_data(tmp_path, monkeypatch):
    import argparse

    from srgnn_paddle.config import Config

    monkeypatch.chdir(tmp_path)
    data_dir, cfg = cli._resolve_data(argparse.Namespace(data_dir=None, dataset=None), Config())
    assert data_dir == Path("data/synthetic") and cfg.dataset == "synthetic"
    assert sorted(p.name for p in data_dir.iterdir()) == [
        "items.csv", "meta.json", "test_enc.csv", "train_enc.csv", "valid_enc.csv"]
    assert json.loads((data_dir / "meta.json").read_text())["seed"] == 2024
    # a second call reuses the folder; a --dataset given on the command line names the run,
    # a config file's dataset does not (it would name runs on other data)
    assert cli._resolve_data(argparse.Namespace(data_dir=None, dataset="x"), Config(dataset="x"))[1].dataset == "x"
    assert cli._resolve_data(argparse.Namespace(data_dir=None, dataset=None), Config(dataset="x"))[1].dataset == "synthetic"
