"""benchmarks/copy_run.py, the one copy step of the results folders, through its command line,
and through ``tuned_counted_runs.sh`` that calls it: the run's files, its console log and its
test ranks compacted as the benchmark keeps them (``uint8``, capped at 255)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from srgnn_paddle.data.sessions import augment_prefixes

from conftest import REPO_ROOT as REPO, write_paper_folder

COPY_RUN = REPO / "benchmarks" / "copy_run.py"


def _run_folder(folder: Path) -> Path:
    (folder / "refit").mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"test": {"P@20": 1.0}}))
    (folder / "log.csv").write_text("P@20\n1.0\n")
    (folder / "config.yaml").write_text("model: sr\n")
    (folder / "refit" / "log.csv").write_text("loss\n0.5\n")
    np.save(folder / "test_ranks.npy", np.array([1, 20, 255, 256, 70000], dtype=np.int64))
    np.save(folder / "refit" / "test_ranks.npy", np.array([3, 999], dtype=np.int64))
    return folder


def test_a_finished_run_is_copied_with_its_ranks_compacted(tmp_path):
    run = _run_folder(tmp_path / "run")
    console = tmp_path / "console_run.txt"
    console.write_text("epoch 1\n")
    target = tmp_path / "results" / "run"
    done = subprocess.run([sys.executable, str(COPY_RUN), str(run), str(console), str(target)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["config.yaml", "console.txt", "log.csv", "refit",
                                                         "refit_log.csv", "summary.json", "test_ranks.npy"]
    assert (target / "refit_log.csv").read_text() == "loss\n0.5\n"
    assert (target / "console.txt").read_text() == "epoch 1\n"
    ranks = np.load(target / "test_ranks.npy")
    assert ranks.dtype == np.uint8 and ranks.tolist() == [1, 20, 255, 255, 255]
    assert np.load(target / "refit" / "test_ranks.npy").tolist() == [3, 255]


def test_an_unfinished_run_is_one_error_line_and_nothing_copied(tmp_path):
    (tmp_path / "run").mkdir()
    target = tmp_path / "results" / "run"
    done = subprocess.run([sys.executable, str(COPY_RUN), str(tmp_path / "run"), str(tmp_path / "none.txt"),
                           str(target)], capture_output=True, text=True)
    assert done.returncode == 2
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]  # beside Paddle's import notes
    assert "no summary.json" in error and "train it first" in error and "Traceback" not in done.stderr
    assert not target.exists()


@pytest.mark.slow
@pytest.mark.cli
def test_tuned_counted_runs_keeps_each_runs_test_ranks(tmp_path):
    """The script trains SR at its defaults on the session split of a tiny paper-layout
    folder and leaves the run's files and ranks (the refit's too) in its results folder."""
    rng = np.random.default_rng(3)
    sessions = [rng.integers(1, 20, size=int(rng.integers(2, 7))).tolist() for _ in range(120)]
    data = write_paper_folder(tmp_path / "data", sessions[:100], sessions[100:])
    checkout = tmp_path / "checkout"  # the script writes docs/results/ beside its own benchmarks/
    shutil.copytree(REPO / "benchmarks", checkout / "benchmarks", ignore=shutil.ignore_patterns("results"))
    shutil.copytree(REPO / "configs", checkout / "configs")
    env = {**os.environ, "CODE": str(REPO), "MODELS": "sr", "SETTINGS": "defaults", "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(checkout / "benchmarks" / "tuned_counted_runs.sh"), str(data),
                           str(tmp_path / "work")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (target,) = (checkout / "docs" / "results" / "diginetica" / "defaults_sessions_split").iterdir()
    summary = json.loads((target / "summary.json").read_text())
    assert "test" in summary and "test_refit" in summary
    for ranks in (target / "test_ranks.npy", target / "refit" / "test_ranks.npy"):
        values = np.load(ranks)
        assert values.dtype == np.uint8 and len(values) == len(augment_prefixes(sessions[100:])[1])
    assert (target / "console.txt").read_text().startswith("== ")
