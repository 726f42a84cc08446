"""Protocols as objects, one loss path, a config free of Paddle, the sized-table rule and
clean write errors (full disk, read-only folder)."""
from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import load_config
from srgnn_paddle.protocols import PROTOCOLS, get_protocol

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--epochs", "1", "--quiet", "--no-tsne", "--batch_size", "32", "--embedding_dim", "8"]


def _fresh(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT)


def test_config_and_prepare_help_do_not_import_paddle():
    code = ("import sys\nimport srgnn_paddle.config\nassert 'paddle' not in sys.modules, 'config'\n"
            "from srgnn_paddle import cli\n"
            "try:\n    cli.main(['prepare', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'paddle' not in sys.modules, 'prepare --help'\n"
            "assert not any(m.startswith('srgnn_paddle.models') for m in sys.modules)\n"
            "import srgnn_paddle\nassert srgnn_paddle.SRGNN.name == 'srgnn' and 'paddle' in sys.modules\n")
    result = _fresh(code)
    assert result.returncode == 0, result.stderr


def test_every_protocol_owns_its_defaults_metrics_and_suffix():
    assert set(PROTOCOLS) == {"notebook", "paper", "loo"}
    assert get_protocol("paper").test_metrics(20) == ["P@20", "MRR@20"]
    assert get_protocol("notebook").test_metrics(7) == ["recall@7", "ndcg@7", "hitrate@7"]
    assert load_config(None, {"protocol": "loo"}).model == "neumf"
    assert load_config(None, {"protocol": "paper"}).dataset_folder().endswith("_paper")
    with pytest.raises(Exception, match="unknown protocol 'nope'"):
        get_protocol("nope")


def _sessions(folder: Path, train, test) -> Path:
    folder.mkdir(parents=True)
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps(train))
    (folder / "test.txt").write_bytes(pickle.dumps(test))
    return folder


def _subset_like(folder: Path, top: int = 43_094) -> Path:
    """Sessions over a few items of a large encoded catalogue (ids up to ``top``)."""
    rng = np.random.default_rng(0)
    items = np.r_[rng.choice(np.arange(1, top), 60, replace=False), top]
    train = [list(rng.choice(items, rng.integers(2, 6))) for _ in range(120)]
    test = ([list(rng.choice(items, 3)) for _ in range(30)], list(rng.choice(items, 30)))
    return _sessions(folder, [[int(i) for i in s] for s in train],
                     ([[int(i) for i in s] for s in test[0]], [int(i) for i in test[1]]))


def test_a_subset_of_an_encoded_catalogue_trains_and_n_items_is_honoured(tmp_path, capsys):
    data = _subset_like(tmp_path / "sub")
    exp = tmp_path / "exp"
    assert cli.main(["train", "--model", "pop", "--protocol", "paper", "--data_dir", str(data),
                     "--exp_dir", str(exp), *QUICK]) == 0
    run = next(exp.glob("*/*/config.yaml")).parent
    assert load_config(run / "config.yaml").n_items == 43_095
    assert cli.main(["train", "--model", "srgnn", "--protocol", "paper", "--data_dir", str(data), "--n_items",
                     "43098", "--exp_dir", str(exp), *QUICK]) == 0
    assert load_config(next(exp.glob("*/SRGNN*/config.yaml"))).n_items == 43_098
    (data / "meta.json").write_text(json.dumps({"n_items": 50_000}))
    assert get_protocol("paper").load_data(load_config(None, {"protocol": "paper"}), data).n_items == 50_000


def test_an_absurd_id_is_refused_with_the_budget(tmp_path, capsys):
    data = _sessions(tmp_path / "raw", [[1, 2, 2_000_000_000], [2, 3]], ([[1, 2]], [3]))
    exp = tmp_path / "exp"
    assert cli.main(["train", "--protocol", "paper", "--data_dir", str(data), "--exp_dir", str(exp), *QUICK]) == 2
    err = capsys.readouterr().err
    assert "over the limit of 100,000,000 rows" in err and "Traceback" not in err
    ok = _sessions(tmp_path / "ok", [[1, 2, 3], [2, 3]], ([[1, 2]], [3]))
    assert cli.main(["train", "--protocol", "paper", "--data_dir", str(ok), "--exp_dir", str(exp), *QUICK,
                     "--n_items", "90000000", "--embedding_dim", "100000"]) == 2
    err = capsys.readouterr().err
    assert "over the budget of 50% of this machine's" in err
    assert not exp.exists()


def test_a_model_with_its_own_loss_keeps_it_under_either_objective(tmp_path):
    from srgnn_paddle.kernels import Kernels
    from srgnn_paddle.models import SRGNN
    from srgnn_paddle.training.losses import NegativeSampler
    from srgnn_paddle.training.trainer import Objective

    calls = []

    class Mine(SRGNN):
        def calculate_loss(self, batch, cross_entropy=None):
            calls.append(cross_entropy)
            return 0.0 * super().calculate_loss(batch, cross_entropy) + 7.0

    cfg = load_config(None, {"n_items": 10, "embedding_dim": 4})
    model = Mine(cfg)
    from srgnn_paddle.data import SessionDataset, make_loader

    batch = next(iter(make_loader(SessionDataset([[1, 2], [3, 4, 5]], [3, 6], 10), 2, layout=model.batch_layout)))
    for sampler in (None, NegativeSampler(10, "uniform", None, 3, 0)):
        loss = Objective(model, Kernels(), sampler)(batch, 1, 0)
        assert float(loss) == pytest.approx(7.0)
    assert len(calls) == 2 and calls[0] is not calls[1]


class _Full:
    """``os.replace`` that fails with ENOSPC from its ``n``-th call on (a full disk)."""

    def __init__(self, n: int) -> None:
        self.n, self.calls, self.real = n, 0, os.replace

    def __call__(self, src, dst):
        self.calls += 1
        if self.calls >= self.n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real(src, dst)


def test_a_full_disk_ends_in_one_error_and_resume_continues(tmp_path, monkeypatch, capsys):
    from srgnn_paddle import fileio
    from srgnn_paddle.synthetic import generate_synthetic

    data = tmp_path / "tiny"
    generate_synthetic(data, seed=2, n_users=120, n_items=60, n_categories=4)
    exp = tmp_path / "exp"
    argv = ["train", "--data_dir", str(data), "--exp_dir", str(exp), "--epochs", "3", "--patience", "5",
            "--quiet", "--no-tsne", "--batch_size", "32", "--embedding_dim", "8"]
    full = _Full(6)  # config, weights, checkpoint, log of epoch 1, then epoch 2's writes fail
    monkeypatch.setattr(fileio.os, "replace", full)
    assert cli.main(argv) == 2
    monkeypatch.undo()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot be written (No space left on device)" in errors[0]
    assert "Traceback" not in err
    run = next(exp.glob("*/*/checkpoint.pdckpt")).parent
    assert str(run) in errors[0]
    assert cli.main(argv + ["--resume"]) == 0  # space is back
    out = capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 3 and "popularity_test" in summary
    assert "resuming" in out or summary["epochs_run"] == 3


def test_the_published_diginetica_subset_trains(shared_data, tmp_path):
    source = shared_data / "diginetica"
    if not (source / "all_train_seq.txt").is_file():
        pytest.skip("no DIGINETICA sessions")
    with open(source / "all_train_seq.txt", "rb") as handle:
        sessions = pickle.load(handle)[:20_000]
    with open(source / "test.txt", "rb") as handle:
        seqs, labels = pickle.load(handle)
    data = _sessions(tmp_path / "sub", sessions, (seqs[:5000], labels[:5000]))
    exp = tmp_path / "exp"
    assert cli.main(["train", "--model", "pop", "--protocol", "paper", "--config",
                     str(REPO_ROOT / "configs" / "paper_diginetica.yaml"), "--data_dir", str(data),
                     "--exp_dir", str(exp), "--quiet", "--no-tsne"]) == 0


def test_the_readme_protocol_example_runs(tmp_path):
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("### Adding a protocol", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    try:
        exec(compile(block, "README.md", "exec"), {})
        data, exp = _subset_like(tmp_path / "sub", top=500), tmp_path / "exp"
        assert cli.main(["train", "--protocol", "paper_p5", "--model", "pop", "--data_dir", str(data),
                         "--exp_dir", str(exp), "--quiet", "--no-tsne"]) == 0
        summary = json.loads(next(exp.glob("sub_p5/*/summary.json")).read_text())
        assert {"P@5", "MRR@5"} <= set(summary["test"])
        from srgnn_paddle.report import build_report

        assert build_report(exp).iloc[0]["valid_metric"] == "P@5"
    finally:
        PROTOCOLS.pop("paper_p5", None)
