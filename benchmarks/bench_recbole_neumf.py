"""RecBole's NeuMF, one training epoch, on the data of ``bench_ncf.py`` (for the comparison
in docs/ncf.md). Runs in a separate environment with torch and RecBole, not the toolkit's:

    python3 -m venv /tmp/rb && /tmp/rb/bin/pip install torch==2.13.0 recbole
    PYTHONPATH=. python benchmarks/bench_ncf.py --write_recbole /tmp/rbdata
    /tmp/rb/bin/python benchmarks/bench_recbole_neumf.py --data_path /tmp/rbdata [--threads 2] [--max_steps N] [--json]

RecBole's configuration matches the toolkit's NeuMF (the NCF paper's): GMF factors 8, MLP
embeddings 32 and hidden layers 32-16-8, no dropout, 4 uniform negatives per positive,
batch 256 (RecBole rounds it to 255 = 51 positives x 5), Adam 1e-3; its default 8:1:1 random
split. One epoch of ``Trainer._train_epoch`` is timed (the negatives are drawn by its
loader during the epoch); with ``--max_steps N`` only its first N batches, and the epoch is
extrapolated. Numpy 2 removed aliases RecBole 1.2 still uses (``np.float_``,
``np.complex_``, ``np.unicode_``); ``recbole_compat`` restores them before RecBole is imported.
"""
from __future__ import annotations

import argparse
import json
import time

from recbole_compat import FirstBatches  # first: restores the numpy aliases RecBole needs

import torch  # noqa: E402
from recbole.config import Config  # noqa: E402
from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.model.general_recommender import NeuMF  # noqa: E402
from recbole.trainer import Trainer  # noqa: E402
from recbole.utils import init_seed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_path", required=True, help="the folder holding ml1m-sized/ml1m-sized.inter")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--max_steps", type=int, default=0, help="time this many batches and extrapolate (0 = epoch)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = Config(model="NeuMF", dataset="ml1m-sized", config_dict={
        "data_path": args.data_path, "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp", "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "mf_embedding_size": 8, "mlp_embedding_size": 32, "mlp_hidden_size": [32, 16, 8], "dropout_prob": 0.0,
        "mf_train": True, "mlp_train": True, "use_pretrain": False,
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 4, "alpha": 1.0, "dynamic": False,
                                  "candidate_num": 0},
        "train_batch_size": args.batch_size, "learning_rate": 0.001, "epochs": 1, "device": "cpu",
        "use_gpu": False, "show_progress": False, "seed": 2024, "reproducibility": True, "log_wandb": False,
        "state": "WARNING",
    })
    init_seed(config["seed"], config["reproducibility"])
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    dataset = create_dataset(config)
    train_data, _, _ = data_preparation(config, dataset)
    print(f"data loaded and split in {time.perf_counter() - start:.1f} s", flush=True)
    model = NeuMF(config, train_data._dataset).to("cpu")
    trainer = Trainer(config, model)
    positives = len(train_data._dataset)
    steps = len(train_data)
    run = min(args.max_steps, steps) if args.max_steps else steps
    start = time.perf_counter()
    loss = trainer._train_epoch(FirstBatches(train_data, run), epoch_idx=0, show_progress=False)
    seconds = time.perf_counter() - start
    rows = positives * 5
    epoch = seconds * steps / run
    print(f"RecBole NeuMF, torch {torch.__version__}, {args.threads} thread(s): {positives:,} training positives x 5 "
          f"= {rows:,} rows, {steps} batches of {train_data.batch_size}: {epoch:.1f} s per epoch"
          f"{' (extrapolated from %d batches)' % run if run < steps else ''}, {1000 * seconds / run:.2f} ms/step, "
          f"{rows / epoch:,.0f} rows/s, loss {float(loss) / run:.4f}")
    if args.json:
        print(json.dumps({"positives": positives, "rows": rows, "batch_rows": train_data.batch_size, "steps": steps,
                          "steps_run": run, "seconds": epoch, "ms_per_step": 1000 * seconds / run,
                          "rows_per_s": rows / epoch, "threads": args.threads}))


if __name__ == "__main__":
    main()
