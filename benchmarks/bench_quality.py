"""Quality cost of the fast approximations: full vs sampled softmax, flat vs IVF recall.

    PYTHONPATH=. python benchmarks/bench_quality.py --data_dir DIR [--epochs 10] [--lr 0.001]
        [--num_negatives 256] [--nprobe 8,32] [--cpu_threads N] [--json]

Trains the notebook model on ``DIR`` (the CSV triple) through the public run path
(:func:`srgnn_paddle.runs.train_run`, a temporary ``exp`` folder) once with the full softmax
and once per sampled-softmax variant (uniform and popularity negatives, log-q corrected),
for ``--epochs`` epochs each (no early stop), then scores the best weights on the test users
at N = 50 with the exact Faiss index (flat) and with IVF at each ``--nprobe``. Prints the
training seconds and the test recall@50 / ndcg@50 / hitrate@50 of every combination.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional
import zlib  # noqa: F401  (before Paddle: Paddle 2.6 breaks a zlib loaded after it, see srgnn_paddle/compat.py)

import paddle

from srgnn_paddle.config import Config, load_config
from srgnn_paddle.models import SRGNN
from srgnn_paddle.protocols import get_protocol
from srgnn_paddle.runs import train_run
from srgnn_paddle.evaluation import RecallEvaluator
from srgnn_paddle.training import CONFIG_FILE, MODEL_FILE


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--num_negatives", type=int, default=256)
    parser.add_argument("--nprobe", default="8,32", help="IVF nprobe values, comma-separated")
    parser.add_argument("--ivf_nlist", type=int, default=0, help="IVF lists (0 = the toolkit's default)")
    parser.add_argument("--cpu_threads", type=int, default=0,
                        help="cores for the CPU host math (0 = every core, as in training)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    args.cpu_threads = args.cpu_threads or os.cpu_count() or 1
    epochs = args.epochs

    variants = [
        ("full softmax", {"loss": "softmax"}),
        (f"sampled softmax, {args.num_negatives} uniform", {"loss": "sampled_softmax", "num_negatives": args.num_negatives,
                                                            "negative_sampler": "uniform"}),
        (f"sampled softmax, {args.num_negatives} popularity", {"loss": "sampled_softmax",
                                                               "num_negatives": args.num_negatives,
                                                               "negative_sampler": "popularity"}),
    ]
    nprobes = [int(s) for s in args.nprobe.split(",") if s]
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as exp_dir:
        for name, changes in variants:
            cfg = Config.from_dict({"device": "cpu", "cpu_threads": args.cpu_threads, "lr": args.lr,
                                    "batch_size": args.batch_size, "epochs": epochs, "patience": epochs,
                                    "dataset": "quality_" + changes.get("negative_sampler", "full"), **changes})
            start = time.perf_counter()
            run_dir, summary = train_run(cfg, args.data_dir, Path(exp_dir), progress=False, log=lambda _m: None)
            train_seconds = summary["train_seconds"]
            wall = time.perf_counter() - start
            cfg = cfg.replace(n_items=load_config(run_dir / CONFIG_FILE).n_items)
            data = get_protocol("notebook").load_data(cfg, args.data_dir)
            model = SRGNN(cfg)
            model.set_state_dict(paddle.load(str(run_dir / MODEL_FILE)))
            test = data.test
            for index, nprobe in [("flat", 0)] + [("ivf", p) for p in nprobes]:
                eval_cfg = cfg.replace(index=index, ivf_nprobe=nprobe or cfg.ivf_nprobe, ivf_nlist=args.ivf_nlist)
                start = time.perf_counter()
                metrics = RecallEvaluator(test, eval_cfg, model)(model)
                row = {"training": name, "index": index, "nprobe": nprobe, "train_seconds": train_seconds,
                       "run_seconds": wall, "best_epoch": summary["best_epoch"],
                       "eval_seconds": time.perf_counter() - start,
                       **{k: metrics[k] for k in ("recall@50", "ndcg@50", "hitrate@50")}}
                rows.append(row)
                probe = f" nprobe {nprobe}" if nprobe else ""
                print(f"{name:<34} train {train_seconds:6.1f} s | test {index}{probe}: recall@50 "
                      f"{row['recall@50']:.4f}, ndcg@50 {row['ndcg@50']:.4f}, hitrate@50 {row['hitrate@50']:.4f}")
    result = {"epochs": epochs, "lr": args.lr, "cpu_threads": args.cpu_threads, "rows": rows}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
