"""One training epoch and one validation pass at the notebook config: fast path vs notebook style.

    PYTHONPATH=. python benchmarks/bench_train.py --data_dir DIR [--max_steps N] [--json]
        [--notebook_style | --fast_only] [--cpu_threads N]

``DIR`` holds ``train_enc.csv``, ``valid_enc.csv``, ``test_enc.csv`` (e.g. made with
``python -m srgnn_paddle.synthetic DIR --n-users 20000 --n-items 15406``). Config: the
notebook's (batch 256, D 16, max_length 20, step 2, Adam lr 1e-4). By default both modes run
in this one process on the same data and the speed-ups are printed:

* fast: the toolkit's path (whole batches built with numpy plus the vectorised graph in the
  loader, :meth:`SRGNN.encode`, numpy-BLAS softmax cross-entropy on the CPU, vectorised
  Faiss evaluation);
* notebook style (``notebook_reference.py``): per-sample Paddle tensors, default
  collate, per-session graph loop inside the step, Paddle matmul + cross-entropy, per-user
  Python loops in evaluation. It shares the toolkit's encoder (``SRGNN.encode``, whose dense
  GEMMs run in numpy's BLAS on the CPU), so the speed-up measures the data, graph, loss and
  evaluation organisation only and understates the gain over the original notebook.

With ``--max_steps N`` only N training steps run; the first step is a warm-up and is not
timed, and the epoch time is extrapolated from the timed steps (``epoch_extrapolated``).
Evaluation always covers every validation user at N = 50. Peak memory is the process's
``ru_maxrss`` after each mode (it only grows, so the second mode's figure includes the first).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional
import zlib  # noqa: F401  (before Paddle: Paddle 2.6 breaks a zlib loaded after it, see srgnn_paddle/compat.py)

import paddle

from notebook_reference import make_notebook_loaders, notebook_evaluate, notebook_train_step, steps_per_epoch
from srgnn_paddle.config import Config
from srgnn_paddle.data import make_loader
from srgnn_paddle.evaluation import RecallEvaluator
from srgnn_paddle.kernels import select_kernels
from srgnn_paddle.models import SRGNN
from srgnn_paddle.protocols import PreparedData, get_protocol
from srgnn_paddle.runtime import host_threads, seed_everything, select_device


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (``ru_maxrss`` is KiB on Linux)."""
    scale = 1.0 / 1024 / 1024 if sys.platform == "darwin" else 1.0 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def time_training(batches: Iterable, step: Callable[[Any], int], n_samples: int, batch_size: int,
                  max_steps: int) -> Dict[str, Any]:
    """Run ``step(batch) -> samples`` over ``batches``; the first step is an untimed warm-up.

    Returns samples/s over the timed steps and the epoch seconds (measured when the whole
    epoch ran, else extrapolated from samples/s).
    """
    total_steps = steps_per_epoch(n_samples, batch_size)
    limit = min(max_steps, total_steps) if max_steps else total_steps
    iterator = iter(batches)
    start = time.perf_counter()
    step(next(iterator))
    warmup = time.perf_counter() - start
    timed_samples, steps = 0, 1
    start = time.perf_counter()
    while steps < limit:
        timed_samples += step(next(iterator))
        steps += 1
    seconds = time.perf_counter() - start
    if steps == total_steps:
        per_s = (timed_samples + batch_size) / (seconds + warmup)
        return {"train_samples_per_s": per_s, "epoch_seconds": seconds + warmup, "epoch_extrapolated": False,
                "train_steps_run": steps}
    per_s = timed_samples / seconds if seconds > 0 else float("nan")
    return {"train_samples_per_s": per_s, "epoch_seconds": n_samples / per_s, "epoch_extrapolated": True,
            "train_steps_run": steps}


def run_fast(cfg: Config, data: PreparedData, max_steps: int, device: str) -> Dict[str, Any]:
    """The toolkit's training step and evaluator, with the kernels ``train`` would choose."""
    seed_everything(cfg.seed)
    model = SRGNN(cfg)
    with select_kernels(cfg.kernels, device, cfg.cpu_threads) as kernels, kernels.attach(model):
        optimizer = kernels.optimizer(model.parameters(), cfg.lr, cfg.weight_decay)
        loader = make_loader(data.train, cfg.batch_size, shuffle=True, seed=cfg.seed, layout=model.batch_layout)
        loader.set_epoch(1)

        def step(batch) -> int:
            loss = model.calculate_loss(batch, kernels.cross_entropy)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            float(loss)
            return len(batch)

        out = time_training(loader, step, len(data.train), cfg.batch_size, max_steps)
        evaluator = RecallEvaluator(data.valid, cfg, model)
        start = time.perf_counter()
        metrics = evaluator(model)
    out["eval_seconds"] = time.perf_counter() - start
    out["eval_users_per_s"] = len(data.valid) / out["eval_seconds"]
    out["eval_recall@50"] = metrics[f"recall@{cfg.topN}"]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_notebook_style(cfg: Config, data: PreparedData, max_steps: int) -> Dict[str, Any]:
    """The same work done the notebook's way (``notebook_reference.py`` beside this file)."""
    seed_everything(cfg.seed)
    model = SRGNN(cfg)
    optimizer = paddle.optimizer.Adam(learning_rate=cfg.lr, parameters=model.parameters())
    train_loader, valid_loader = make_notebook_loaders(data.train, data.valid, cfg.batch_size, cfg.seed,
                                                       cfg.eval_batch_size)

    def step(batch) -> int:
        notebook_train_step(model, optimizer, batch)
        return int(batch[0].shape[0])

    out = time_training(train_loader, step, len(data.train), cfg.batch_size, max_steps)
    start = time.perf_counter()
    metrics = notebook_evaluate(model, valid_loader, cfg.topN)
    out["eval_seconds"] = time.perf_counter() - start
    out["eval_users_per_s"] = len(data.valid) / out["eval_seconds"]
    out["eval_recall@50"] = metrics[f"recall@{cfg.topN}"]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def report(name: str, res: Dict[str, Any], n_samples: int) -> None:
    label = "extrapolated from " + f"{res['train_steps_run'] - 1} timed steps" if res["epoch_extrapolated"] else "measured"
    print(f"[{name}] train: {res['train_samples_per_s']:.0f} samples/s, epoch of {n_samples} samples "
          f"{res['epoch_seconds']:.1f} s ({label})")
    print(f"[{name}] eval:  {res['eval_users_per_s']:.0f} users/s ({res['eval_seconds']:.2f} s), "
          f"recall@50 {res['eval_recall@50']:.4f}; peak RSS so far {res['peak_rss_mb']:.0f} MiB")


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, type=Path)
    parser.add_argument("--max_steps", type=int, default=0, help="training steps to run (0 = the whole epoch)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--notebook_style", action="store_true", help="run only the notebook-style mode")
    mode.add_argument("--fast_only", action="store_true", help="run only the fast mode")
    parser.add_argument("--cpu_threads", type=int, default=0,
                        help="cores for the CPU host math (0 = every core, as in training)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu", "auto"))
    parser.add_argument("--kernels", default="auto", choices=("auto", "host", "paddle"),
                        help="the fast mode's kernels, as train --kernels")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    args.cpu_threads = host_threads(args.cpu_threads)

    cfg = Config(device=args.device, cpu_threads=args.cpu_threads, kernels=args.kernels)
    device = select_device(cfg.device)
    data = get_protocol("notebook").load_data(cfg, args.data_dir)
    cfg = cfg.replace(n_items=data.n_items)
    print(f"device {device} (CPU threads {cfg.cpu_threads}), {len(data.train)} training users, "
          f"{len(data.valid)} validation users, {data.n_items} items; batch {cfg.batch_size}, D "
          f"{cfg.embedding_dim}, step {cfg.step}, max_length {cfg.max_length}")
    result: Dict[str, Any] = {"device": device, "cpu_threads": cfg.cpu_threads, "samples_per_epoch": len(data.train),
                              "valid_users": len(data.valid), "n_items": data.n_items, "max_steps": args.max_steps}
    if not args.notebook_style:
        fast = run_fast(cfg, data, args.max_steps, device)
        report("fast", fast, len(data.train))
        result.update(fast)
    if not args.fast_only:
        slow = run_notebook_style(cfg, data, args.max_steps)
        report("notebook style", slow, len(data.train))
        if args.notebook_style:
            result.update(slow)
        else:
            result.update({f"notebook_{k}": v for k, v in slow.items()})
            result["train_speedup"] = result["train_samples_per_s"] / slow["train_samples_per_s"]
            result["eval_speedup"] = result["eval_users_per_s"] / slow["eval_users_per_s"]
            print(f"speed-up fast / notebook style: training {result['train_speedup']:.2f}x, "
                  f"evaluation {result['eval_speedup']:.2f}x")
    result["mode"] = "notebook_style" if args.notebook_style else ("fast" if args.fast_only else "both")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
