"""The training loss over a model's first steps on a dataset: a short real-data sanity check.

    PYTHONPATH=. python benchmarks/loss_curve.py --data_dir ../shared/data/diginetica
        --config configs/paper_lessr.yaml [--model lessr] [--steps 300] [--window 25]
        [--kernels auto|host|paddle] [--device cpu|gpu|auto] [--json]

Loads the data as ``srgnn-paddle train`` does, builds the model from the config (``--model``
replaces its ``model``), and runs ``--steps`` steps of the trainer's objective and optimiser on
the first epoch's shuffled batches, printing the mean loss of every ``--window`` steps (and the
training samples/s of the steps after the first). Does not evaluate; the first step's loss of
a full-softmax model is about ``ln(n_items)``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import zlib  # noqa: F401  (before Paddle: Paddle 2.6 breaks a zlib loaded after it, see srgnn_paddle/compat.py)
import paddle

from srgnn_paddle.config import load_config
from srgnn_paddle.data import make_loader
from srgnn_paddle.kernels import select_kernels
from srgnn_paddle.models import build_model
from srgnn_paddle.runs import load_data
from srgnn_paddle.runtime import host_threads, seed_everything, select_device
from srgnn_paddle.training import Objective


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, type=Path)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--model", default="", help="the model to train (default: the config's)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--window", type=int, default=25, help="steps per printed mean loss")
    parser.add_argument("--cpu_threads", type=int, default=0, help="host threads (0 = every core)")
    parser.add_argument("--device", default="auto", choices=("cpu", "gpu", "auto"))
    parser.add_argument("--kernels", default="auto", choices=("auto", "host", "paddle"))
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    overrides = {"device": args.device, "cpu_threads": host_threads(args.cpu_threads), "kernels": args.kernels}
    if args.model:
        overrides["model"] = args.model
    cfg = load_config(args.config, overrides)
    device = select_device(cfg.device)
    data = load_data(cfg, args.data_dir)
    cfg = cfg.replace(n_items=data.n_items)
    seed_everything(cfg.seed)
    losses: List[float] = []
    seconds, samples = 0.0, 0
    with select_kernels(cfg.kernels, device, cfg.cpu_threads) as kernels, paddle.utils.unique_name.guard():
        model = build_model(cfg)
        with kernels.attach(model):
            optimizer = kernels.optimizer(model.parameters(), cfg.lr, cfg.weight_decay, cfg.optimizer)
            objective = Objective(model, kernels)
            loader = make_loader(data.train, cfg.batch_size, shuffle=True, seed=cfg.seed, layout=model.batch_layout)
            loader.set_epoch(1)
            model.train()
            for step, batch in zip(range(args.steps), loader):
                start = time.perf_counter()
                loss = objective(batch, 1, step)
                loss.backward()
                optimizer.step()
                kernels.clear_gradients(optimizer)
                losses.append(float(loss))
                if step:
                    seconds += time.perf_counter() - start
                    samples += len(batch)
                if (step + 1) % args.window == 0:
                    window = losses[-args.window:]
                    print(f"steps {step + 2 - args.window:>4}-{step + 1:<4} mean loss {sum(window) / len(window):.4f}",
                          flush=True)
    result = {"model": cfg.model, "device": device, "kernels": kernels.name, "data_dir": str(args.data_dir),
              "n_items": data.n_items, "batch_size": cfg.batch_size, "steps": len(losses),
              "first_loss": losses[0], "ln_n_items": math.log(data.n_items), "losses": losses,
              "train_samples_per_s": samples / max(seconds, 1e-9)}
    print(f"{cfg.model}: {len(losses)} steps on {device} ({kernels.name} kernels), first loss {losses[0]:.4f} "
          f"(ln n_items {math.log(data.n_items):.4f}), {result['train_samples_per_s']:,.0f} samples/s")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
