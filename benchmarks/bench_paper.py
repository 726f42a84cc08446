"""Seconds per DIGINETICA training epoch and per test pass at the paper's configuration.

    PYTHONPATH=. python benchmarks/bench_paper.py --data_dir /work/shared/data/diginetica
        [--config configs/paper_diginetica.yaml] [--max_steps 200] [--test_batches 20]
        [--cpu_threads N] [--json]

Loads the paper layout (``all_train_seq.txt``/``train.txt`` and ``test.txt``) as
``srgnn-paddle train`` does (10% of the training pairs held out), runs ``--max_steps``
training steps of the toolkit's step (the first one untimed) with a per-part breakdown
(data: batch + graph from the loader; encode; loss; backward; optimizer), and scores
``--test_batches`` test batches with the paper evaluator's work (full-catalogue scores,
top-K on the device). Epoch and test-pass seconds are **extrapolated** from those samples
(``0`` runs everything, and the figures are then measured).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import paddle

from srgnn_paddle.config import load_config
from srgnn_paddle.data import make_loader
from srgnn_paddle.metrics import rank_sums
from srgnn_paddle.model import SRGNN
from srgnn_paddle.runs import load_paper_data
from srgnn_paddle.runtime import seed_everything, select_device
from srgnn_paddle.training import NextItemEvaluator, make_optimizer

PARTS = ("data", "encode", "loss", "backward", "optimizer")
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "paper_diginetica.yaml"


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, type=Path)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--max_steps", type=int, default=200, help="training steps to time (0 = whole epoch)")
    parser.add_argument("--test_batches", type=int, default=20, help="test batches to time (0 = whole test set)")
    parser.add_argument("--cpu_threads", type=int, default=0,
                        help="cores for the CPU host math (0 = every core, as in training)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu", "auto"))
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    args.cpu_threads = args.cpu_threads or os.cpu_count() or 1

    cfg = load_config(args.config, {"device": args.device, "cpu_threads": args.cpu_threads})
    device = select_device(cfg.device, cfg.cpu_threads)
    data = load_paper_data(cfg, args.data_dir)
    cfg = cfg.replace(n_items=data.n_items)
    seed_everything(cfg.seed)
    model = SRGNN(cfg)
    optimizer = make_optimizer(cfg, model.parameters())
    loader = make_loader(data.train, cfg.batch_size, shuffle=True, seed=cfg.seed)
    loader.batch_view.set_epoch(1)
    total_steps = len(loader)
    steps = min(args.max_steps, total_steps) if args.max_steps else total_steps

    parts = dict.fromkeys(PARTS, 0.0)
    iterator = iter(loader)
    timed_samples = 0
    for step in range(steps):
        t0 = time.perf_counter()
        batch = next(iterator)
        t1 = time.perf_counter()
        user_emb = model.encode(batch.graph)
        t2 = time.perf_counter()
        loss = model.loss(user_emb, batch.target)
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        optimizer.step()
        optimizer.clear_grad()
        float(loss)
        t5 = time.perf_counter()
        if step == 0 and steps > 1:
            continue  # warm-up
        for name, seconds in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            parts[name] += seconds
        timed_samples += len(batch)
    timed_steps = steps - 1 if steps > 1 else 1
    step_ms = {k: 1000.0 * v / timed_steps for k, v in parts.items()}
    step_total_ms = sum(step_ms.values())
    epoch_seconds = step_total_ms / 1000.0 * total_steps

    test = data.test
    evaluator = NextItemEvaluator(test, cfg)
    model.eval()
    n_test_batches = len(evaluator.loader)
    test_limit = min(args.test_batches, n_test_batches) if args.test_batches else n_test_batches
    start = time.perf_counter()
    with paddle.no_grad():
        for _, batch in zip(range(test_limit), evaluator.loader):
            rank_sums(evaluator.ranks(model, model.encode(batch.graph), batch.target), NextItemEvaluator.KS)
    test_seconds = (time.perf_counter() - start) * n_test_batches / test_limit

    result: Dict[str, Any] = {
        "device": device, "cpu_threads": cfg.cpu_threads, "batch_size": cfg.batch_size,
        "embedding_dim": cfg.embedding_dim, "n_items": data.n_items, "train_pairs": len(data.train),
        "steps_per_epoch": total_steps, "timed_steps": timed_steps,
        "step_ms": step_total_ms, "step_ms_parts": step_ms,
        "epoch_seconds": epoch_seconds, "epoch_extrapolated": steps < total_steps,
        "test_sequences": len(test), "test_batch_size": cfg.eval_batch_size, "test_batches_timed": test_limit,
        "test_seconds": test_seconds, "test_extrapolated": test_limit < n_test_batches,
        "train_samples_per_s": timed_samples / max(sum(parts.values()), 1e-9),
    }
    label = "extrapolated from " + f"{timed_steps} steps" if result["epoch_extrapolated"] else "measured"
    print(f"device {device} (CPU threads {cfg.cpu_threads}); {len(data.train)} training pairs, "
          f"{total_steps} steps of {cfg.batch_size}, {data.n_items} items, D {cfg.embedding_dim}, step {cfg.step}")
    print(f"step {step_total_ms:.1f} ms = " + ", ".join(f"{k} {v:.1f}" for k, v in step_ms.items()))
    print(f"training epoch: {epoch_seconds:.0f} s ({label})")
    tlabel = f"extrapolated from {test_limit} of {n_test_batches} batches" if result["test_extrapolated"] else "measured"
    print(f"test pass ({len(test)} sequences): {test_seconds:.1f} s ({tlabel})")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
