"""benchmarks/session_benchmark.py through its command line (``main(argv)``), on two tiny
generated datasets (a raw DIGINETICA-format click log it prepares, and a paper-layout folder of
one's own) and two models for one epoch: the runs and their results are made, a second call
skips them, an interrupted run is continued from its checkpoint."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import session_benchmark
from srgnn_paddle.config import load_config

from conftest import write_paper_folder

pytestmark = [pytest.mark.slow, pytest.mark.cli]

TINY = ["--set", "embedding_dim=8", "--set", "batch_size=32", "--set", "eval_batch_size=256", "--set", "cpu_threads=1"]

#: a Python that runs 'srgnn_paddle train' but stops like Ctrl-C right after the first checkpoint
INTERRUPTING_PYTHON = '''
import sys
from srgnn_paddle.training import Trainer

saved = Trainer.save_checkpoint


def save_then_stop(self):
    saved(self)
    raise KeyboardInterrupt


Trainer.save_checkpoint = save_then_stop
from srgnn_paddle.cli import main

assert sys.argv[1:3] == ["-m", "srgnn_paddle"]
sys.exit(main(sys.argv[3:]))
'''


def _raw_clicks(path: Path, seed: int = 0, sessions: int = 300, items: int = 40, days: int = 30) -> Path:
    """A DIGINETICA-format click log (``session_id;user_id;item_id;timeframe;eventdate``)."""
    rng = np.random.default_rng(seed)
    lines = ["session_id;user_id;item_id;timeframe;eventdate"]
    for s in range(1, sessions + 1):
        day = pd.Timestamp("2016-01-01") + pd.Timedelta(days=int(rng.integers(0, days)))
        for k in range(int(rng.integers(1, 7))):
            lines.append(f"{s};NA;{int(rng.zipf(1.4) % items + 1) * 7};{k * 1000};{day:%Y-%m-%d}")
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _pickles(folder: Path) -> Path:
    rng = np.random.default_rng(1)
    sessions = [rng.integers(1, 25, size=int(rng.integers(2, 8))).tolist() for _ in range(80)]
    return write_paper_folder(folder, sessions, sessions[-10:])


@pytest.fixture()
def setting(tmp_path):
    root = tmp_path / "data"
    _raw_clicks(root / "diginetica" / "train-item-views.csv")
    tiny = _pickles(tmp_path / "mine" / "tiny")
    argv = ["--data_root", str(root), "--data", f"tiny={tiny}", "--datasets", "diginetica,tiny",
            "--models", "stamp,pop", "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results"),
            "--set", "epochs=1", *TINY]
    return tmp_path, argv


def test_runs_are_made_then_skipped_and_an_interrupted_run_continues(setting, capsys):
    tmp_path, argv = setting
    work, results = tmp_path / "work", tmp_path / "results"
    assert session_benchmark.main(argv) == 0
    out = capsys.readouterr().out
    assert "== preparing diginetica: srgnn-paddle prepare diginetica" in out
    assert (work / "data" / "diginetica" / "all_train_seq.txt").is_file()
    assert "== 4 run(s): 4 new" in out
    assert "time left: estimated once a run of their model has finished" in out
    assert "estimated time left" in out  # once POP and STAMP have one finished run each
    for dataset in ("diginetica", "tiny"):
        for run in ("POP", "STAMP_0.001_32_8"):
            folder = results / dataset / run
            assert {p.name for p in folder.iterdir()} >= {"log.csv", "summary.json", "config.yaml", "console.txt"}
            summary = json.loads((folder / "summary.json").read_text())
            assert summary["dataset"] == dataset and "test_refit" in summary  # the refit row beside
            cfg = load_config(folder / "config.yaml")
            assert (cfg.protocol, cfg.epochs, cfg.refit, cfg.embedding_dim, cfg.lr) == ("paper", 1, True, 8, 0.001)
            assert cfg.valid_split == "sessions"  # the benchmark's default
            phases = pd.read_csv(folder / "log.csv")["phase"].tolist()
            assert phases[-2:] == ["test", "test_refit"] and phases.count("test") == 1  # test scored once
        assert (results / dataset / "refit_log.csv").exists() is False
        assert (results / dataset / "STAMP_0.001_32_8" / "refit_log.csv").is_file()
        table = (results / dataset / "compare.md").read_text()
        assert table.startswith(f"### {dataset} (paper protocol)")
        assert "| STAMP (refit) |" in table and "| POP |" in table
        assert "p P@20 vs best (Wilcoxon signed-rank test, Holm)" in table  # from the compacted ranks
        assert "Validation split of these runs: sessions (the most recent 10% of the training sessions" in table
        assert (results / dataset / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        for run in ("POP", "STAMP_0.001_32_8"):  # the ranks kept: uint8, past 255 as 255, the refit model's too
            for ranks in ("test_ranks.npy", "refit/test_ranks.npy"):
                full = np.load(work / f"{dataset}_paper" / run / ranks)
                kept = np.load(results / dataset / run / ranks)
                assert kept.dtype == np.uint8 and np.array_equal(kept, np.minimum(full, 255))
        data = json.loads((results / dataset / "data.json").read_text())
        assert data["train_pairs"] > 0 and data["test_pairs"] > 0
    assert "epoch 1: loss" in (results / "tiny" / "STAMP_0.001_32_8" / "console.txt").read_text()
    both = (results / "results.md").read_text()
    assert "### diginetica (paper protocol)" in both and "### tiny (paper protocol)" in both
    assert (results / "results.csv").is_file()

    consoles = {p: p.read_text() for p in (work / "console").rglob("*.txt")}
    assert session_benchmark.main(argv) == 0  # everything is there: nothing runs again
    out = capsys.readouterr().out
    assert "== 4 run(s): 4 done" in out and "epoch 1: loss" not in out
    assert {p: p.read_text() for p in (work / "console").rglob("*.txt")} == consoles
    assert session_benchmark.main(argv + ["--set", "embedding_dim=8", "--set", "dropout=0.2"]) == 2
    assert "was trained with other settings (dropout 0.0 -> 0.2)" in capsys.readouterr().err

    # an interrupted run (Ctrl-C after its first epoch) is continued by the next call
    wrapper = tmp_path / "interrupting.py"
    wrapper.write_text(INTERRUPTING_PYTHON)
    seeded = argv + ["--seeds", "7", "--datasets", "tiny", "--models", "stamp", "--set", "epochs=2"]
    assert session_benchmark.main(seeded + ["--python", f"{sys.executable} {wrapper}"]) == 130
    out = capsys.readouterr().out
    assert "interrupted during tiny/STAMP_0.001_32_8_seed7" in out
    run_dir = work / "tiny_paper" / "STAMP_0.001_32_8_seed7"
    assert (run_dir / "checkpoint.pdckpt").is_file() and not (run_dir / "summary.json").exists()
    assert session_benchmark.main(seeded + ["--dry_run"]) == 0
    assert "resume    tiny/STAMP_0.001_32_8_seed7 (paper_tiny.yaml" not in capsys.readouterr().out  # no such config
    assert session_benchmark.main(seeded) == 0
    out = capsys.readouterr().out
    assert "resume (paper defaults)" in out and "resuming" in out and "after epoch 1" in out
    log = pd.read_csv(run_dir / "log.csv")
    assert log.loc[log["phase"] == "valid", "epoch"].tolist() == [1, 2]
    summary = json.loads((results / "tiny" / "STAMP_0.001_32_8_seed7" / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and "test_refit" in summary
    assert load_config(run_dir / "config.yaml").seed == 7


def test_bad_arguments_are_one_error(setting, capsys):
    _, argv = setting
    assert session_benchmark.main(argv + ["--models", "nope"]) == 2
    assert "error: unknown model(s) nope; choose among" in capsys.readouterr().err
    assert session_benchmark.main(argv + ["--set", "model=narm"]) == 2
    assert "the benchmark sets 'model' itself" in capsys.readouterr().err
    assert session_benchmark.main(argv + ["--set", "embeding_dim=3"]) == 2
    assert "unknown key 'embeding_dim'" in capsys.readouterr().err
    assert session_benchmark.main(["--data_root", "/nonexistent", "--datasets", "tmall", "--dry_run"]) == 2
    assert "dataset tmall: /nonexistent/tmall holds no all_train_seq.txt" in capsys.readouterr().err


def test_gcegnn_runs_each_dataset_with_the_official_branch_of_main():
    """GCE-GNN's official main.py sets hops and two dropouts per dataset: the benchmark's
    configuration for each dataset is its own file with that branch's values."""
    configs = Path(__file__).resolve().parents[2] / "configs"
    official = {"diginetica": (2, 0.2, 0.0), "tmall": (1, 0.6, 0.5), "nowplaying": (1, 0.0, 0.0)}
    for name, (hops, dropout_gcn, dropout_local) in official.items():
        spec = session_benchmark.DATASETS[name]
        file, cfg = session_benchmark.resolve_config("gcegnn", spec, configs, {}, refit=False, seed=None)
        assert file == ("paper_gcegnn.yaml" if name == "diginetica" else f"paper_gcegnn_{name}.yaml")
        assert (cfg.dataset, cfg.num_layers, cfg.dropout_gcn, cfg.dropout_local) == (name, hops, dropout_gcn,
                                                                                     dropout_local)
        assert (cfg.embedding_dim, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.n_sample, cfg.dropout_global,
                cfg.epochs, cfg.patience) == (100, 100, 0.001, 1e-5, 12, 0.5, 20, 3)
