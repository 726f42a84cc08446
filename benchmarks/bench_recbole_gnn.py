"""RecBole-GNN's session models (SR-GNN's successors: NISER, GC-SAN, TAGNN, GCE-GNN, SGNN-HN,
LESSR; SASRec from RecBole itself), training samples/s on DIGINETICA at each toolkit model's
paper configuration, for the one-run comparison of ``bench_successors_vs_pytorch.sh``. Runs in
a separate environment with torch, RecBole and torch-geometric, never the toolkit's, and a
RecBole-GNN checkout (it is not on the package index):

    python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch==2.13.0 recbole torch-geometric "numpy<2"
    /work/venv-torch/bin/python benchmarks/bench_recbole_gnn.py --recbole_gnn DIR \\
        --sessions ../shared/data/diginetica/all_train_seq.txt [--models niser,gcsan,...] \\
        [--max_sessions 0] [--threads 2] [--max_steps N] [--json]

The published ``all_train_seq.txt`` becomes a RecBole atomic file (``session_id``,
``item_id``, the position as timestamp); RecBole splits each session leave-one-out and trains
on every prefix of the rest, the paper protocol's prefix pairs. Each model is built with the
settings of the toolkit's ``configs/paper_<model>.yaml`` (embedding size, batch size, learning
rate, layers, heads, scale, dropouts: :func:`recbole_options`), full-softmax cross-entropy
(``loss_type: CE``), histories cut to 50 items (RecBole's default; DIGINETICA's sessions are
shorter). One epoch of ``Trainer._train_epoch`` is timed per model; with ``--max_steps N``
only its first N batches (the first one untimed, as in ``bench_models.py``), extrapolated;
then the scoring of the first ``--eval_sessions`` test sessions against every item.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from recbole_compat import FirstBatches, write_atomic  # first: restores the numpy aliases RecBole needs

import torch  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

#: toolkit model -> RecBole(-GNN) model name
RECBOLE_NAMES = {"srgnn": "SRGNN", "niser": "NISER", "gcsan": "GCSAN", "tagnn": "TAGNN", "gcegnn": "GCEGNN",
                 "sgnnhn": "SGNNHN", "lessr": "LESSR", "sasrec": "SASRec"}


def toolkit_config(model: str) -> dict:
    """The toolkit's ``configs/paper_<model>.yaml`` (``configs/paper_diginetica.yaml`` for srgnn)."""
    path = REPO / "configs" / (f"paper_{model}.yaml" if model != "srgnn" else "paper_diginetica.yaml")
    return yaml.safe_load(path.read_text()) or {}


def recbole_options(model: str, cfg: dict) -> dict:
    """RecBole(-GNN)'s options for the toolkit config ``cfg`` of ``model``: the same sizes,
    batch, learning rate and L2; model-specific keys where both implementations have them."""
    d = int(cfg.get("embedding_dim", 100))
    options = {"embedding_size": d, "hidden_size": d, "train_batch_size": int(cfg.get("batch_size", 100)),
               "learning_rate": float(cfg.get("lr", 0.001)), "weight_decay": float(cfg.get("weight_decay", 0.0))}
    step = cfg.get("step")
    if step is not None:
        options["step"] = int(step)
    layers, heads = int(cfg.get("num_layers", 0) or 0), int(cfg.get("num_heads", 0) or 0)
    if model in ("gcsan", "sasrec"):
        options.update({"n_layers": layers or (1 if model == "gcsan" else 2), "n_heads": heads or 1,
                        "inner_size": d * 4 if model == "gcsan" else d})
        if "dropout" in cfg:
            options.update({"hidden_dropout_prob": float(cfg["dropout"]), "attn_dropout_prob": float(cfg["dropout"])})
    if model == "lessr" and layers:
        options["n_layers"] = layers
    if model == "gcegnn" and layers:
        options["hop"] = layers
    scale = float(cfg.get("scale", 0) or 0)
    if scale and model == "niser":
        options["sigma"] = scale
    if scale and model == "sgnnhn":
        options["scale"] = scale
    return options


def without_torch_sparse(folder: Path) -> None:
    """RecBole-GNN's package imports ``torch_sparse`` (compiled, no wheel for this torch) for
    its general (user-item graph) recommenders only; the session models never call it. When it
    is missing, an importable placeholder in ``folder`` (put first on ``sys.path``) lets the
    package load, and raises if anything ever calls it."""
    try:
        import torch_sparse  # noqa: F401
        return
    except ImportError:
        pass
    (folder / "torch_sparse").mkdir()
    (folder / "torch_sparse" / "__init__.py").write_text(
        "def _missing(*args, **kwargs):\n"
        "    raise ImportError('torch_sparse is not installed (only RecBole-GNN general models use it)')\n"
        "matmul = _missing\n"
        "class SparseTensor:\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        _missing()\n")
    sys.path.insert(0, str(folder))


def bench(model: str, data_path: Path, threads: int, max_steps: int, eval_sessions: int,
          eval_batch_size: int = 0) -> dict:
    """Time ``max_steps`` training batches (0 = the epoch) of RecBole(-GNN)'s ``model``, then
    its scoring of the first ``eval_sessions`` test sessions (0 = all) against every item
    (``full_sort_predict`` and the top 20, what its full-ranking evaluation runs per batch),
    ``eval_batch_size`` sessions a batch (0 = RecBole's default, 4096)."""
    from recbole.trainer import Trainer
    from recbole.utils import init_seed
    from recbole_gnn.config import Config
    from recbole_gnn.utils import create_dataset, data_preparation, get_model

    name = RECBOLE_NAMES[model]
    options = recbole_options(model, toolkit_config(model))
    config = Config(model=name, dataset="digi", config_dict={
        "data_path": str(data_path), "USER_ID_FIELD": "session_id", "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp", "load_col": {"inter": ["session_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": 50, **options, "loss_type": "CE", "train_neg_sample_args": None,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
        "epochs": 1, "device": "cpu", "use_gpu": False, "show_progress": False, "seed": 2024,
        "reproducibility": True, "log_wandb": False, "state": "WARNING", "save_dataset": False,
        **({"eval_batch_size": eval_batch_size} if eval_batch_size else {}),
    })
    init_seed(config["seed"], config["reproducibility"])
    torch.set_num_threads(threads)
    start = time.perf_counter()
    dataset = create_dataset(config)
    train_data, _, test_data = data_preparation(config, dataset)
    prepare_seconds = time.perf_counter() - start
    net = get_model(name)(config, train_data._dataset).to("cpu")
    trainer = Trainer(config, net)
    samples, steps = len(train_data._dataset), len(train_data)
    run = min(max_steps, steps) if max_steps else steps
    if run > 1:  # one untimed warm-up batch, as bench_models.py
        trainer._train_epoch(FirstBatches(train_data, 1), epoch_idx=0, show_progress=False)
    start = time.perf_counter()
    loss = trainer._train_epoch(FirstBatches(train_data, run), epoch_idx=0, show_progress=False)
    seconds = time.perf_counter() - start
    epoch = seconds * steps / run
    net.eval()
    scored, start = 0, time.perf_counter()
    with torch.no_grad():
        for batch in test_data:
            interaction = batch[0]
            torch.topk(net.full_sort_predict(interaction).view(len(interaction), -1), 20)
            scored += len(interaction)
            if eval_sessions and scored >= eval_sessions:
                break
    eval_seconds = time.perf_counter() - start
    return {"eval_sessions": scored, "eval_sessions_per_s": scored / eval_seconds, "eval_batch_size": config["eval_batch_size"],
            "model": model, "recbole_model": name, "options": options, "train_samples": samples,
            "n_items": dataset.item_num, "steps": steps, "steps_run": run, "epoch_seconds": epoch,
            "ms_per_step": 1000 * seconds / run, "train_samples_per_s": samples / epoch,
            "loss": float(loss) / run, "prepare_seconds": prepare_seconds,
            "parameters": sum(p.numel() for p in net.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recbole_gnn", required=True, type=Path, help="a RecBole-GNN checkout (its recbole_gnn/ inside)")
    parser.add_argument("--sessions", required=True, type=Path, help="the published all_train_seq.txt (a pickle)")
    parser.add_argument("--max_sessions", type=int, default=0, help="0 = every session")
    parser.add_argument("--models", default=",".join(RECBOLE_NAMES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max_steps", type=int, default=0, help="time this many batches and extrapolate (0 = epoch)")
    parser.add_argument("--eval_sessions", type=int, default=10240, help="test sessions to score (0 = all)")
    parser.add_argument("--eval_batch_size", type=int, default=0,
                        help="test sessions per scoring batch (0 = RecBole's default, 4096; RecBole-GNN's TAGNN "
                             "materialises [batch, items, length] scores and needs a small one)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    names = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in RECBOLE_NAMES]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(RECBOLE_NAMES)}")
    if not (args.recbole_gnn / "recbole_gnn").is_dir():
        parser.error(f"{args.recbole_gnn}: no recbole_gnn/ package inside; pass a RecBole-GNN checkout")
    sys.path.insert(0, str(args.recbole_gnn.resolve()))
    rows = []
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        without_torch_sparse(Path(tmp))
        interactions = write_atomic(args.sessions, args.max_sessions, Path(tmp))
        os.chdir(tmp)  # RecBole writes log_tensorboard/ and saved/ into the working directory
        try:
            for model in names:
                r = bench(model, Path(tmp), args.threads, args.max_steps, args.eval_sessions, args.eval_batch_size)
                rows.append(r)
                print(f"RecBole-GNN {r['recbole_model']:>7}: training {r['train_samples_per_s']:,.0f} samples/s "
                      f"({r['train_samples']:,} samples, {r['steps_run']} of {r['steps']} batches timed, "
                      f"{r['ms_per_step']:.1f} ms/step), evaluation {r['eval_sessions_per_s']:,.0f} sessions/s "
                      f"({r['eval_sessions']:,} test sessions, {r['eval_batch_size']} a batch), {r['n_items']:,} items, {r['parameters']:,} parameters; "
                      f"options {r['options']}", flush=True)
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
