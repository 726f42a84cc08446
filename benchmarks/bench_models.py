"""Every registered model's training samples/s and evaluation sessions/s on one dataset, in one run.

    PYTHONPATH=. python benchmarks/bench_models.py --data_dir /work/shared/data/diginetica
        [--config configs/paper_diginetica.yaml] [--models srgnn,pop,...] [--max_steps 100]
        [--eval_sessions 10240] [--kernels auto|host|paddle] [--cpu_threads N] [--loss_every N] [--json]

Loads the data as ``srgnn-paddle train`` does (the config's protocol; paper: 10% of the
training pairs held out), then for each model (default: every registered one) builds it from
the config (``model`` replaced, the rest shared: batch size, dimension, ...) and

* a trained model: runs ``--max_steps`` training steps of the trainer's objective (the
  loader's batch building, loss, backward, optimiser; the first step untimed) and reports
  training samples/s (with ``--loss_every N`` also the mean training loss of every N steps,
  from the first, to show it falls);
* a counted model (``trainable = False``): counts its statistics from the training sessions
  once and reports the seconds (``fit_seconds``; no training samples/s);

and scores the first ``--eval_sessions`` test sessions (prefixes in the paper protocol,
users in the notebook's) with the protocol's evaluator, reporting sessions/s. ``--json``
makes the last line one JSON object.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import zlib  # noqa: F401  (before Paddle: Paddle 2.6 breaks a zlib loaded after it, see srgnn_paddle/compat.py)
import paddle

from srgnn_paddle.config import load_config
from srgnn_paddle.data import SubsetDataset, make_loader
from srgnn_paddle.evaluation import make_evaluator
from srgnn_paddle.kernels import Kernels, select_kernels
from srgnn_paddle.models import MODELS, build_model
from srgnn_paddle.runs import load_data
from srgnn_paddle.runtime import host_threads, seed_everything, select_device
from srgnn_paddle.training import Objective

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "paper_diginetica.yaml"


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, type=Path)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names (default: all)")
    parser.add_argument("--max_steps", type=int, default=100, help="training steps to time per model")
    parser.add_argument("--eval_sessions", type=int, default=10240, help="test sessions to score per model (0 = all)")
    parser.add_argument("--cpu_threads", type=int, default=0, help="host threads (0 = every core, as in training)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu", "auto"))
    parser.add_argument("--kernels", default="auto", choices=("auto", "host", "paddle"))
    parser.add_argument("--loss_every", type=int, default=0,
                        help="also print the mean training loss of every N steps (0 = not)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; registered: {', '.join(MODELS)}")

    cfg = load_config(args.config, {"device": args.device, "cpu_threads": host_threads(args.cpu_threads),
                                    "kernels": args.kernels})
    device = select_device(cfg.device)
    data = load_data(cfg, args.data_dir)
    cfg = cfg.replace(n_items=data.n_items)
    n_eval = min(args.eval_sessions, len(data.test)) if args.eval_sessions else len(data.test)
    eval_data = SubsetDataset(data.test, np.arange(n_eval))
    rows = []
    with select_kernels(cfg.kernels, device, cfg.cpu_threads) as kernels:
        for name in names:
            rows.append(bench_model(cfg.replace(model=name), data, eval_data, kernels, args.max_steps,
                                    args.loss_every))
            r = rows[-1]
            train = (f"counted in {r['fit_seconds']:.2f} s" if r["fit_seconds"] is not None else
                     f"training {r['train_samples_per_s']:,.0f} samples/s ({r['timed_steps']} steps, loss "
                     f"{r['loss_first']:.3f} -> {r['loss_last']:.3f})")
            print(f"{name:>10}: {train}, evaluation {r['eval_sessions_per_s']:,.0f} sessions/s ({n_eval} sessions), "
                  f"{r['parameters']:,} parameters", flush=True)
            if r.get("loss_curve"):
                print(f"{name:>10}: mean loss per {args.loss_every} steps: "
                      + ", ".join(f"{loss:.3f}" for loss in r["loss_curve"]), flush=True)
    result = {"device": device, "kernels": kernels.name, "cpu_threads": cfg.cpu_threads, "protocol": cfg.protocol,
              "data_dir": str(args.data_dir), "train_samples": len(data.train), "n_items": data.n_items,
              "batch_size": cfg.batch_size, "embedding_dim": cfg.embedding_dim, "eval_sessions": n_eval,
              "eval_batch_size": cfg.eval_batch_size, "models": rows}
    print(f"device {device} ({kernels.name} kernels, CPU threads {cfg.cpu_threads}); {len(data.train)} training "
          f"samples, {data.n_items} items, batch {cfg.batch_size}, D {cfg.embedding_dim}")
    if args.json:
        print(json.dumps(result))
    return result


def bench_model(cfg, data, eval_data, kernels: Kernels, max_steps: int, loss_every: int = 0) -> Dict[str, Any]:
    """Time one model's training (or counting) and its evaluation."""
    seed_everything(cfg.seed)
    with paddle.utils.unique_name.guard():
        model = build_model(cfg)
        with kernels.attach(model):
            if model.trainable:
                train = _time_steps(cfg, model, data.train, kernels, max_steps, loss_every)
            else:
                start = time.perf_counter()
                model.fit(data.train.sessions())
                seconds = time.perf_counter() - start
                train = {"train_samples_per_s": None, "fit_seconds": seconds, "timed_steps": 0,
                         "sessions_seconds": None, "loss_first": None, "loss_last": None}
            evaluator = make_evaluator(cfg, eval_data, model, kernels)
            start = time.perf_counter()
            metrics = evaluator(model)
            eval_seconds = time.perf_counter() - start
    return {"model": cfg.model, "trainable": model.trainable, "parameters": model.n_parameters(), **train,
            "eval_seconds": eval_seconds, "eval_sessions_per_s": len(eval_data) / max(eval_seconds, 1e-9),
            "eval_metrics": metrics}


def _time_steps(cfg, model, train, kernels: Kernels, max_steps: int, loss_every: int = 0) -> Dict[str, Any]:
    """``max_steps`` steps of the trainer's objective and optimiser (the first one untimed),
    batches built by the loader inside the timed loop; a model that learns from the training
    sessions first (``uses_training_sessions``) gets them as in the trainer (``sessions_seconds``).
    ``loss_first`` / ``loss_last``: the mean loss of the first and the last 10 steps; with
    ``loss_every`` the mean loss of every ``loss_every`` steps (``loss_curve``)."""
    sessions_seconds = None
    if model.uses_training_sessions:
        start = time.perf_counter()
        model.fit_sessions(train.sessions())
        sessions_seconds = time.perf_counter() - start
    optimizer = kernels.optimizer(model.parameters(), cfg.lr, cfg.weight_decay)
    objective = Objective(model, kernels)
    loader = make_loader(train, cfg.batch_size, shuffle=True, seed=cfg.seed, layout=model.batch_layout)
    loader.set_epoch(1)
    steps = min(max_steps, len(loader))
    model.train()
    samples, seconds = 0, 0.0
    losses: List[float] = []
    iterator = iter(loader)
    for step in range(steps):
        start = time.perf_counter()
        batch = next(iterator)
        loss = objective(batch, 1, step)
        loss.backward()
        optimizer.step()
        kernels.clear_gradients(optimizer)  # as the Trainer in one process
        losses.append(float(loss))
        if step == 0 and steps > 1:
            continue  # warm-up
        seconds += time.perf_counter() - start
        samples += len(batch)
    curve = [float(np.mean(losses[i:i + loss_every])) for i in range(0, len(losses), loss_every)] if loss_every else []
    return {"train_samples_per_s": samples / max(seconds, 1e-9), "fit_seconds": None,
            "timed_steps": steps - 1 if steps > 1 else steps, "sessions_seconds": sessions_seconds,
            "loss_first": float(np.mean(losses[:10])), "loss_last": float(np.mean(losses[-10:])),
            "loss_curve": curve}


if __name__ == "__main__":
    main()
