"""Fast paths vs their references: notebook-style step, softmax CE, sampled softmax, IVF,
data-parallel sharding, and the benchmark scripts (run as subprocesses on tiny data)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from notebook_reference import (
    NotebookStyleDataset,
    make_notebook_loaders,
    notebook_encode,
    notebook_loss,
    notebook_session_graph,
)
from srgnn_paddle.cli import main as cli_main
from srgnn_paddle.data import Batch, SequenceDataset, make_loader, read_interactions
from srgnn_paddle.data.graph import build_packed_graph, build_session_graph
from srgnn_paddle.data.sessions import augment_prefixes, write_session_pickles
from srgnn_paddle.evaluation.metrics import target_ranks
from srgnn_paddle.evaluation.retrieval import build_index, l2_normalize
from srgnn_paddle.kernels import HostKernels
from srgnn_paddle.kernels.host import (
    HostAdam,
    HostPool,
    adam_update,
    host_matmul,
    host_softmax_cross_entropy,
    host_target_ranks,
    split_bounds,
)
from srgnn_paddle.models import SRGNN, softmax_cross_entropy
from srgnn_paddle.synthetic import generate_synthetic
from srgnn_paddle.training import NegativeSampler, sampled_softmax_loss

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """A tiny synthetic CSV triple (300 users, 200 items)."""
    path = tmp_path_factory.mktemp("tiny") / "data"
    generate_synthetic(path, seed=7, n_users=300, n_items=200, n_categories=5)
    return path


@pytest.fixture(scope="module")
def tiny_sets(tiny_dir):
    opts = {"max_length": 20, "n_items": 200, "seed": 3}
    train = SequenceDataset(opts, read_interactions(tiny_dir / "train_enc.csv"), "train")
    valid = SequenceDataset(opts, read_interactions(tiny_dir / "valid_enc.csv"), "test")
    return train, valid


def _model(n_items: int = 200, seed: int = 11) -> SRGNN:
    paddle.seed(seed)
    return SRGNN({"n_items": n_items, "embedding_dim": 16, "step": 2})


# ---------------------------------------------------------------------------- notebook style
def test_notebook_graph_loop_equals_vectorised(tiny_sets):
    train, _ = tiny_sets
    hist, _, _ = train.make_batch(np.arange(64), np.random.default_rng(0))
    for got, want in zip(build_session_graph(hist), notebook_session_graph(hist)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_fast_and_notebook_style_give_the_same_loss_and_gradients(tiny_sets):
    train, _ = tiny_sets
    hist, mask, target = train.make_batch(np.arange(48), np.random.default_rng(1))
    model = _model()

    kernels = HostKernels(2)
    with kernels.attach(model):  # numpy GEMMs and numpy softmax CE
        fast = model.calculate_loss(Batch(hist, mask, target, build_packed_graph(hist)), kernels.cross_entropy)
        fast.backward()
    fast_grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    model.clear_gradients()

    slow = notebook_loss(model, notebook_encode(model, paddle.to_tensor(hist), paddle.to_tensor(mask)),
                         paddle.to_tensor(target))
    slow.backward()
    np.testing.assert_allclose(float(fast), float(slow), rtol=1e-5)
    for name, param in model.named_parameters():
        np.testing.assert_allclose(fast_grads[name], param.grad.numpy(), rtol=1e-4, atol=1e-7, err_msg=name)


def test_notebook_style_test_samples_equal_the_dataset_batches(tiny_sets):
    _, valid = tiny_sets
    slow = NotebookStyleDataset(valid)
    hist, mask, gts = valid.make_batch(np.arange(len(valid)))
    for i in (0, 5, len(valid) - 1):
        h, m, gt = slow[i]
        np.testing.assert_array_equal(h.numpy(), hist[i])
        np.testing.assert_array_equal(m.numpy(), mask[i])
        assert gt == gts[i]


def test_same_number_of_samples_per_epoch(tiny_sets):
    train, valid = tiny_sets
    fast = make_loader(train, 32, shuffle=True, seed=0)
    fast.batch_view.set_epoch(1)
    slow_train, slow_valid = make_notebook_loaders(train, valid, 32, seed=0, eval_batch_size=64)
    n_fast = sum(len(batch) for batch in fast)
    n_slow = sum(int(batch[0].shape[0]) for batch in slow_train)
    assert n_fast == n_slow == len(train)
    assert sum(len(batch[2]) for batch in slow_valid) == len(valid)


# ---------------------------------------------------------------------------- losses
@pytest.fixture(params=[1, 2, 3], ids=lambda n: f"{n}threads")
def pool(request):
    """The host kernels' work split over 1, 2 and 3 threads."""
    pool = HostPool(request.param)
    yield pool
    pool.close()


@pytest.mark.parametrize("mask_padding", [False, True])
def test_host_blas_softmax_ce_equals_paddle(mask_padding, pool):
    rng = np.random.default_rng(0)
    u0 = rng.standard_normal((12, 8)).astype(np.float32) * 3
    w0 = rng.standard_normal((250, 8)).astype(np.float32)
    target = paddle.to_tensor(np.r_[1, 2, 249, rng.integers(1, 250, 9)])  # first/last rows of the slices too
    results = []
    for host in (True, False):
        u, w = paddle.to_tensor(u0, stop_gradient=False), paddle.to_tensor(w0, stop_gradient=False)
        if host:
            loss = host_softmax_cross_entropy(u, w, target, mask_padding, pool)
        else:
            loss = softmax_cross_entropy(u, w, target, mask_padding)
        (loss * 3.0).backward()
        results.append((float(loss), u.grad.numpy(), w.grad.numpy()))
    (l1, gu1, gw1), (l2, gu2, gw2) = results
    np.testing.assert_allclose(l1, l2, rtol=1e-5)
    np.testing.assert_allclose(gu1, gu2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gw1, gw2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("exclude_padding", [False, True])
def test_host_target_ranks_equal_the_full_matrix_count(exclude_padding, pool):
    """The evaluator's CPU path scores the catalogue slice by slice on several threads: the
    same ranks as counting on the whole score matrix, ties and NaN included."""
    rng = np.random.default_rng(9)
    user = rng.integers(-2, 3, (40, 4)).astype(np.float32)  # small integers: exact scores, many ties
    weight = rng.integers(-2, 3, (300, 4)).astype(np.float32)
    weight[0] = 50.0  # the padding row scores highest
    weight[7, 0] = np.nan  # a NaN score in every row
    targets = np.r_[7, 1, 299, rng.integers(1, 300, 37)]
    got = host_target_ranks(user, weight, targets, exclude_padding, pool)
    want = target_ranks(user @ weight.T, targets, exclude_padding)
    np.testing.assert_array_equal(got, want)
    assert got[0] == 300 - exclude_padding  # a NaN target ranks last


def test_split_bounds():
    assert split_bounds(10, 2, 16).tolist() == [0, 10]  # one piece when n <= align
    assert split_bounds(100, 2, 16).tolist() == [0, 48, 100]
    assert split_bounds(43098, 3, 16).tolist() == [0, 14368, 28736, 43098]
    assert split_bounds(5, 8).tolist() == [0, 1, 2, 3, 4, 5]  # never an empty piece
    assert split_bounds(0, 2).tolist() == [0]


# ---------------------------------------------------------------------------- optimiser
def _adam_reference(p, g, m, v, step, lr, l2, b1=0.9, b2=0.999, eps=1e-8):
    """Adam with coupled L2, float64, written from its definition (step is 1-based)."""
    g = g + l2 * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    lr_t = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
    return p - lr_t * m / (np.sqrt(v) + eps * np.sqrt(1 - b2 ** step)), m, v


@pytest.mark.parametrize("chunk", [7, 64, 1 << 18])
def test_adam_update_kernel_equals_the_formula(chunk):
    rng = np.random.default_rng(1)
    p, g = rng.standard_normal(1000), rng.standard_normal(1000)
    m, v = rng.standard_normal(1000) * 0.1, rng.random(1000) * 0.01
    want = _adam_reference(p, g, m, v, step=3, lr=0.01, l2=0.1)
    arrays = [x.astype(np.float32) for x in (p, g, m, v)]
    lr_t = 0.01 * np.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3)
    adam_update(*arrays, lr_t=lr_t, beta1=0.9, beta2=0.999, eps_t=1e-8 * np.sqrt(1 - 0.999 ** 3), l2=0.1,
                chunk=chunk)
    for got, ref in zip((arrays[0], arrays[2], arrays[3]), want):
        np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-7)


def _train_a_few_steps(make_opt, weight_decay, scheduled, steps=6):
    """A small well-conditioned problem: returns the parameters and the optimiser (built in
    a fresh name scope, as runs.train_run does, so that state keys compare)."""
    paddle.seed(11)
    with paddle.utils.unique_name.guard():  # the accumulators are named at the first step
        layer = paddle.nn.Linear(300, 20)  # 6,000-element weight and a 20-element bias
        lr = paddle.optimizer.lr.StepDecay(0.01, step_size=2, gamma=0.5) if scheduled else 0.01
        opt = make_opt(lr, layer.parameters(), weight_decay)
        rng = np.random.default_rng(2)
        for _ in range(steps):
            x = paddle.to_tensor(rng.standard_normal((16, 300)).astype(np.float32))
            loss = ((layer(x) - 1.0) ** 2).mean()
            loss.backward()
            opt.step()
            opt.clear_grad()
            if scheduled:
                lr.step()
    return [p.numpy() for p in layer.parameters()], opt


@pytest.mark.parametrize("weight_decay,scheduled", [(0.0, False), (0.05, False), (0.05, True)])
def test_host_adam_equals_paddle_adam(weight_decay, scheduled, pool):
    """HostAdam (numpy update, L2 folded in) follows paddle.optimizer.Adam(weight_decay=l2)
    step for step, and its state is Paddle's own (same keys and values)."""
    ref, ref_opt = _train_a_few_steps(
        lambda lr, params, wd: paddle.optimizer.Adam(lr, parameters=params, weight_decay=wd or None),
        weight_decay, scheduled)
    calls = []
    real = HostAdam._host_update

    def spy(self, param, grad):
        done = real(self, param, grad)
        calls.append(done)
        return done

    HostAdam._host_update = spy
    try:
        got, opt = _train_a_few_steps(lambda lr, params, wd: HostAdam(lr, parameters=params, weight_decay=wd, pool=pool),
                                      weight_decay, scheduled)
    finally:
        HostAdam._host_update = real
    assert calls and all(calls)  # every update took the numpy path
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
    paddle_path, _ = _train_a_few_steps(
        lambda lr, params, wd: HostAdam(lr, parameters=params, weight_decay=wd, use_host=False), weight_decay, scheduled)
    for g, r in zip(paddle_path, ref):
        np.testing.assert_allclose(g, r, rtol=1e-6, atol=1e-7)
    state, ref_state = opt.state_dict(), ref_opt.state_dict()
    assert sorted(state) == sorted(ref_state)
    for key, value in ref_state.items():
        if isinstance(value, paddle.Tensor):
            np.testing.assert_allclose(state[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-7, err_msg=key)


def test_host_adam_resumes_from_its_state_dict():
    """Six steps in one go equal three steps, a save/load of the optimiser state into a new
    optimiser, and three more (what --resume relies on)."""
    whole, _ = _train_a_few_steps(lambda lr, params, wd: HostAdam(lr, parameters=params, weight_decay=wd), 0.05, True)
    paddle.seed(11)
    with paddle.utils.unique_name.guard():
        layer = paddle.nn.Linear(300, 20)
    rng = np.random.default_rng(2)

    def run(opt, sched, n):
        for _ in range(n):
            x = paddle.to_tensor(rng.standard_normal((16, 300)).astype(np.float32))
            ((layer(x) - 1.0) ** 2).mean().backward()
            opt.step()
            opt.clear_grad()
            sched.step()

    sched = paddle.optimizer.lr.StepDecay(0.01, step_size=2, gamma=0.5)
    with paddle.utils.unique_name.guard():
        opt = HostAdam(sched, parameters=layer.parameters(), weight_decay=0.05)
        run(opt, sched, 3)
    state = opt.state_dict()
    sched2 = paddle.optimizer.lr.StepDecay(0.01, step_size=2, gamma=0.5)
    with paddle.utils.unique_name.guard():  # a new process in real life
        opt2 = HostAdam(sched2, parameters=layer.parameters(), weight_decay=0.05)
        opt2.set_state_dict(state)
        sched2.set_state_dict(sched.state_dict())
        run(opt2, sched2, 3)
    for got, want in zip([p.numpy() for p in layer.parameters()], whole):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_host_matmul_equals_paddle():
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((4, 7, 10)).astype(np.float32)
    w0 = rng.standard_normal((10, 12)).astype(np.float32)
    weights = paddle.to_tensor(rng.standard_normal((4, 7, 12)).astype(np.float32))
    results = []
    for host in (True, False):
        x, w = paddle.to_tensor(x0, stop_gradient=False), paddle.to_tensor(w0, stop_gradient=False)
        y = host_matmul(x, w) if host else paddle.matmul(x, w)
        (y * weights).sum().backward()
        results.append((y.numpy(), x.grad.numpy(), w.grad.numpy()))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("exclude_padding", [False, True])
def test_target_ranks_numpy_equals_paddle(exclude_padding):
    """The CPU evaluator counts ranks in numpy; the GPU one in Paddle: same ranks, ties included."""
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 20, size=(30, 500)).astype(np.float32)  # many ties
    scores[:, 0] = 100.0  # the padding column scores highest
    targets = rng.integers(1, 500, size=30)
    got = target_ranks(scores, targets, exclude_padding)
    want = target_ranks(paddle.to_tensor(scores), paddle.to_tensor(targets), exclude_padding)
    np.testing.assert_array_equal(got, want)
    slow = [int((np.delete(row, 0) if exclude_padding else row).__ge__(row[t]).sum()) for row, t in zip(scores, targets)]
    np.testing.assert_array_equal(got, slow)


def _sampled_reference(u, table, target, negatives, log_q):
    """Plain numpy log-q corrected sampled softmax, float64, one row at a time."""
    losses = []
    for b in range(len(u)):
        logits = [u[b] @ table[target[b]] - log_q[target[b]]]
        for n in negatives:
            if n == target[b]:
                continue  # a sampled copy of the positive is masked out
            logits.append(u[b] @ table[n] - log_q[n])
        logits = np.array(logits)
        m = logits.max()
        losses.append(m + np.log(np.exp(logits - m).sum()) - logits[0])
    return float(np.mean(losses))


@pytest.mark.parametrize("kind", ["uniform", "popularity"])
def test_sampled_softmax_matches_numpy_reference(kind):
    rng = np.random.default_rng(4)
    n_items, d = 40, 6
    counts = rng.integers(0, 30, n_items)
    sampler = NegativeSampler(n_items, kind, counts, n_negatives=15, seed=9)
    negatives = sampler.draw_numpy(epoch=1, step=3)
    target = np.array([negatives[0], 3, 7, 21], dtype=np.int64)  # the first collides with a negative
    u = rng.standard_normal((4, d)).astype(np.float32)
    table = rng.standard_normal((n_items, d)).astype(np.float32)
    loss = sampled_softmax_loss(paddle.to_tensor(u), paddle.to_tensor(table), paddle.to_tensor(target),
                                paddle.to_tensor(negatives), sampler.log_q)
    want = _sampled_reference(u.astype(np.float64), table.astype(np.float64), target, negatives,
                              sampler.log_q.numpy().astype(np.float64))
    np.testing.assert_allclose(float(loss), want, rtol=1e-5)
    expected_log_q = np.log(15 * sampler.p[1:])
    np.testing.assert_allclose(sampler.log_q.numpy()[1:], expected_log_q, rtol=1e-5)


def test_negative_sampler_draws():
    counts = np.array([0, 5, 0, 10, 1, 0])
    sampler = NegativeSampler(6, "popularity", counts, n_negatives=5000, seed=1)
    draws = sampler.draw_numpy(1, 0)
    assert draws.min() >= 1 and draws.max() <= 5  # the padding row is never drawn
    np.testing.assert_array_equal(draws, sampler.draw_numpy(1, 0))  # seeded by (epoch, step)
    freq = np.bincount(draws, minlength=6)[1:] / len(draws)
    np.testing.assert_allclose(freq, sampler.p[1:], atol=0.03)
    with pytest.raises(ValueError):
        NegativeSampler(6, "popularity", None, 5, 1)


def test_sampled_softmax_training_through_the_cli(tiny_dir, tmp_path):
    exp = tmp_path / "exp"
    code = cli_main(["train", "--data_dir", str(tiny_dir), "--exp_dir", str(exp), "--epochs", "2",
                     "--batch_size", "64", "--loss", "sampled_softmax", "--num_negatives", "32",
                     "--negative_sampler", "popularity", "--lr", "0.01", "--cpu_threads", "1", "--quiet"])
    assert code == 0
    summary = json.loads(next(exp.rglob("summary.json")).read_text())
    assert summary["epochs_run"] == 2
    assert 0.0 <= summary["test"]["recall@50"] <= 1.0


# ---------------------------------------------------------------------------- retrieval
def test_ivf_with_all_lists_probed_equals_flat():
    rng = np.random.default_rng(2)
    items = l2_normalize(rng.standard_normal((3000, 16)))
    users = l2_normalize(rng.standard_normal((200, 16)))
    flat = build_index(items, "flat", use_gpu=False)
    ivf = build_index(items, "ivf", nlist=30, nprobe=30, use_gpu=False)
    assert ivf.nlist == 30 and ivf.nprobe == 30
    d_flat, i_flat = flat.search(users, 50)
    d_ivf, i_ivf = ivf.search(users, 50)
    np.testing.assert_array_equal(i_ivf, i_flat)
    np.testing.assert_allclose(d_ivf, d_flat, rtol=1e-5)


def test_ivf_clamps_nlist_and_nprobe():
    items = l2_normalize(np.random.default_rng(3).standard_normal((20, 4)))
    ivf = build_index(items, "ivf", nlist=100, nprobe=0, use_gpu=False)
    assert ivf.nlist == 20 and ivf.nprobe == 1


# ---------------------------------------------------------------------------- data parallel
def test_rank_shards_partition_the_global_batches(tiny_sets):
    train, _ = tiny_sets
    single = make_loader(train, 32, shuffle=True, seed=5)
    single.batch_view.set_epoch(2)
    everything = [batch for batch in single]
    views = [make_loader(train, 32, shuffle=True, seed=5, rank=r, world_size=3).batch_view for r in range(3)]
    per_rank = len(everything) // 3
    seen = []
    for rank, view in enumerate(views):
        view.set_epoch(2)
        assert len(view) == per_rank
        for b in range(len(view)):
            batch, ref = view[b], everything[b * 3 + rank]
            np.testing.assert_array_equal(batch.history, ref.history)
            np.testing.assert_array_equal(batch.target, ref.target)
            seen.append(b * 3 + rank)
    assert sorted(seen) == list(range(per_rank * 3))  # disjoint; the tail batches are dropped
    with pytest.raises(ValueError):
        make_loader(train, 32, rank=2, world_size=2)


# ---------------------------------------------------------------------------- benchmark scripts
def _run_bench(script: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / script), *args, "--json"],
                         capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_bench_graph_json():
    res = _run_bench("bench_graph.py", "--batch", "16", "--repeats", "2")
    assert {"vectorised_ms_per_batch", "packed_ms_per_batch", "notebook_loop_ms_per_batch", "speedup"} <= set(res)


@pytest.mark.slow
def test_bench_train_json(tiny_dir):
    res = _run_bench("bench_train.py", "--data_dir", str(tiny_dir), "--max_steps", "2")
    for key in ("train_samples_per_s", "eval_users_per_s", "notebook_train_samples_per_s",
                "notebook_eval_users_per_s", "train_speedup", "eval_speedup", "peak_rss_mb", "device"):
        assert key in res, key
    assert res["train_samples_per_s"] > 0 and res["eval_users_per_s"] > 0


@pytest.mark.slow
def test_bench_paper_json(tmp_path):
    rng = np.random.default_rng(0)
    sessions = [rng.integers(1, 60, rng.integers(2, 8)).tolist() for _ in range(120)]
    test_sessions = [rng.integers(1, 60, rng.integers(2, 8)).tolist() for _ in range(30)]
    write_session_pickles(tmp_path, sessions, augment_prefixes(sessions), augment_prefixes(test_sessions))
    res = _run_bench("bench_paper.py", "--data_dir", str(tmp_path), "--max_steps", "2", "--test_batches", "1")
    assert {"epoch_seconds", "test_seconds", "step_ms_parts", "train_samples_per_s"} <= set(res)
    assert set(res["step_ms_parts"]) == {"data", "encode", "loss", "backward", "optimizer"}
    res = _run_bench("bench_paper.py", "--data_dir", str(tmp_path), "--max_steps", "2", "--test_batches", "1",
                     "--model", "narm", "--targets", "all")
    assert (res["model"], res["targets"]) == ("narm", "all") and res["train_pairs"] < len(augment_prefixes(sessions)[1])


@pytest.mark.slow
def test_bench_scale_json():
    res = _run_bench("bench_scale.py", "--items", "500", "--max_steps", "2", "--num_negatives", "16",
                     "--queries", "20", "--nprobe", "2")
    assert [(r["items"], r["loss"]) for r in res["train"]] == [(500, "full"), (500, "sampled")]
    assert {r["index"] for r in res["search"]} == {"flat", "ivf"}


@pytest.mark.slow
def test_bench_quality_json(tiny_dir):
    res = _run_bench("bench_quality.py", "--data_dir", str(tiny_dir), "--epochs", "1", "--num_negatives", "16",
                     "--nprobe", "2")
    assert {(r["training"].split(",")[0], r["index"]) for r in res["rows"]} == {
        ("full softmax", "flat"), ("full softmax", "ivf"), ("sampled softmax", "flat"), ("sampled softmax", "ivf")}


@pytest.mark.slow
def test_two_cpu_ranks_train_through_the_launcher(tiny_dir, tmp_path):
    """scripts/train.sh --cpu_procs 2 (-> train_multi_gpu.sh): paddle.distributed.launch, gloo collective."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LOG_DIR": str(tmp_path / "log"), "PYTHON": sys.executable}
    out = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "train.sh"), "--cpu_procs", "2",
                          "--data_dir", str(tiny_dir), "--exp_dir", str(tmp_path / "exp"), "--epochs", "2",
                          "--batch_size", "32", "--cpu_threads", "1", "--quiet"],
                         capture_output=True, text=True, env=env, timeout=300)
    logs = {p.name: p.read_text() for p in (tmp_path / "log").glob("workerlog.*")}
    assert out.returncode == 0, out.stdout[-2000:] + "".join(logs.values())[-3000:]
    assert "2 data-parallel ranks" in logs["workerlog.0"]
    assert "epoch 2:" in logs["workerlog.0"] and "epoch 2:" not in logs["workerlog.1"]  # rank 0 evaluates and logs
    summary = json.loads(next((tmp_path / "exp").rglob("summary.json")).read_text())
    assert summary["epochs_run"] == 2


@pytest.mark.slow
def test_data_parallel_averages_gradients_over_two_cpu_ranks(tmp_path):
    """paddle.DataParallel over gloo, called as the Trainer calls it, averages every
    parameter's gradient (the item table gets gradients from the lookup and the loss)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", str(tmp_path / "log"), str(REPO_ROOT / "tests" / "training" / "dist_grad_worker.py")],
                         capture_output=True, text=True, env=env, timeout=300)
    logs = [(tmp_path / "log" / f"workerlog.{r}").read_text() for r in range(2)]
    assert out.returncode == 0, "".join(logs)[-3000:]
    for rank, log in enumerate(logs):
        for kernels in ("host", "paddle"):
            assert f"rank {rank}, {kernels} kernels: synchronised gradients equal the mean of local ones: True" in log


def test_train_multi_gpu_script_rejects_bad_arguments():
    script = str(REPO_ROOT / "scripts" / "train_multi_gpu.sh")
    for args in ([], ["--gpus", "0;1"], ["--gpus", "0", "--cpu_procs", "2"], ["--cpu_procs", "x"]):
        out = subprocess.run(["bash", script, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, args
