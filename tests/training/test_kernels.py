"""The kernels seam (srgnn_paddle.kernels): plain Paddle and host kernels give the same
runs through the CLI; the host kernels' process-wide settings hold only inside a run; the
HostAdam fallback; no side effects on import."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pandas as pd
import pytest

from srgnn_paddle import cli
from srgnn_paddle.kernels import HostKernels, Kernels, kernel_linears, select_kernels
from srgnn_paddle.kernels.attention import AttentionPairs, segment_attention
from srgnn_paddle.kernels.host import HostAdam
from srgnn_paddle.models import SRGNN
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.synthetic import generate_synthetic
from srgnn_paddle.training import Trainer

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = {"seed": 3, "n_users": 200, "n_items": 120, "n_categories": 6}
RUN = "tiny_softmax/SRGNN_0.005_64_16"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "tiny"
    generate_synthetic(path, **TINY)
    return path


def _paddle_threads() -> int:
    """Paddle's configured CPU math threads (what a run restores)."""
    return int(paddle.get_flags(["FLAGS_paddle_num_threads"])["FLAGS_paddle_num_threads"])


# ---------------------------------------------------------------------------- the CLI, both kernels
def _train_interrupt_resume(tiny: Path, exp: Path, kernels: str, monkeypatch) -> Path:
    """``train`` stopped by Ctrl-C in epoch 3, then ``--resume`` to epoch 4."""
    argv = ["train", "--data_dir", str(tiny), "--exp_dir", str(exp), "--lr", "0.005", "--batch_size", "64",
            "--epochs", "4", "--patience", "10", "--quiet", "--no-tsne", "--kernels", kernels, "--cpu_threads", "2"]
    original = Trainer.train_epoch

    def interrupted(self, epoch):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, epoch)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_epoch", interrupted)
        assert cli.main(argv) == 130
    assert cli.main(argv + ["--resume"]) == 0
    return exp / RUN


@pytest.mark.slow
def test_paddle_and_host_kernels_give_the_same_cli_results(tiny, tmp_path, monkeypatch, capsys):
    runs = {k: _train_interrupt_resume(tiny, tmp_path / k, k, monkeypatch) for k in ("paddle", "host")}
    logs = {k: pd.read_csv(run / "log.csv") for k, run in runs.items()}
    for log in logs.values():
        assert list(log["phase"]) == ["valid"] * 4 + ["test"] and list(log["epoch"][:4]) == [1, 2, 3, 4]
    np.testing.assert_allclose(logs["paddle"]["loss"][:4], logs["host"]["loss"][:4], rtol=1e-5)
    metrics = ["recall@50", "ndcg@50", "hitrate@50"]
    np.testing.assert_allclose(logs["paddle"][metrics].to_numpy(float), logs["host"][metrics].to_numpy(float),
                               atol=2e-3)
    for kernels, run in runs.items():
        assert json.loads((run / "summary.json").read_text())["kernels"] == kernels
    capsys.readouterr()
    evaluated = {}
    for kernels, run in runs.items():
        assert cli.main(["evaluate", "--run_dir", str(run), "--quiet"]) == 0
        evaluated[kernels] = dict(line.split("\t") for line in capsys.readouterr().out.strip().splitlines())
        summary = json.loads((run / "summary.json").read_text())
        assert float(evaluated[kernels]["recall@50"]) == pytest.approx(summary["test"]["recall@50"], abs=1e-6)
    for key in metrics:
        assert float(evaluated["paddle"][key]) == pytest.approx(float(evaluated["host"][key]), abs=2e-3)
    for kernels in runs:
        assert cli.main(["report", "--exp_dir", str(tmp_path / kernels)]) == 0
        table = pd.read_csv(tmp_path / kernels / "results.csv")
        assert list(table["run"]) == [RUN] and list(table["status"]) == ["finished"]


def test_paper_protocol_ranks_agree_between_kernels(tmp_path):
    """The paper evaluator counts ranks with numpy (host) or Paddle ops: the same P@K / MRR@K."""
    from srgnn_paddle.config import Config
    from srgnn_paddle.data import SessionDataset
    from srgnn_paddle.evaluation import NextItemEvaluator

    rng = np.random.default_rng(4)
    seqs = [list(rng.integers(1, 60, rng.integers(1, 6))) for _ in range(90)]
    labels = list(rng.integers(1, 60, 90))
    ds = SessionDataset(seqs, labels, 60)
    cfg = Config(protocol="paper", n_items=60, embedding_dim=8, step=1, eval_batch_size=32, score_padding=False)
    paddle.seed(5)
    model = SRGNN(cfg)
    got = {}
    for kernels in (Kernels(), HostKernels(2)):
        with kernels, kernels.attach(model):
            got[kernels.name] = NextItemEvaluator(ds, cfg, model, kernels)(model)
    for key, value in got["paddle"].items():
        assert got["host"][key] == pytest.approx(value, abs=1e-9), key


# ---------------------------------------------------------------------------- the seam itself
def test_select_kernels():
    assert select_kernels("auto", "cpu").name == "host"
    assert select_kernels("auto", "gpu:0").name == "paddle"
    assert select_kernels("paddle", "cpu").name == "paddle"
    assert select_kernels("host", "cpu", threads=3).pool.threads == 3
    with pytest.raises(SrgnnError, match="use --kernels paddle"):
        select_kernels("host", "gpu:0")
    with pytest.raises(SrgnnError, match="unknown kernels"):
        select_kernels("fast", "cpu")


def test_attach_hands_the_kernels_to_the_models_linear_layers_and_takes_them_back():
    """The seam is explicit: ``attach`` sets the ``kernels`` of the model's kernels ``Linear``
    layers for the block (instance state), patches no ``forward``, and leaves them as they were."""
    paddle.seed(1)
    model = SRGNN({"n_items": 30, "embedding_dim": 8})
    linears = [layer for _, layer in kernel_linears(model)]
    assert len(linears) == 6 and all(layer.kernels is None for layer in linears)
    seq = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    plain = model(seq, train=False)["user_emb"].numpy()
    kernels = HostKernels(2)
    with kernels.attach(model):
        assert all(layer.kernels is kernels for layer in linears)
        host = model(seq, train=False)["user_emb"].numpy()
        with Kernels().attach(model) as same:  # nested: the inner kernels, then the outer again
            assert same is model and all(layer.kernels.name == "paddle" for layer in linears)
        assert all(layer.kernels is kernels for layer in linears)
    assert all(layer.kernels is None for layer in linears)
    assert not any("forward" in vars(layer) for layer in model.sublayers(include_self=True))
    np.testing.assert_allclose(host, plain, rtol=1e-5, atol=1e-6)


def _attention_case(seed=0, d=7):
    """Random inputs of a segment attention: 9 units over 40 pairs, some counted more than once."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 8, 9)
    unit = np.repeat(np.arange(9), sizes)
    pairs = AttentionPairs(unit=unit, key=rng.integers(0, 12, len(unit)), item=rng.integers(0, 15, len(unit)),
                           weight=rng.integers(0, 5, len(unit)).astype(np.float32),
                           count=rng.integers(1, 4, len(unit)).astype(np.float32), n_units=9)
    tensors = [paddle.to_tensor(rng.standard_normal(shape).astype(np.float32)) for shape in ([12, d], [d], [d, 1], [15, d])]
    return tensors, pairs


def test_segment_attention_is_a_softmax_per_unit_and_the_host_kernel_is_the_same():
    """The plain kernel against a loop over the units, then the host kernel (one and two
    threads) against the plain one: outputs and the gradients of all four inputs."""
    (base, row, q, values), pairs = _attention_case()
    out = segment_attention(base, row, q, values, pairs, 0.2).numpy()
    b, r, qv, v = (t.numpy().astype(np.float64) for t in (base, row, q, values))
    for k in range(pairs.n_units):
        mine = np.flatnonzero(pairs.unit == k)
        x = b[pairs.key[mine]] + pairs.weight[mine, None] * r
        e = np.where(x > 0, x, 0.2 * x) @ qv[:, 0]
        alpha = pairs.count[mine] * np.exp(e - e.max())
        np.testing.assert_allclose(out[k], (alpha / alpha.sum()) @ v[pairs.item[mine]], rtol=1e-5, atol=1e-6)
    upstream = paddle.to_tensor(np.random.default_rng(1).standard_normal(out.shape).astype(np.float32))

    def grads(fn):
        tensors, _ = _attention_case()
        for t in tensors:
            t.stop_gradient = False
        result = fn(*tensors, pairs, 0.2)
        (result * upstream).sum().backward()
        return [result.numpy()] + [t.grad.numpy() for t in tensors]

    expected = grads(segment_attention)
    for threads in (1, 2):
        with HostKernels(threads) as kernels:
            host = grads(kernels.segment_attention)
        for got, want, name in zip(host, expected, ("out", "base", "row", "q", "values")):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
    (base, row, q, values), _ = _attention_case()
    values.stop_gradient = False  # only some inputs need a gradient
    with HostKernels(1) as kernels:
        kernels.segment_attention(base, row, q, values, pairs, 0.2).sum().backward()
    assert values.grad is not None and base.grad is None


def test_clearing_gradients_is_the_kernels_policy():
    """One process frees the gradients (``clear_grad(set_to_zero=False)``), data-parallel
    training zeroes them (Paddle's reducer works on the buffers)."""
    calls = []

    class Recorder:
        def clear_grad(self, set_to_zero=True):
            calls.append(set_to_zero)

    for kernels in (Kernels(), HostKernels(1)):
        kernels.clear_gradients(Recorder())
        kernels.clear_gradients(Recorder(), data_parallel=True)
    assert calls == [False, True, False, True]


def test_host_kernels_cap_threads_only_inside_their_block(monkeypatch):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    calls = []
    monkeypatch.setattr(paddle.base.core, "set_num_threads", calls.append)  # Paddle has no getter to read back
    before_blas = blas_threads()
    kernels = HostKernels(2)
    with kernels:
        assert calls == [1]
        assert all(n == 1 for n in blas_threads())
        kernels.pool.map(lambda k: k, 2)  # the pool's worker threads start
        assert kernels.pool._executor is not None
    assert calls == [1, _paddle_threads()]  # back to Paddle's own setting
    assert blas_threads() == before_blas
    assert kernels.pool._executor is None  # worker threads stopped


def test_host_adam_falls_back_to_paddle_adam_when_paddle_lacks_its_internals(monkeypatch):
    param = paddle.create_parameter([4], "float32")
    notices = []
    assert isinstance(HostKernels(1, notice=notices.append).optimizer([param], 0.01, 0.0), HostAdam)
    assert notices == []
    owner = next(c for c in paddle.optimizer.Adam.__mro__ if "_get_accumulator_master" in vars(c))
    monkeypatch.delattr(owner, "_get_accumulator_master")  # as if a Paddle upgrade renamed it
    assert HostAdam.missing_internals() == ["_get_accumulator_master"]
    optimizer = HostKernels(1, notice=notices.append).optimizer([param], 0.01, 0.0)
    assert type(optimizer) is paddle.optimizer.Adam
    assert len(notices) == 1 and "_get_accumulator_master" in notices[0] and "paddle.optimizer.Adam" in notices[0]


def test_host_adam_fallback_through_the_cli(tiny, tmp_path, monkeypatch, capsys):
    """A Paddle without HostAdam's internals still trains (with one notice line)."""
    monkeypatch.setattr(HostAdam, "INTERNALS", HostAdam.INTERNALS + ("_no_such_member",))
    rc = cli.main(["train", "--data_dir", str(tiny), "--exp_dir", str(tmp_path), "--epochs", "1", "--quiet",
                   "--no-tsne", "--kernels", "host"])
    out = capsys.readouterr()
    assert rc == 0
    notices = [line for line in (out.out + out.err).splitlines() if "_no_such_member" in line]
    assert len(notices) == 1 and "paddle.optimizer.Adam" in notices[0]


# ---------------------------------------------------------------------------- no side effects on import
@pytest.mark.slow
def test_importing_the_package_changes_no_process_settings():
    """Importing every module (runs and plots included) keeps matplotlib's backend, Paddle's
    and BLAS's thread counts: a notebook's inline figures keep working."""
    code = (
        "import matplotlib; before = matplotlib.get_backend()\n"
        "from threadpoolctl import threadpool_info\n"
        "blas = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
        "import srgnn_paddle, srgnn_paddle.runs, srgnn_paddle.plots, srgnn_paddle.cli, srgnn_paddle.report\n"
        "import paddle\n"
        "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())\n"
        "assert [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'] == blas\n"
        "print('unchanged', before)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MPLBACKEND": "svg"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "unchanged svg" in proc.stdout


@pytest.mark.slow
def test_gpu_check_script(tmp_path):
    """Without a GPU the check says so and exits 0; with --device cpu it runs the whole
    comparison (the CPU as the first device) and passes."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "gpu_check.sh")], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"gpu_check: Paddle {paddle.__version__} (")  # the Paddle and CUDA it found
    assert "CPU build (no CUDA)" in proc.stdout.splitlines()[0] or "CUDA " in proc.stdout.splitlines()[0]
    if "sees no GPU" not in proc.stdout:  # a machine with a GPU ran the real check
        assert "gpu_check: PASS" in proc.stdout
    proc = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "gpu_check.sh"), "--device", "cpu"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "cpu-paddle vs cpu-host" in proc.stdout and "gpu_check: PASS" in proc.stdout
