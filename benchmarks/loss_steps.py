"""The training loss of each model over its first steps: a short sanity check on real data
that a model learns, without a whole epoch.

    PYTHONPATH=. python benchmarks/loss_steps.py --data_dir ../shared/data/diginetica
        --config configs/paper_tagnn.yaml [--models tagnn] [--steps 300] [--every 50] [--json]

Loads the data as ``srgnn-paddle train`` does (the config's protocol), builds each model
from the config (``model`` replaced) and runs ``--steps`` steps of the trainer's objective
and optimiser on shuffled training batches (the loader, loss, backward, optimiser, as in
``benchmarks/bench_models.py``), printing the mean loss of every ``--every`` steps and the
seconds they took. ``--json`` makes the last line one JSON object.
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
from srgnn_paddle.kernels import select_kernels
from srgnn_paddle.models import MODELS, build_model
from srgnn_paddle.runs import load_data
from srgnn_paddle.runtime import host_threads, seed_everything, select_device
from srgnn_paddle.training import Objective


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, type=Path)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--models", default="", help="comma-separated model names (default: the config's model)")
    parser.add_argument("--steps", type=int, default=300, help="training steps per model")
    parser.add_argument("--every", type=int, default=50, help="steps per reported mean loss")
    parser.add_argument("--cpu_threads", type=int, default=0, help="host threads (0 = every core, as in training)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu", "auto"))
    parser.add_argument("--kernels", default="auto", choices=("auto", "host", "paddle"))
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    cfg = load_config(args.config, {"device": args.device, "cpu_threads": host_threads(args.cpu_threads),
                                    "kernels": args.kernels})
    names = [m.strip() for m in (args.models or cfg.model).split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS or not MODELS[m].trainable]
    if unknown:
        parser.error(f"not trained model(s) {', '.join(unknown)}; trained ones: "
                     f"{', '.join(n for n, c in MODELS.items() if c.trainable)}")
    device = select_device(cfg.device)
    data = load_data(cfg, args.data_dir)
    cfg = cfg.replace(n_items=data.n_items)
    rows = []
    with select_kernels(cfg.kernels, device, cfg.cpu_threads) as kernels:
        for name in names:
            rows.append(loss_windows(cfg.replace(model=name), data.train, kernels, args.steps, args.every))
    result = {"device": device, "kernels": kernels.name, "cpu_threads": cfg.cpu_threads, "protocol": cfg.protocol,
              "data_dir": str(args.data_dir), "config": str(args.config), "n_items": data.n_items,
              "batch_size": cfg.batch_size, "embedding_dim": cfg.embedding_dim, "models": rows}
    if args.json:
        print(json.dumps(result))
    return result


def loss_windows(cfg, train, kernels, steps: int, every: int) -> Dict[str, Any]:
    """``steps`` training steps of one model; the mean loss and seconds of every ``every`` steps."""
    seed_everything(cfg.seed)
    windows = []
    with paddle.utils.unique_name.guard():
        model = build_model(cfg)
        with kernels.attach(model):
            optimizer = kernels.optimizer(model.parameters(), cfg.lr, cfg.weight_decay)
            objective = Objective(model, kernels)
            loader = make_loader(train, cfg.batch_size, shuffle=True, seed=cfg.seed, layout=model.batch_layout)
            loader.set_epoch(1)
            model.train()
            losses, start = [], time.perf_counter()
            for step, batch in zip(range(min(steps, len(loader))), loader):
                loss = objective(batch, 1, step)
                loss.backward()
                optimizer.step()
                kernels.clear_gradients(optimizer)
                losses.append(float(loss))
                if len(losses) == every:
                    seconds = time.perf_counter() - start
                    windows.append({"steps": f"{step + 2 - every}-{step + 1}", "mean_loss": sum(losses) / every,
                                    "seconds": seconds})
                    print(f"{cfg.model:>10}: steps {windows[-1]['steps']:>9}  mean loss {windows[-1]['mean_loss']:.4f}"
                          f"  ({seconds:.1f} s)", flush=True)
                    losses, start = [], time.perf_counter()
    return {"model": cfg.model, "parameters": model.n_parameters(), "windows": windows}


if __name__ == "__main__":
    main()
