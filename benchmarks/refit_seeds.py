"""SR-GNN's DIGINETICA refit with other seeds: how far its test P@20 / MRR@20 move with the seed alone.

    PYTHONPATH=. python benchmarks/refit_seeds.py --data_dir ../shared/data/diginetica
        --work_dir exp/refit_seeds [--seeds 1,2] [--epochs 4] [--cpu_threads N] [--json]

``train --refit`` first trains on 90% of the training pairs to let validation choose the
number of epochs, then trains a fresh model on every training pair for that many epochs and
scores the test split once (``test_refit``). The refit of docs/results/diginetica/SRGNN_0.001_100_100
(seed 2024) selected 4 epochs, the most the run allowed (validation still rising). This
script repeats only the refit step (:func:`srgnn_paddle.runs.train_refit`, the code
``train --refit`` runs) for each seed of ``--seeds`` with the same ``--epochs``, skipping the
selection run, which at 4 epochs cannot choose anything else; the spread of the seeds says
whether a gap of a few hundredths to the paper's single run is a difference at all.

Each seed is a resumable run folder ``<work_dir>/seed<N>`` (checkpoint after every epoch;
a seed finished with the same ``--epochs`` is read back, not trained again). Prints one row per seed and, with
``--json``, one JSON object as the last line.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from tqdm import tqdm

from srgnn_paddle.config import load_config
from srgnn_paddle.kernels import select_kernels
from srgnn_paddle.protocols import get_protocol
from srgnn_paddle.runs import train_refit
from srgnn_paddle.runtime import host_threads, select_device
from srgnn_paddle.training import SUMMARY_FILE

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "paper_diginetica.yaml"
METRICS = ("P@20", "MRR@20")


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, type=Path)
    parser.add_argument("--work_dir", required=True, type=Path, help="one run folder per seed is kept here")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seeds", default="1,2", help="seeds, separated by commas")
    parser.add_argument("--epochs", type=int, default=4, help="refit epochs (what validation selected)")
    parser.add_argument("--cpu_threads", type=int, default=0, help="cores for the host math (0 = every core)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]

    cfg = load_config(args.config, {"model": "srgnn", "refit": True, "cpu_threads": host_threads(args.cpu_threads)})
    data = get_protocol("paper").load_data(cfg, args.data_dir)  # train_all (every training pair) does not depend on the seed
    cfg = cfg.replace(n_items=data.n_items)
    device = select_device(cfg.device)
    rows = []
    with select_kernels(cfg.kernels, device, cfg.cpu_threads) as kernels:
        for seed in seeds:
            run_dir = args.work_dir / f"seed{seed}"
            summary_file = run_dir / SUMMARY_FILE
            summary = json.loads(summary_file.read_text()) if summary_file.is_file() else None
            if summary is None or summary["epochs_run"] != args.epochs:  # not run, or run for other --epochs
                summary = train_refit(cfg.replace(seed=seed), data, kernels, args.epochs, run_dir, progress=False,
                                      log=tqdm.write)
            row = {"seed": seed, **{m: summary["test"][m] for m in METRICS},
                   "train_seconds": summary["train_seconds"]}
            rows.append(row)
            print(f"seed {seed}: test P@20 {row['P@20']:.2f}  MRR@20 {row['MRR@20']:.2f}  "
                  f"({args.epochs} epochs on {len(data.train_all)} pairs, {row['train_seconds']:.0f} s)", flush=True)
    result = {"config": str(args.config), "epochs": args.epochs, "train_pairs": len(data.train_all),
              "kernels": kernels.name, "cpu_threads": cfg.cpu_threads, "rows": rows}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
