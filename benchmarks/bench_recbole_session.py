"""RecBole's session models (GRU4Rec, NARM, STAMP, SR-GNN), training samples/s for one epoch
on the first DIGINETICA sessions, for the comparison with ``bench_models.py`` in
docs/session_models.md. Runs in a separate environment with torch and RecBole, not the
toolkit's:

    python3 -m venv /tmp/rb && /tmp/rb/bin/pip install torch==2.13.0 recbole
    /tmp/rb/bin/python benchmarks/bench_recbole_session.py --sessions ../shared/data/diginetica/all_train_seq.txt \\
        [--max_sessions 40000] [--models GRU4Rec,NARM,STAMP,SRGNN] [--threads 2] [--max_steps N] [--json]

The first ``--max_sessions`` sessions of the published ``all_train_seq.txt`` become a RecBole
atomic file (``session_id``, ``item_id``, the position as timestamp); RecBole splits each
session leave-one-out (last item test, the one before it validation) and trains on every
prefix of the rest (its sequential data augmentation), the same prefix pairs as the paper's.
Configuration as the SR-GNN paper's (and ``configs/paper_diginetica.yaml``): embedding and
hidden size 100, batch 100, Adam 1e-3, full-softmax cross-entropy (``loss_type: CE``, no
negative sampling), histories cut to 50 items; NARM's dropouts 0.25 / 0.5, GRU4Rec one layer
with dropout 0.25 (RecBole's default 0.3 changes nothing of the cost), SR-GNN one step.
One epoch of ``Trainer._train_epoch`` is timed per model; with ``--max_steps N`` only its
first N batches (the first untimed, as in ``bench_models.py``) and the epoch is
extrapolated. Numpy 2 removed aliases RecBole 1.2 still uses; ``recbole_compat`` restores
them before RecBole is imported.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from recbole_compat import FirstBatches, write_atomic  # first: restores the numpy aliases RecBole needs

import torch  # noqa: E402
from recbole.config import Config  # noqa: E402
from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.trainer import Trainer  # noqa: E402
from recbole.utils import get_model, init_seed  # noqa: E402

MODEL_OPTIONS = {
    "GRU4Rec": {"hidden_size": 100, "num_layers": 1, "dropout_prob": 0.25},
    "NARM": {"hidden_size": 100, "n_layers": 1, "dropout_probs": [0.25, 0.5]},
    "STAMP": {},
    "SRGNN": {"step": 1},
}


def bench(model_name: str, data_path: Path, threads: int, max_steps: int) -> dict:
    config = Config(model=model_name, dataset="digi", config_dict={
        "data_path": str(data_path), "USER_ID_FIELD": "session_id", "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp", "load_col": {"inter": ["session_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": 50, "embedding_size": 100, **MODEL_OPTIONS[model_name],
        "loss_type": "CE", "train_neg_sample_args": None,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
        "train_batch_size": 100, "learning_rate": 0.001, "epochs": 1, "device": "cpu", "use_gpu": False,
        "show_progress": False, "seed": 2024, "reproducibility": True, "log_wandb": False, "state": "WARNING",
    })
    init_seed(config["seed"], config["reproducibility"])
    torch.set_num_threads(threads)
    dataset = create_dataset(config)
    train_data, _, _ = data_preparation(config, dataset)
    model = get_model(model_name)(config, train_data._dataset).to("cpu")
    trainer = Trainer(config, model)
    samples, steps = len(train_data._dataset), len(train_data)
    run = min(max_steps, steps) if max_steps else steps
    if run > 1:  # one untimed warm-up batch, as bench_models.py
        trainer._train_epoch(FirstBatches(train_data, 1), epoch_idx=0, show_progress=False)
    start = time.perf_counter()
    loss = trainer._train_epoch(FirstBatches(train_data, run), epoch_idx=0, show_progress=False)
    seconds = time.perf_counter() - start
    epoch = seconds * steps / run
    return {"model": model_name, "train_samples": samples, "n_items": dataset.item_num, "steps": steps,
            "steps_run": run, "epoch_seconds": epoch, "ms_per_step": 1000 * seconds / run,
            "train_samples_per_s": samples / epoch, "loss": float(loss) / run,
            "parameters": sum(p.numel() for p in model.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", required=True, type=Path, help="the published all_train_seq.txt (a pickle)")
    parser.add_argument("--max_sessions", type=int, default=40000, help="0 = every session")
    parser.add_argument("--models", default=",".join(MODEL_OPTIONS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max_steps", type=int, default=0, help="time this many batches and extrapolate (0 = epoch)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    canonical = {name.lower(): name for name in MODEL_OPTIONS}  # gru4rec as bench_models.py spells it
    names = [canonical.get(m.strip().lower(), m.strip()) for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODEL_OPTIONS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_OPTIONS)}")
    rows = []
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        interactions = write_atomic(args.sessions, args.max_sessions, Path(tmp))
        os.chdir(tmp)  # RecBole writes log_tensorboard/ and saved/ into the working directory
        try:
            for name in names:
                r = bench(name, Path(tmp), args.threads, args.max_steps)
                rows.append(r)
                print(f"RecBole {name:>8}: training {r['train_samples_per_s']:,.0f} samples/s "
                      f"({r['train_samples']:,} samples, {r['steps_run']} of {r['steps']} batches timed, "
                      f"{r['ms_per_step']:.1f} ms/step), {r['n_items']:,} items, {r['parameters']:,} parameters",
                      flush=True)
        finally:
            os.chdir(cwd)
    result = {"recbole_torch": torch.__version__, "threads": args.threads, "sessions": args.max_sessions,
              "interactions": interactions, "models": rows}
    which = f"first {args.max_sessions:,}" if args.max_sessions else "all"
    print(f"torch {torch.__version__}, {args.threads} thread(s); {which} sessions ({interactions:,} interactions)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
