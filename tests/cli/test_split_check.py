"""benchmarks/split_check.py through its command line on generated pickles: both splits
trained over a two-point grid and two seeds, the test set scored every epoch, the figures recomputed here from the runs' logs
(scipy's Spearman), a second call trains nothing; counted models in the model choice only."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import split_check
from srgnn_paddle.config import load_config

from conftest import write_paper_folder

pytestmark = [pytest.mark.slow, pytest.mark.cli]


def test_both_splits_are_trained_and_compared(tmp_path, capsys):
    rng = np.random.default_rng(3)
    sessions = [rng.integers(1, 30, size=int(rng.integers(2, 9))).tolist() for _ in range(120)]
    data = write_paper_folder(tmp_path / "gen", sessions[:100], sessions[100:])
    results = tmp_path / "results"
    argv = ["--data_dir", str(data), "--models", "stamp", "--seeds", "1,2", "--grid", "lr=0.01,0.003", "--epochs",
            "4", "--set", "embedding_dim=8", "--set", "cpu_threads=1", "--work", str(tmp_path / "work"),
            "--results", str(results), "--quiet"]
    assert split_check.main(argv) == 0
    capsys.readouterr()
    report = json.loads((results / "gen" / "split_check.json").read_text())
    assert len(report["runs"]) == 8 and set(report["per_split"]) == {"pairs", "sessions"}
    for row in report["runs"]:
        folder = results / "gen" / row["split"] / row["run"]
        cfg = load_config(folder / "config.yaml")
        assert (folder / "test_ranks.npy").is_file() and (folder / "console.txt").is_file()  # sb.copy_run's files
        assert (cfg.valid_split, cfg.select_on, cfg.seed, cfg.epochs) == (row["split"], "test", row["seed"], 4)
        assert row["run"] == f"lr{cfg.lr}/STAMP_{cfg.lr}_100_8_seed{cfg.seed}"  # one folder per grid point
        log = pd.read_csv(folder / "log.csv")
        valid = log[log["phase"] == "valid"].set_index("epoch")["P@20"]
        test = log[log["phase"] == "test_epoch"].set_index("epoch")["P@20"]
        assert row["epochs"] == len(valid) == len(test)
        expected = spearmanr(valid, test)[0]
        if np.isfinite(expected):
            assert row["epoch_spearman"] == pytest.approx(expected)
        else:
            assert row["epoch_spearman"] is None
        chosen = json.loads((folder / "summary.json").read_text())["best_epoch"]
        assert row["chosen_epoch"] == chosen and row["regret"] == pytest.approx(test.max() - test[chosen])
    for split, figures in report["per_split"].items():
        rows = [r for r in report["runs"] if r["split"] == split]
        valid_scores, test_scores = [r["valid_at_chosen"] for r in rows], [r["test_at_chosen"] for r in rows]
        expected = spearmanr(valid_scores, test_scores)[0]
        assert figures["model_spearman"] == (pytest.approx(expected) if np.isfinite(expected) else None)
        assert figures["model_regret"] == pytest.approx(max(test_scores) - test_scores[int(np.argmax(valid_scores))])
        assert figures["epoch_regret_mean"] == pytest.approx(np.mean([r["regret"] for r in rows]))
    assert "| sessions | 4 |" in (results / "gen" / "split_check.md").read_text()

    assert split_check.main(argv) == 0  # all finished: nothing is trained again
    out = capsys.readouterr().out
    assert "== [" not in out and "8 of 8 run(s) finished" in out
    assert split_check.main(argv + ["--models", "nosuch"]) == 2
    assert "unknown session model(s) nosuch" in capsys.readouterr().err

    # counted models: one validation and one test score each, in the model choice only
    counted = ["--data_dir", str(data), "--models", "pop,spop,sknn", "--seeds", "1", "--work", str(tmp_path / "work2"),
               "--results", str(tmp_path / "counted"), "--quiet"]
    assert split_check.main(counted) == 0
    report = json.loads((tmp_path / "counted" / "gen" / "split_check.json").read_text())
    assert len(report["runs"]) == 6
    for row in report["runs"]:
        log = pd.read_csv(tmp_path / "counted" / "gen" / row["split"] / row["run"] / "log.csv").set_index("phase")
        assert row["epochs"] == 0 and row["epoch_spearman"] is None and row["regret"] == 0.0
        assert row["valid_at_chosen"] == pytest.approx(log.loc["valid", "P@20"])
        assert row["test_at_chosen"] == pytest.approx(log.loc["test", "P@20"])
    for split, figures in report["per_split"].items():
        rows = [r for r in report["runs"] if r["split"] == split]
        assert figures["epoch_spearman_mean"] is None and figures["same_epoch_share"] is None
        expected = spearmanr([r["valid_at_chosen"] for r in rows], [r["test_at_chosen"] for r in rows])[0]
        assert figures["model_spearman"] == (pytest.approx(expected) if np.isfinite(expected) else None)
    assert "| pairs | 3 | n/a | n/a | n/a |" in (tmp_path / "counted" / "gen" / "split_check.md").read_text()
