"""The counted baselines' fit and scoring time on a paper-protocol folder, in one run.

    PYTHONPATH=. python benchmarks/bench_counted.py --data_dir ../shared/data/diginetica
        [--models sr,vsknn,stan,vstan] [--batch_size 1024] [--test_pairs 0] [--json]

For each model (its config defaults): counts its statistics from every training session of
the folder (the sessions behind ``train.txt``'s pairs, no validation hold-out) and reports the
seconds; then scores the first ``--test_pairs`` test pairs (0: all) a batch at a time through
``full_scores`` and ranks their targets with the host kernels (the evaluator's rank count),
reporting the seconds, pairs/s and the P@20 / MRR@20 of those ranks. ``--json`` makes the last
line one JSON object.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import zlib  # noqa: F401  (before Paddle: Paddle 2.6 breaks a zlib loaded after it, see srgnn_paddle/compat.py)

from srgnn_paddle.config import Config
from srgnn_paddle.data import SessionDataset, SubsetDataset, make_loader
from srgnn_paddle.data.sessions import load_session_pickles
from srgnn_paddle.kernels import HostKernels
from srgnn_paddle.models import build_model

COUNTED = ("sr", "vsknn", "stan", "vstan")


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, type=Path)
    parser.add_argument("--models", default=",".join(COUNTED), help="comma-separated counted model names")
    parser.add_argument("--batch_size", type=int, default=1024, help="test pairs scored per batch")
    parser.add_argument("--test_pairs", type=int, default=0, help="test pairs to score (0 = all)")
    parser.add_argument("--cpu_threads", type=int, default=2, help="host kernel threads for the rank count")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    pickles = load_session_pickles(args.data_dir)
    sessions = SessionDataset(*pickles.train, pickles.n_items).sessions()
    test = SessionDataset(*pickles.test, pickles.n_items)
    if args.test_pairs:
        test = SubsetDataset(test, np.arange(min(args.test_pairs, len(test))))
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model = build_model(Config(model=name, n_items=pickles.n_items))
        start = time.perf_counter()
        model.fit(sessions)
        fit_s = time.perf_counter() - start
        ranks = []
        with HostKernels(args.cpu_threads) as kernels:
            start = time.perf_counter()
            for batch in make_loader(test, args.batch_size, graph=None):
                ranks.append(kernels.target_ranks(model, batch))
            score_s = time.perf_counter() - start
        ranks = np.concatenate(ranks)
        hit = ranks <= 20
        row = {"model": name, "run_name": model.run_name(Config(model=name)), "fit_seconds": round(fit_s, 3),
               "score_seconds": round(score_s, 3), "test_pairs": int(len(ranks)),
               "pairs_per_s": round(len(ranks) / score_s, 1), "P@20": round(100 * hit.mean(), 4),
               "MRR@20": round(100 * np.where(hit, 1.0 / ranks, 0.0).mean(), 4)}
        rows.append(row)
        print(f"{name:>6}: fit {fit_s:.2f} s, scoring {len(ranks):,} pairs {score_s:.2f} s "
              f"({row['pairs_per_s']:,.0f} pairs/s), P@20 {row['P@20']:.2f}, MRR@20 {row['MRR@20']:.2f}", flush=True)
    result = {"data_dir": str(args.data_dir), "training_sessions": len(sessions), "n_items": pickles.n_items,
              "batch_size": args.batch_size, "models": rows}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
