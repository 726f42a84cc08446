"""``--visualdl`` / ``visualdl: true``: per epoch, the loss, the learning rate and every
validation metric written with VisualDL's ``LogWriter`` into ``<run_dir>/visualdl/``, read
back here with VisualDL's ``LogReader``; without VisualDL, one error line naming the extra.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
import pytest
import yaml

from srgnn_paddle import cli
from srgnn_paddle.synthetic import generate_synthetic
from srgnn_paddle.training import Trainer

from conftest import write_paper_folder

pytestmark = pytest.mark.cli

try:
    from visualdl import LogReader
except ImportError:
    LogReader = None

needs_visualdl = pytest.mark.skipif(LogReader is None, reason="VisualDL is not installed: pip install srgnn-paddle[vdl]")
FAST = ["--lr", "0.005", "--batch_size", "64", "--quiet", "--no-tsne"]
NOTEBOOK_METRICS = ["recall@50", "ndcg@50", "hitrate@50", "ndcg_rank@50", "mrr@50"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "tiny"
    generate_synthetic(path, seed=1, n_users=200, n_items=120, n_categories=6)
    return path


def _scalars(logdir: Path) -> Dict[str, List[Tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of the run's one VisualDL record file, in the order written."""
    assert [p.name for p in logdir.iterdir()] == ["vdlrecords.train.log"]
    reader = LogReader(file_path=str(logdir / "vdlrecords.train.log"))
    return {tag: [(int(r.id), float(r.value)) for r in reader.get_data("scalar", tag)]
            for tag in reader.get_tags().get("scalar", [])}


@needs_visualdl
def test_a_cli_run_writes_loss_lr_and_every_validation_metric(tiny_data, tmp_path):
    exp = tmp_path / "exp"
    assert cli.main(["train", "--data_dir", str(tiny_data), "--exp_dir", str(exp), *FAST, "--epochs", "3",
                     "--visualdl"]) == 0
    run = exp / "tiny_softmax" / "SRGNN_0.005_64_16"
    scalars = _scalars(run / "visualdl")
    assert sorted(scalars) == sorted(["train/loss", "train/lr"] + [f"valid/{m}" for m in NOTEBOOK_METRICS])
    log = pd.read_csv(run / "log.csv")
    valid = log[log["phase"] == "valid"]
    for tag, values in scalars.items():
        assert [step for step, _ in values] == [1, 2, 3], tag
        column = {"train/loss": "loss", "train/lr": "lr"}.get(tag, tag.removeprefix("valid/"))
        np.testing.assert_allclose([v for _, v in values], valid[column].to_numpy(float), rtol=1e-6, err_msg=tag)
    assert yaml.safe_load((run / "config.yaml").read_text())["visualdl"] is True


@needs_visualdl
def test_yaml_visualdl_true_on_the_paper_protocol_logs_the_decayed_lr(tmp_path):
    rng = np.random.default_rng(0)
    sessions = [[int((s + i) % 30) + 1 for i in range(int(rng.integers(2, 6)))] for s in rng.integers(0, 30, 200)]
    data = write_paper_folder(tmp_path / "sessions", sessions[:160], sessions[160:])
    config = tmp_path / "paper.yaml"
    config.write_text("protocol: paper\nvisualdl: true\nlr: 0.01\nlr_dc_step: 1\nembedding_dim: 8\nbatch_size: 32\n"
                      "epochs: 3\npatience: 5\ntsne: false\n")
    exp = tmp_path / "exp"
    assert cli.main(["train", "--config", str(config), "--data_dir", str(data), "--exp_dir", str(exp), "--quiet"]) == 0
    scalars = _scalars(exp / "sessions_paper" / "SRGNN_0.01_32_8" / "visualdl")
    paper_metrics = ["P@20", "MRR@20", "P@10", "MRR@10", "P@50", "MRR@50"]
    assert sorted(scalars) == sorted(["train/loss", "train/lr"] + [f"valid/{m}" for m in paper_metrics])
    assert all([s for s, _ in values] == [1, 2, 3] for values in scalars.values())
    np.testing.assert_allclose([v for _, v in scalars["train/lr"]], [1e-2, 1e-3, 1e-4], rtol=1e-6)


@needs_visualdl
def test_a_resumed_run_continues_the_same_log_without_repeating_epochs(tiny_data, tmp_path, monkeypatch, capsys):
    original = Trainer.train_epoch

    def interrupted(self, epoch):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", interrupted)
    exp = tmp_path / "exp"
    args = ["train", "--data_dir", str(tiny_data), "--exp_dir", str(exp), *FAST, "--epochs", "4", "--patience", "10",
            "--visualdl"]
    assert cli.main(args) == 130
    monkeypatch.setattr(Trainer, "train_epoch", original)
    capsys.readouterr()
    assert cli.main([*args, "--resume"]) == 0
    assert "VisualDL" not in capsys.readouterr().out
    scalars = _scalars(exp / "tiny_softmax" / "SRGNN_0.005_64_16" / "visualdl")
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4]
    assert [s for s, _ in scalars["valid/recall@50"]] == [1, 2, 3, 4]


def test_visualdl_asked_for_but_missing_is_one_error_line_and_no_run_folder(tiny_data, tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.setitem(sys.modules, "visualdl", None)  # `import visualdl` now raises ImportError
    exp = tmp_path / "exp"
    assert cli.main(["train", "--data_dir", str(tiny_data), "--exp_dir", str(exp), *FAST, "--epochs", "1",
                     "--visualdl"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "pip install srgnn-paddle[vdl]" in lines[0]
    assert "Traceback" not in err
    assert not exp.exists()
    # without the flag nothing needs VisualDL
    assert cli.main(["train", "--data_dir", str(tiny_data), "--exp_dir", str(exp), *FAST, "--epochs", "1"]) == 0
    assert not (exp / "tiny_softmax" / "SRGNN_0.005_64_16" / "visualdl").exists()
