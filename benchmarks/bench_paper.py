"""Seconds per DIGINETICA training epoch and per test pass at the paper's configuration.

    PYTHONPATH=. python benchmarks/bench_paper.py --data_dir /work/shared/data/diginetica
        [--config configs/paper_diginetica.yaml] [--max_steps 200] [--test_batches 20]
        [--kernels auto|host|paddle] [--adam kernels|paddle] [--grads freed|zeroed] [--cpu_threads N] [--json]
        [--model srgnn|gru4rec|...] [--targets last|all]

Loads the paper layout (``all_train_seq.txt``/``train.txt`` and ``test.txt``) as
``srgnn-paddle train`` does (10% of the training pairs held out), runs ``--max_steps``
training steps of the toolkit's step (the first one untimed) with a per-part breakdown
(data: batch + graph from the loader; encode; loss; backward; optimizer), and scores
``--test_batches`` test batches with the paper evaluator's work (full-catalogue scores,
ranks counted by the run's kernels); ``--model`` and ``--targets`` as in ``train`` (the
"encode" part is then the model's ``loss_inputs``). Epoch and test-pass seconds are **extrapolated** from
those samples (``0`` runs everything, and the figures are then measured). ``--kernels``
chooses the kernels as ``train --kernels`` does; ``--adam paddle`` replaces the kernels'
optimiser with ``paddle.optimizer.Adam`` (to measure what :class:`HostAdam` saves);
``--grads zeroed`` zeroes the gradients after each step (Paddle's ``clear_grad()``) instead
of freeing them as the Trainer does in one process (to measure what freeing saves).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional
import zlib  # noqa: F401  (before Paddle: Paddle 2.6 breaks a zlib loaded after it, see srgnn_paddle/compat.py)

import paddle

from srgnn_paddle.config import load_config
from srgnn_paddle.data import make_loader
from srgnn_paddle.evaluation import NextItemEvaluator, rank_sums
from srgnn_paddle.kernels import Kernels, select_kernels
from srgnn_paddle.models import build_model
from srgnn_paddle.protocols import get_protocol
from srgnn_paddle.runtime import host_threads, seed_everything, select_device

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
    parser.add_argument("--kernels", default="auto", choices=("auto", "host", "paddle"))
    parser.add_argument("--adam", default="kernels", choices=("kernels", "paddle"),
                        help="kernels: the kernels' optimiser (HostAdam with host kernels); paddle: paddle.optimizer.Adam")
    parser.add_argument("--grads", default="freed", choices=("freed", "zeroed"),
                        help="after each step: freed (clear_grad(set_to_zero=False), as the Trainer in one process) "
                             "or zeroed (Paddle's default clear_grad())")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--model", default="srgnn", help="the model to time (as train --model)")
    parser.add_argument("--targets", default="last", choices=("last", "all"), help="as train --targets")
    args = parser.parse_args(argv)
    args.cpu_threads = host_threads(args.cpu_threads)

    cfg = load_config(args.config, {"device": args.device, "cpu_threads": args.cpu_threads, "kernels": args.kernels,
                                    "model": args.model, "targets": args.targets})
    device = select_device(cfg.device)
    data = get_protocol("paper").load_data(cfg, args.data_dir)
    cfg = cfg.replace(n_items=data.n_items)
    with select_kernels(cfg.kernels, device, cfg.cpu_threads) as kernels:
        result = run(args, cfg, data, kernels)
    result["device"] = device
    print(f"{cfg.model} (targets {cfg.targets}) on {device} ({kernels.name} kernels, {args.adam} Adam, "
          f"{args.grads} gradients, CPU threads {cfg.cpu_threads}); {len(data.train)} training samples, "
          f"{result['steps_per_epoch']} steps of {cfg.batch_size}, "
          f"{data.n_items} items, D {cfg.embedding_dim}, step {cfg.step}")
    label = f"extrapolated from {result['timed_steps']} steps" if result["epoch_extrapolated"] else "measured"
    print(f"step {result['step_ms']:.1f} ms = " + ", ".join(f"{k} {v:.1f}" for k, v in result["step_ms_parts"].items()))
    print(f"training epoch: {result['epoch_seconds']:.0f} s ({label})")
    tlabel = (f"extrapolated from {result['test_batches_timed']} batches" if result["test_extrapolated"]
              else "measured")
    print(f"test pass ({result['test_sequences']} sequences): {result['test_seconds']:.1f} s ({tlabel})")
    if args.json:
        print(json.dumps(result))
    return result


def run(args: argparse.Namespace, cfg, data, kernels: Kernels) -> Dict[str, Any]:
    """Time the training steps and the test pass with ``kernels``."""
    seed_everything(cfg.seed)
    model = build_model(cfg)
    optimizer = (Kernels() if args.adam == "paddle" else kernels).optimizer(model.parameters(), cfg.lr,
                                                                            cfg.weight_decay)
    with kernels.attach(model):
        return _time(args, cfg, data, kernels, model, optimizer)


def _time(args: argparse.Namespace, cfg, data, kernels: Kernels, model, optimizer) -> Dict[str, Any]:
    loader = make_loader(data.train, cfg.batch_size, shuffle=True, seed=cfg.seed, layout=model.batch_layout)
    loader.set_epoch(1)
    total_steps = len(loader)
    steps = min(args.max_steps, total_steps) if args.max_steps else total_steps

    parts = dict.fromkeys(PARTS, 0.0)
    iterator = iter(loader)
    timed_samples = 0
    for step in range(steps):
        t0 = time.perf_counter()
        batch = next(iterator)
        t1 = time.perf_counter()
        user_emb, targets = model.loss_inputs(batch)
        t2 = time.perf_counter()
        loss = kernels.cross_entropy(user_emb, model.item_embeddings(), targets, not model.score_padding)
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        optimizer.step()
        optimizer.clear_grad(set_to_zero=args.grads == "zeroed")
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
    evaluator = NextItemEvaluator(test, cfg, model, kernels)
    model.eval()
    n_test_batches = len(evaluator.loader)
    test_limit = min(args.test_batches, n_test_batches) if args.test_batches else n_test_batches
    start = time.perf_counter()
    with paddle.no_grad():
        for _, batch in zip(range(test_limit), evaluator.loader):
            rank_sums(kernels.target_ranks(model, batch), NextItemEvaluator.KS)
    test_seconds = (time.perf_counter() - start) * n_test_batches / test_limit

    return {
        "model": cfg.model, "targets": cfg.targets, "kernels": kernels.name, "adam": args.adam, "grads": args.grads, "cpu_threads": cfg.cpu_threads, "batch_size": cfg.batch_size,
        "embedding_dim": cfg.embedding_dim, "n_items": data.n_items, "train_pairs": len(data.train),
        "steps_per_epoch": total_steps, "timed_steps": timed_steps,
        "step_ms": step_total_ms, "step_ms_parts": step_ms,
        "epoch_seconds": epoch_seconds, "epoch_extrapolated": steps < total_steps,
        "test_sequences": len(test), "test_batch_size": cfg.eval_batch_size, "test_batches_timed": test_limit,
        "test_seconds": test_seconds, "test_extrapolated": test_limit < n_test_batches,
        "train_samples_per_s": timed_samples / max(sum(parts.values()), 1e-9),
    }


if __name__ == "__main__":
    main()
