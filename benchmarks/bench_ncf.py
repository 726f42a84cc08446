"""NCF speed on a MovieLens-1M-sized generated set: one training epoch per batch size, and
the leave-one-out evaluation of every user.

    PYTHONPATH=. python benchmarks/bench_ncf.py [--model neumf] [--batch_sizes 256,2048]
        [--variants paddle] [--max_steps N] [--full_ranking] [--json]
    PYTHONPATH=. python benchmarks/bench_ncf.py --write_recbole DIR   # the same data for RecBole, then exit

The data: 6,040 users and 3,706 items (MovieLens-1M's counts), 1,000,209 interactions
(every user at least 20, a log-normal spread of user activity, item popularity skewed like
a Zipf law), generated with a fixed seed and written as an interactions CSV, then prepared
with ``prepare interactions-csv --protocol loo`` and read by the toolkit's own loader, as a
real run does. A training epoch is the trainer's own ``train_epoch`` (the pairs with 4
negatives per positive redrawn for the epoch, the shuffle, the loss, backward and the
optimiser step), on the paper's NeuMF (8 factors, towers 64-32-16-8, Adam lr 1e-3) unless
told otherwise. The epoch's negatives are drawn first and timed on their own (they are part
of the epoch's seconds); ``--max_steps N`` times N steps and extrapolates the steps to the
epoch.

``--variants`` (comma-separated) times the same epoch with other settings, in this process,
one after another:

* ``paddle``: what ``train --protocol loo`` does (plain Paddle kernels, fused Adam);
* ``paddle-per-parameter``: the same with one Adam op per parameter;
* ``host``: the host kernels (numpy GEMMs for the tower, :class:`HostAdam`).

Evaluation: the validation split (6,040 users, the held-out item and 99 sampled negatives
each: 604,000 scored pairs) through :class:`LeaveOneOutEvaluator`, timed three times (the
best is reported; the evaluator is built once); ``--full_ranking`` also times the
full-catalogue ranking of every user (6,040 x 3,706 scores).
"""
from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pandas as pd
import zlib  # noqa: F401  (before Paddle: Paddle 2.6 breaks a zlib loaded after it, see srgnn_paddle/compat.py)
import paddle

from srgnn_paddle.config import load_config
from srgnn_paddle.evaluation import LeaveOneOutEvaluator
from srgnn_paddle.kernels import has_sparse_gradients, select_kernels
from srgnn_paddle.models import build_model
from srgnn_paddle.prepare import PrepareOptions, prepare_dataset
from srgnn_paddle.runs import load_data
from srgnn_paddle.runtime import host_threads, seed_everything, select_device
from srgnn_paddle.training import Trainer, TrainerOptions

USERS, ITEMS, INTERACTIONS, MIN_PER_USER = 6040, 3706, 1_000_209, 20
VARIANTS = {"paddle": ("paddle", True), "paddle-per-parameter": ("paddle", False), "host": ("host", True)}


def generate_interactions(seed: int = 0) -> pd.DataFrame:
    """``user, item, timestamp`` rows of a MovieLens-1M-sized set (see the module docstring)."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, USERS)
    extra = INTERACTIONS - MIN_PER_USER * USERS
    counts = MIN_PER_USER + np.floor(activity / activity.sum() * extra).astype(np.int64)
    counts[: INTERACTIONS - counts.sum()] += 1  # exact total
    counts = np.minimum(counts, ITEMS // 2)
    popularity = 1.0 / np.arange(1, ITEMS + 1) ** 0.8
    popularity /= popularity.sum()
    users, items = [], []
    for user, count in enumerate(counts):  # the generator only; training never loops per sample
        users.append(np.full(count, user))
        items.append(rng.choice(ITEMS, size=count, replace=False, p=popularity))
    users, items = np.concatenate(users), np.concatenate(items)
    return pd.DataFrame({"user": users, "item": items, "timestamp": rng.integers(0, 10**9, len(users))})


def write_recbole(folder: Path) -> Path:
    """The generated set as RecBole's atomic file ``folder/ml1m-sized/ml1m-sized.inter``
    (for ``bench_recbole_neumf.py``, the same interactions as :func:`prepare` reads)."""
    out = Path(folder) / "ml1m-sized"
    out.mkdir(parents=True, exist_ok=True)
    frame = generate_interactions().rename(columns={"user": "user_id:token", "item": "item_id:token",
                                                    "timestamp": "timestamp:float"})
    frame.to_csv(out / "ml1m-sized.inter", sep="\t", index=False)
    return out / "ml1m-sized.inter"


def prepare(folder: Path) -> Path:
    """Write the generated set as a CSV and prepare it with the loo protocol into ``folder/ml1m-sized``."""
    raw = folder / "interactions.csv"
    generate_interactions().to_csv(raw, index=False)
    out = folder / "ml1m-sized"
    prepare_dataset("interactions-csv", raw, out, PrepareOptions(protocol="loo", user_col="user", item_col="item",
                                                                 time_col="timestamp", min_user_count=3))
    return out


def time_epoch(cfg, data, kernels, run_dir: Path, max_steps: int, fused: bool = True) -> Dict[str, Any]:
    """One training epoch (or ``max_steps`` steps, extrapolated) with the trainer's own loop
    (``fused``: False replaces its optimiser by one Adam op per parameter)."""
    seed_everything(cfg.seed)
    with paddle.utils.unique_name.guard():
        model = build_model(cfg)
        trainer = Trainer(cfg, model, data.train, None, run_dir, lambda: None, kernels, TrainerOptions(progress=False))
        if not fused:
            trainer.optimizer = kernels.optimizer(model.parameters(), cfg.lr, cfg.weight_decay, cfg.optimizer,
                                                  dense_gradients=False)
        fused = fused and not has_sparse_gradients(model) and kernels.name == "paddle" and cfg.optimizer == "adam"
    steps = len(trainer.loader)
    if max_steps:
        trainer.loader = FirstBatches(trainer.loader, max_steps)
    data.train.epoch = -1  # every variant draws the epoch's negatives afresh (timed on their own)
    start = time.perf_counter()
    trainer.loader.set_epoch(1)
    draw = time.perf_counter() - start
    with kernels.attach(model):
        start = time.perf_counter()
        loss = trainer.train_epoch(1)  # the negatives of epoch 1 are drawn already
        seconds = time.perf_counter() - start
    run = min(steps, max_steps) if max_steps else steps
    return {"batch_size": cfg.batch_size, "fused_adam": fused, "rows": len(data.train), "steps": steps,
            "steps_run": run, "negatives_seconds": draw, "seconds": draw + seconds * steps / run,
            "extrapolated": run < steps, "loss": loss, "ms_per_step": 1000 * seconds / run,
            "rows_per_s": run * cfg.batch_size / seconds}


class FirstBatches:
    """The trainer's loader interface over the first ``max_steps`` batches of ``loader``."""

    def __init__(self, loader, max_steps: int) -> None:
        self.loader = loader
        self.max_steps = int(max_steps)

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)

    def global_batch_index(self, step: int) -> int:
        return self.loader.global_batch_index(step)

    def __len__(self) -> int:
        return min(len(self.loader), self.max_steps)

    def __iter__(self):
        return itertools.islice(iter(self.loader), len(self))


def time_evaluation(cfg, data, kernels, full_ranking: bool, repeats: int = 3) -> Dict[str, Any]:
    """Best of ``repeats`` evaluations of the validation split (every user)."""
    with paddle.utils.unique_name.guard():
        model = build_model(cfg)
    evaluator = LeaveOneOutEvaluator(data.valid, cfg, model, kernels, full_ranking=full_ranking)
    times: List[float] = []
    with kernels.attach(model):
        for _ in range(repeats):
            start = time.perf_counter()
            evaluator(model)
            times.append(time.perf_counter() - start)
    candidates = data.valid.negatives.shape[1] + 1
    return {"users": len(data.valid), "candidates": candidates if not full_ranking else cfg.n_items - 1,
            "seconds": min(times), "all_seconds": [round(t, 3) for t in times]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="neumf", choices=("gmf", "mlp", "neumf"))
    parser.add_argument("--batch_sizes", default="256,2048", help="comma-separated training batch sizes")
    parser.add_argument("--variants", default="paddle", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    parser.add_argument("--cpu_threads", type=int, default=0, help="host threads (0 = every core)")
    parser.add_argument("--max_steps", type=int, default=0, help="time this many steps and extrapolate (0 = epoch)")
    parser.add_argument("--full_ranking", action="store_true", help="also time the full-catalogue evaluation")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--write_recbole", default=None, metavar="DIR",
                        help="write the generated set as RecBole's atomic file under DIR and exit")
    args = parser.parse_args()
    if args.write_recbole:
        print(f"wrote {write_recbole(Path(args.write_recbole))}")
        return
    device = select_device("cpu")
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    result: Dict[str, Any] = {"model": args.model, "paddle": paddle.__version__, "cpu_threads":
                              host_threads(args.cpu_threads), "epochs": [], "evaluation": []}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        data_dir = prepare(Path(tmp))
        result["prepare_seconds"] = round(time.perf_counter() - start, 1)
        base = load_config(None, {"protocol": "loo", "model": args.model, "optimizer": args.optimizer,
                                  "cpu_threads": args.cpu_threads, "dataset": "ml1m-sized"})
        data = load_data(base, data_dir)
        base = base.replace(n_items=data.n_items, n_users=data.n_users)
        result["data"] = {"users": data.n_users, "items": data.n_items - 1, "train_positives":
                          len(data.train.users), "train_rows": len(data.train)}
        print(f"{args.model}, {result['cpu_threads']} thread(s): {data.n_users} users, {data.n_items - 1} items, "
              f"{len(data.train.users):,} training positives x {1 + base.num_negatives} = {len(data.train):,} rows "
              f"per epoch (generated and prepared in {result['prepare_seconds']} s)")
        for variant in variants:
            kernels_name, fused = VARIANTS[variant]
            with select_kernels(kernels_name, device, host_threads(base.cpu_threads)) as kernels:
                for batch_size in (int(b) for b in args.batch_sizes.split(",")):
                    cfg = base.replace(batch_size=batch_size, kernels=kernels_name)
                    epoch = time_epoch(cfg, data, kernels, Path(tmp) / f"run{batch_size}", args.max_steps, fused)
                    result["epochs"].append({"variant": variant, **epoch})
                    print(f"  {variant}: train batch {batch_size}: {epoch['seconds']:.1f} s per epoch"
                          f"{' (extrapolated)' if epoch['extrapolated'] else ''} (negatives drawn in "
                          f"{epoch['negatives_seconds']:.2f} s), {epoch['ms_per_step']:.2f} ms/step, "
                          f"{epoch['rows_per_s']:,.0f} rows/s, loss {epoch['loss']:.4f}")
        with select_kernels("paddle", device) as kernels:
            for full in (False, True) if args.full_ranking else (False,):
                timing = time_evaluation(base, data, kernels, full)
                result["evaluation"].append({**timing, "full_ranking": full})
                what = "full catalogue" if full else f"{timing['candidates']} candidates"
                print(f"  evaluate {timing['users']} users, {what}: {timing['seconds']:.3f} s (best of "
                      f"{timing['all_seconds']})")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
