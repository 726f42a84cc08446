"""Run orchestration: the run lifecycle (validate, create the run folder, train, evaluate,
refit, figures, summary) and the commands on saved runs (evaluate, t-SNE, predict).

Everything the user gives is validated before the run folder is created, so a bad input
leaves nothing behind. What differs between protocols (data loading, evaluator, metrics,
popularity baseline) is the protocol object's (:mod:`srgnn_paddle.protocols`); this module
wires the stages together: :mod:`srgnn_paddle.data`, :mod:`srgnn_paddle.models`,
:mod:`srgnn_paddle.training` and :mod:`srgnn_paddle.evaluation`, with the kernels of
:mod:`srgnn_paddle.kernels`. Process-wide settings (the thread caps of host kernels) hold
only while a run does. A write that fails (full disk, read-only folder) ends the command
with one error naming the file; the last complete checkpoint stays loadable, and
``train --resume`` continues from it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import pandas as pd
import paddle
from matplotlib.figure import Figure
from tqdm import tqdm

from srgnn_paddle.config import Config, load_config, save_config
from srgnn_paddle.data import SessionDataset, make_loader
from srgnn_paddle.data.interactions import ITEM_MAP_FILE, read_item_map
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.evaluation import make_evaluator, top_items
from srgnn_paddle.fileio import atomic_write_text, read_json_object, sha256_of, write_error
from srgnn_paddle.kernels import select_kernels
from srgnn_paddle.models import NeuMF, Recommender, build_model, model_class
from srgnn_paddle.plots import CURVES_FILE, POPULARITY_LABEL, TSNE_FILE, curves_figure, item_labels, save_png, tsne_plot
from srgnn_paddle.prepare.readers import LABEL_COLUMN, read_sessions_csv
from srgnn_paddle.protocols import MEMORY_SHARE, PreparedData, check_table_memory, get_protocol
from srgnn_paddle.runtime import gpu_available, host_threads, seed_everything, select_device
from srgnn_paddle.training import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    LOG_FILE,
    MODEL_FILE,
    REFIT_DIR,
    RESULT_FILES,
    SUMMARY_FILE,
    Trainer,
    TrainerOptions,
    load_state,
    plain,
)
from srgnn_paddle.training.visualdl import VisualDLWriter, log_writer_class

__all__ = ["MEMORY_SHARE", "PreparedData", "check_table_memory", "load_data", "check_model_protocol", "run_name",
           "run_dir_for", "train_run", "refit_run", "train_refit", "popularity_baseline", "finalize_run", "load_run",
           "evaluate_run", "tsne_run", "model_tsne_plot", "draw_tsne", "predict_run", "distributed_context"]

# ---------------------------------------------------------------------------- data
def load_data(cfg: Config, data_dir: Path) -> PreparedData:
    """The data of ``cfg.protocol`` (:meth:`srgnn_paddle.protocols.Protocol.load_data`, which
    refuses an item table over the memory budget), after checking that the protocol trains
    the model."""
    if not data_dir.is_dir():
        raise SrgnnError(f"{data_dir}: data folder not found; pass an existing folder to --data_dir")
    check_model_protocol(cfg)
    return get_protocol(cfg.protocol).load_data(cfg, data_dir)


def check_model_protocol(cfg: Config) -> None:
    """The protocol trains the model's batch layout (the (user, item) models, layout
    ``pairs``, go with the loo protocol and the sequence models with the others); the
    sampled softmax needs a model trained on next items; pretraining starts a NeuMF."""
    model = model_class(cfg.model)  # an unknown name: SrgnnError listing the models
    get_protocol(cfg.protocol).check_model(cfg, model.batch_layout)
    if model.batch_layout == "pairs" and cfg.loss != "softmax":
        raise SrgnnError(f"model {cfg.model} trains with the log loss on sampled pairs; drop --loss {cfg.loss}")
    if cfg.pretrain_gmf and cfg.model != NeuMF.name:
        raise SrgnnError(f"--pretrain_gmf / --pretrain_mlp start a NeuMF; model {cfg.model} takes no pretraining")


# ---------------------------------------------------------------------------- runs
def run_name(cfg: Config) -> str:
    """The run folder's name, the model's :meth:`~srgnn_paddle.models.Recommender.run_name`:
    ``<MODEL>_<lr>_<batch_size>_<embedding_dim>`` (``SRGNN_0.0001_256_16`` for the
    notebook's run); the count baselines name theirs by their own options."""
    return model_class(cfg.model).run_name(cfg)


def run_dir_for(cfg: Config, exp_dir: Path, suffix: str = "") -> Path:
    """``<exp_dir>/<dataset>_<protocol suffix>/<run name><suffix>``
    (``exp/ml-20m_softmax/SRGNN_0.0001_256_16``; ``suffix``: e.g. ``_seed3`` for one run of
    ``train --seeds``)."""
    return Path(exp_dir) / cfg.dataset_folder() / (run_name(cfg) + suffix)


#: Options that may differ between the saved config and a ``--resume`` command (``refit``:
#: ``--resume --refit`` adds the refit to a finished run).
RESUMABLE_CHANGES = ("epochs", "device", "kernels", "num_workers", "cpu_threads", "tsne", "tsne_max_items",
                     "visualdl", "refit")



def train_run(cfg: Config, data_dir: Path, exp_dir: Path, resume: bool = False, overwrite: bool = False,
              progress: bool = True, log: Callable[[str], None] = tqdm.write,
              name_suffix: str = "") -> Tuple[Path, Dict[str, Any]]:
    """Validate the data, prepare the run folder and train; then score the popularity
    baseline on the same test users and draw the figures; with ``cfg.refit``, train again on
    training + validation for the selected number of epochs and score the test split once
    more (:func:`refit_run`). Returns (run folder, summary). ``name_suffix`` is appended to
    the run folder's name (``train --seeds``).

    Started by ``python -m paddle.distributed.launch`` with several processes
    (``scripts/train_multi_gpu.sh``), each process is one data-parallel rank: rank 0
    prepares the run folder, evaluates and writes; every rank trains on its share of the
    batches (see :class:`~srgnn_paddle.training.Trainer`). Other ranks return an empty summary.
    """
    data_dir, exp_dir = Path(data_dir), Path(exp_dir)
    if resume and overwrite:
        raise SrgnnError("--resume and --overwrite exclude each other; choose one")
    rank, world_size = distributed_context()
    if world_size > 1 and not model_class(cfg.model).trainable:
        raise SrgnnError(f"model {cfg.model} is counted, not trained: run it in one process")
    if world_size > 1 and cfg.refit:
        raise SrgnnError("--refit runs in one process; train data-parallel without it, then add the refit with "
                         "'train --resume --refit' in one process")
    if world_size > 1:
        device = select_parallel_device(cfg.device)
        paddle.distributed.init_parallel_env()
        if rank != 0:
            progress, log = False, _silent
    else:
        device = select_device(cfg.device)
    if cfg.visualdl:
        log_writer_class()  # a missing VisualDL is reported before anything is written
    kernels = select_kernels(cfg.kernels, device, host_threads(cfg.cpu_threads), notice=log)
    data = load_data(cfg, data_dir)
    cfg = cfg.replace(n_items=data.n_items, n_users=data.n_users)
    pretrained = pretrained_parts(cfg) if cfg.pretrain_gmf and not resume else None
    run_dir = run_dir_for(cfg, exp_dir, name_suffix)
    if rank == 0:
        _prepare_run_dir(cfg, run_dir, resume, overwrite)
    if world_size > 1:
        paddle.distributed.barrier()
    seed_everything(cfg.seed)
    # Adam's checkpointed state is keyed by generated parameter names (embedding_0.w_0_moment1_0);
    # a fresh name scope gives every run the same names, so --resume works in any process.
    with kernels, paddle.utils.unique_name.guard():
        model = build_model(cfg, sparse_item_grad=world_size == 1)
        visualdl = VisualDLWriter(run_dir) if cfg.visualdl and rank == 0 else None
        if pretrained is not None:
            model.load_pretrained(*pretrained, alpha=cfg.pretrain_alpha)
            log(f"NeuMF starts from GMF {cfg.pretrain_gmf} and MLP {cfg.pretrain_mlp} (alpha {cfg.pretrain_alpha})")
        trainer = Trainer(cfg, model, data.train, make_evaluator(cfg, data.valid, model, kernels, progress),
                          run_dir, lambda: make_evaluator(cfg, data.test, model, kernels, progress), kernels,
                          TrainerOptions(item_counts=data.item_counts, progress=progress, log=log, rank=rank,
                                         world_size=world_size, epoch_hooks=[visualdl] if visualdl else []))
        if resume:
            trainer.load_checkpoint()
            log(f"resuming {run_dir} after epoch {trainer.state.epoch}")
        ranks = f" x {world_size} data-parallel ranks" if world_size > 1 else ""
        log(f"training {cfg.model} on {device}{ranks} ({kernels.name} kernels): {len(data.train)} training samples, "
            f"{len(data.valid)} validation, {data.n_items} items -> {run_dir}")
        try:
            summary = fit_and_record(trainer)
        except BaseException:  # NaN loss, a full disk, Ctrl-C, ...: no folder with nothing to resume
            if visualdl is not None:
                visualdl.close()
            if rank == 0 and not resume and not (run_dir / CHECKPOINT_FILE).exists():
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        if visualdl is not None:
            visualdl.close()
        if rank == 0:
            summary = finalize_run(cfg, data, data_dir, run_dir, summary, model, log)
        if cfg.refit and "test_refit" not in summary:
            summary = refit_run(cfg, data, trainer, kernels, int(summary["best_epoch"]), progress, log)
    return run_dir, summary


def refit_run(cfg: Config, data: PreparedData, trainer: Trainer, kernels, epochs: int, progress: bool = True,
              log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train a fresh model (same seed) on training + validation (``data.train_all``) for
    ``epochs`` epochs, the number validation selected, without validation; score the test
    split once with it and record the scores in ``trainer``'s finished run (``test_refit``
    row and summary keys, :meth:`~srgnn_paddle.training.Trainer.record_refit`, and the refit's
    ``refit_seconds_per_epoch`` and ``refit_test_sessions_per_second``). A counted
    model (``trainable = False``) is counted again on training + validation.

    The refit is a run of its own in ``<run>/refit/`` (weights, checkpoint, one log row per
    epoch), so an interrupted refit continues with ``train --resume``.
    """
    refit_summary = train_refit(cfg, data, kernels, epochs, trainer.run_dir / REFIT_DIR, progress, log)
    trainer.record_refit(refit_summary["test"], epochs, refit_summary["train_seconds"])
    summary = {**read_summary(trainer.run_dir), "test_refit": refit_summary["test"], "refit_epochs": epochs,
               "refit_train_seconds": round(refit_summary["train_seconds"], 2),
               "refit_seconds_per_epoch": refit_summary.get("seconds_per_epoch"),
               "refit_test_sessions_per_second": refit_summary.get("test_sessions_per_second")}
    write_summary(trainer.run_dir, summary)
    return summary


def train_refit(cfg: Config, data: PreparedData, kernels, epochs: int, refit_dir: Path, progress: bool = True,
                log: Callable[[str], None] = print) -> Dict[str, Any]:
    """The refit alone (:func:`refit_run` without recording it in a selection run): a fresh
    model seeded with ``cfg.seed``, trained ``epochs`` epochs on ``data.train_all`` in
    ``refit_dir`` (continued from its checkpoint when one of the same settings is there),
    the test split scored once. Returns the refit run's summary (``test``, ``train_seconds``)."""
    refit_cfg = cfg.replace(epochs=max(epochs, 1), refit=False, select_on="valid")  # the test set once
    seed_everything(cfg.seed)
    with paddle.utils.unique_name.guard():  # the names the checkpoint's Adam state is keyed by
        model = build_model(refit_cfg)
        refit = Trainer(refit_cfg, model, data.train_all, None, refit_dir,
                        lambda: make_evaluator(cfg, data.test, model, kernels, progress),
                        kernels, TrainerOptions(item_counts=data.item_counts, progress=progress, log=log))
        checkpoint = refit_dir / CHECKPOINT_FILE
        if checkpoint.is_file() and load_state(checkpoint, "delete the refit folder").get("config") == refit_cfg.to_dict():
            refit.load_checkpoint()
            log(f"resuming the refit in {refit_dir} after epoch {refit.state.epoch}")
        else:  # nothing to continue, or a refit of other settings
            shutil.rmtree(refit_dir, ignore_errors=True)
            make_folder(refit_dir)
        what = "counting" if not model.trainable else f"{refit_cfg.epochs} epoch(s)"
        log(f"refit: {cfg.model} on {len(data.train_all)} training + validation samples, {what} -> {refit_dir}")
        return fit_and_record(refit)


def fit_and_record(trainer: Trainer) -> Dict[str, Any]:
    """:meth:`Trainer.fit <srgnn_paddle.training.Trainer.fit>`, then the run's
    ``summary.json``: written when the test split was scored now (or the file is missing),
    else read back (a finished run resumed keeps what was added to it: the popularity
    baseline, the refit). Data-parallel ranks other than 0 get an empty summary."""
    summary = trainer.fit()
    if not summary:
        return summary
    if not trainer.tested and (trainer.run_dir / SUMMARY_FILE).is_file():
        saved = read_summary(trainer.run_dir)
        if saved.get("test") is not None:
            return saved
    write_summary(trainer.run_dir, summary)
    return summary


def read_summary(run_dir: Path) -> Dict[str, Any]:
    """A run folder's ``summary.json`` (empty when it has none); SrgnnError when it is not JSON."""
    return read_json_object(Path(run_dir) / SUMMARY_FILE, "re-run training with --resume")


def write_summary(run_dir: Path, summary: Dict[str, Any]) -> None:
    """Write ``summary.json`` (JSON-friendly: NaN as null) atomically."""
    atomic_write_text(Path(run_dir) / SUMMARY_FILE, json.dumps(plain(summary), indent=2))


def make_folder(path: Path) -> None:
    """``mkdir -p``; a read-only or full file system ends in one error naming the folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None


def pretrained_parts(cfg: Config) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The best weights of the GMF run ``cfg.pretrain_gmf`` and the MLP run
    ``cfg.pretrain_mlp``, checked against ``cfg`` (model, data sizes, factors, tower)."""
    states = []
    for folder, model, same in ((cfg.pretrain_gmf, "gmf", ("embedding_dim",)),
                                (cfg.pretrain_mlp, "mlp", ("mlp_layers",))):
        other, _ = load_run(Path(folder))
        if other.model != model:
            raise SrgnnError(f"{folder}: a {other.model} run, but --pretrain_{model} needs a {model} run")
        for key in ("n_users", "n_items") + same:
            if getattr(other, key) != getattr(cfg, key):
                raise SrgnnError(f"{Path(folder) / CONFIG_FILE}: {key} {getattr(other, key)!r}, but this NeuMF has "
                                 f"{getattr(cfg, key)!r}; pretrain on the same data with the same sizes")
        states.append(load_state(Path(folder) / MODEL_FILE, "train the run again"))
    return states[0], states[1]


def distributed_context() -> Tuple[int, int]:
    """``(rank, world_size)`` set by ``paddle.distributed.launch`` (``PADDLE_TRAINER_ID``,
    ``PADDLE_TRAINERS_NUM``); ``(0, 1)`` in a plain process."""
    world_size = int(os.environ.get("PADDLE_TRAINERS_NUM", "1") or 1)
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0") or 0)
    return rank, world_size


def select_parallel_device(name: str) -> str:
    """A data-parallel rank's device: the GPU the launcher gave it (``ParallelEnv().device_id``)
    or the CPU (collective over gloo)."""
    if name == "cpu" or (name == "auto" and not gpu_available()):
        return select_device("cpu")
    if not gpu_available():
        raise SrgnnError("--device gpu: Paddle has no usable GPU here; use --device cpu")
    device = f"gpu:{paddle.distributed.ParallelEnv().device_id}"
    paddle.set_device(device)
    return device


def _silent(message: str) -> None:
    """The log function of data-parallel ranks other than 0."""


def _prepare_run_dir(cfg: Config, run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Check the run folder against ``--resume``/``--overwrite``, create it, save the config."""
    has_results = any((run_dir / f).exists() for f in RESULT_FILES)
    if has_results and not (resume or overwrite):
        raise SrgnnError(f"{run_dir} already holds a run; add --resume to continue it or --overwrite to replace it")
    if resume and not (run_dir / CHECKPOINT_FILE).is_file():
        raise SrgnnError(f"{run_dir}: no checkpoint to resume; run without --resume")
    if resume:
        saved = load_config(run_dir / CONFIG_FILE)
        if saved.replace(**{k: getattr(cfg, k) for k in RESUMABLE_CHANGES}) != cfg:
            raise SrgnnError(f"{run_dir / CONFIG_FILE}: the saved config differs from this command's; "
                             f"resume with the same options (only {', '.join('--' + k for k in RESUMABLE_CHANGES)} "
                             f"may change)")
    if overwrite and run_dir.exists():
        try:
            shutil.rmtree(run_dir)
        except OSError as exc:
            raise SrgnnError(f"{run_dir}: cannot be removed for --overwrite ({exc.strerror}); "
                             f"check the folder's permissions") from None
    make_folder(run_dir)
    save_config(cfg, run_dir / CONFIG_FILE)


def popularity_baseline(cfg: Config, data: PreparedData) -> Dict[str, float]:
    """The most popular training items given to every test user (or test prefix), scored
    with the protocol's own metrics on the same test split
    (:meth:`srgnn_paddle.protocols.Protocol.popularity`)."""
    return get_protocol(cfg.protocol).popularity(cfg, data)


def finalize_run(cfg: Config, data: PreparedData, data_dir: Path, run_dir: Path, summary: Dict[str, Any],
                 model: Recommender, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Add the popularity baseline, the data folder and the SHA-256 of the test files
    (``test_files``: name -> hex digest, :meth:`~srgnn_paddle.protocols.Protocol.test_files`)
    to ``summary.json``; draw ``curves.png`` (trained models) and, unless ``cfg.tsne`` is
    off, ``tsne.png`` from the best weights (models with item vectors)."""
    if "popularity_test" not in summary:
        baseline = {key: float(value) for key, value in popularity_baseline(cfg, data).items()}
        files = {path.name: sha256_of(path) for path in get_protocol(cfg.protocol).test_files(data_dir)
                 if path.is_file()}
        summary = {**summary, "data_dir": str(data_dir.resolve()), "popularity_test": baseline,
                   **({"test_files": files} if files else {})}
        write_summary(run_dir, summary)
    if model.trainable:  # a counted model has no epochs to draw
        curves_figure(run_dir / LOG_FILE, run_dir / CURVES_FILE)
    if cfg.tsne and model.trainable:  # item vectors to map (a counted model has none)
        model.set_state_dict(load_state(run_dir / MODEL_FILE, "train the run again"))
        start = time.time()
        draw_tsne(cfg, model, data_dir, data.item_counts, run_dir / TSNE_FILE, cfg.tsne_max_items)
        log(f"t-SNE of the item embeddings: {run_dir / TSNE_FILE} ({time.time() - start:.1f}s)")
    return summary


def load_run(run_dir: Path) -> Tuple[Config, Dict[str, Any]]:
    """A saved run's config and summary (empty when the run is unfinished); SrgnnError when
    the folder holds no finished run's weights."""
    run_dir = Path(run_dir)
    for f in (CONFIG_FILE, MODEL_FILE):
        if not (run_dir / f).is_file():
            raise SrgnnError(f"{run_dir / f}: not found; pass the folder of a finished run to --run_dir")
    cfg = load_config(run_dir / CONFIG_FILE)
    return cfg, read_summary(run_dir)


def run_data_dir(run_dir: Path, summary: Dict[str, Any], data_dir: Optional[Path]) -> Path:
    """``data_dir`` when given, else the data folder recorded in the run's ``summary.json``."""
    if data_dir is not None:
        return Path(data_dir)
    if not summary.get("data_dir"):
        raise SrgnnError(f"{run_dir}: no data folder recorded in {SUMMARY_FILE}; pass --data_dir")
    return Path(summary["data_dir"])


def load_model(cfg: Config, run_dir: Path) -> Recommender:
    """The run's model with its best weights (``model.pdparams``)."""
    model = build_model(cfg)
    model.set_state_dict(load_state(Path(run_dir) / MODEL_FILE, "train the run again"))
    return model


def evaluate_run(run_dir: Path, data_dir: Optional[Path] = None, split: str = "test",
                 progress: bool = True) -> Dict[str, float]:
    """Score a saved run's best weights on one split of ``data_dir`` (default: the run's data)."""
    run_dir = Path(run_dir)
    cfg, summary = load_run(run_dir)
    data_dir = run_data_dir(run_dir, summary, data_dir)
    device = select_device(cfg.device)
    data = load_data(cfg, data_dir)
    if data.n_items != cfg.n_items or data.n_users != cfg.n_users:
        raise SrgnnError(f"{data_dir}: has {data.n_items} items and {data.n_users} users, but the run was trained "
                         f"with {cfg.n_items} and {cfg.n_users}")
    model = load_model(cfg, run_dir)
    dataset = data.test if split == "test" else data.valid
    with select_kernels(cfg.kernels, device, host_threads(cfg.cpu_threads)) as kernels, kernels.attach(model):
        return make_evaluator(cfg, dataset, model, kernels, progress)(model, desc=split)


def tsne_run(run_dir: Path, data_dir: Optional[Path] = None, out: Optional[Path] = None,
             max_items: Optional[int] = None) -> Path:
    """Draw the t-SNE map of a saved run's item embeddings (coloured by category when the
    data folder has ``items.csv``, else by training-popularity decile); returns the PNG."""
    run_dir = Path(run_dir)
    cfg, summary = load_run(run_dir)
    if not model_class(cfg.model).inner_product:
        raise SrgnnError(f"{run_dir}: model {cfg.model} has no item vectors to map; t-SNE applies to embedding models")
    if data_dir is None and summary.get("data_dir") and Path(summary["data_dir"]).is_dir():
        data_dir = Path(summary["data_dir"])
    counts = None
    if data_dir is not None:
        data = load_data(cfg, Path(data_dir))
        counts = data.item_counts
    out = Path(out) if out is not None else run_dir / TSNE_FILE
    return draw_tsne(cfg, load_model(cfg, run_dir), data_dir, counts, out,
                     cfg.tsne_max_items if max_items is None else max_items)


def model_tsne_plot(cfg: Config, model: Recommender, data_dir: Optional[Path] = None,
                    counts: Optional[np.ndarray] = None, max_items: Optional[int] = None) -> Figure:
    """The t-SNE map of ``model.item_embeddings()`` as a Figure, coloured by category
    (``<data_dir>/items.csv``) or training-popularity decile (``counts [n_items]``), titled
    with the model and the dataset; ``max_items`` defaults to ``cfg.tsne_max_items``."""
    labels, name = item_labels(data_dir, counts, cfg.n_items)
    title = f"{model_class(cfg.model).display_name} item embeddings, {cfg.dataset}"
    return tsne_plot(model.item_embeddings().numpy(), labels, name,
                     max_items=cfg.tsne_max_items if max_items is None else max_items, seed=cfg.seed,
                     title=title, ordinal=name == POPULARITY_LABEL)


def draw_tsne(cfg: Config, model: Recommender, data_dir: Optional[Path], counts: Optional[np.ndarray], out: Path,
              max_items: int) -> Path:
    """:func:`model_tsne_plot` written as a PNG to ``out``; returns the path."""
    return save_png(model_tsne_plot(cfg, model, data_dir, counts, max_items), out)


# ---------------------------------------------------------------------------- predict
PREDICTION_COLUMN = "prediction"


def predict_run(run_dir: Path, input_path: Path, out: Path, topk: int = 20, data_dir: Optional[Path] = None,
                use_refit: bool = False, progress: bool = True, log: Callable[[str], None] = print) -> Dict[str, int]:
    """Write the ``topk`` best next items of every session of a sessions CSV (``session``
    column; a ``label`` column is not needed and not copied) to ``out``, with the original
    item ids.

    Session ids are encoded through the data folder's ``item_map.csv`` (ids are used as they
    are when the folder has none); ids unknown to it are dropped from the session (the paper's
    preprocessing drops test clicks on unseen items too), and a session with no known item
    gets the most popular training items. ``out`` holds the input's columns but ``label``,
    then ``prediction``, the items as ``[id, id, ...]``, best first. ``use_refit`` scores with
    the refit model (``train --refit``) instead of the selected one.

    Returns ``{'sessions', 'unknown_items', 'empty_sessions'}``.
    """
    run_dir = Path(run_dir)
    cfg, summary = load_run(run_dir)
    weights = run_dir / REFIT_DIR if use_refit else run_dir
    if use_refit and not (weights / MODEL_FILE).is_file():
        raise SrgnnError(f"{weights / MODEL_FILE}: not found; the run has no refit model (train it with --refit)")
    if not 1 <= topk < cfg.n_items:
        raise SrgnnError(f"--topk must be between 1 and {cfg.n_items - 1} (the run's items), got {topk}")
    data_dir = run_data_dir(run_dir, summary, data_dir)
    rows = read_sessions_csv(input_path, need_label=False)
    lengths = np.fromiter((len(x) for x in rows.sessions), dtype=np.int64, count=len(rows.sessions))
    flat = np.fromiter((i for x in rows.sessions for i in x), dtype=np.int64, count=int(lengths.sum()))
    originals, codes = _encode_items(data_dir, cfg.n_items, flat)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    known = codes > 0
    known_lengths = np.bincount(owner[known], minlength=len(lengths))
    filled = np.flatnonzero(known_lengths > 0)
    top = np.zeros((len(lengths), topk), dtype=np.int64)
    if len(filled):
        sequences = np.split(codes[known], np.cumsum(known_lengths)[:-1])
        sequences = [sequences[r].tolist() for r in filled]
        dataset = SessionDataset(sequences, [seq[-1] for seq in sequences], cfg.n_items,
                                 max_length=get_protocol(cfg.protocol).predict_max_length(cfg),
                                 source=str(input_path))
        device = select_device(cfg.device)
        model = load_model(cfg, weights)
        model.eval()
        loader = make_loader(dataset, cfg.eval_batch_size, layout=model.batch_layout)
        parts = []
        with select_kernels(cfg.kernels, device, host_threads(cfg.cpu_threads)) as kernels, \
                kernels.attach(model), paddle.no_grad():
            for batch in tqdm(loader, desc="predict", leave=False, disable=not progress):
                parts.append(top_items(model.full_scores(batch).numpy(), topk))
        top[filled] = np.concatenate(parts)
    empty = np.flatnonzero(known_lengths == 0)
    if len(empty):  # nothing known to score from: the training popularity ranking
        counts = load_data(cfg, data_dir).item_counts.astype(np.float64)
        top[empty] = top_items(counts[None, :], topk)[0]
    header = [c for c in rows.header if c != LABEL_COLUMN]
    keep = [i for i, c in enumerate(rows.header) if c != LABEL_COLUMN]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header + [PREDICTION_COLUMN])
    for fields, items in zip(rows.fields, originals[top].tolist()):
        writer.writerow([fields[i] for i in keep] + ["[" + ", ".join(map(str, items)) + "]"])
    atomic_write_text(out, buffer.getvalue())
    n_unknown = int((~known).sum())
    if n_unknown or len(empty):
        log(f"note: {n_unknown} item id(s) of {input_path} are unknown to {data_dir} and were dropped; "
            f"{len(empty)} session(s) had no known item and got the most popular training items")
    return {"sessions": len(lengths), "unknown_items": n_unknown, "empty_sessions": int(len(empty))}


def _encode_items(data_dir: Path, n_items: int, ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Through ``item_map.csv`` (or as they are when the folder has none): ``(originals
    [n_items], codes [len(ids)])``, the original id of every encoded id (entry 0, the
    padding, unused) and the encoded id of every original id in ``ids`` (0: unknown)."""
    frame = read_item_map(data_dir)
    if frame is None:
        return np.arange(n_items, dtype=np.int64), np.where((ids >= 1) & (ids < n_items), ids, 0)
    path = data_dir / ITEM_MAP_FILE
    encoded = frame["item_id"].to_numpy()
    bad = np.flatnonzero((encoded < 1) | (encoded >= n_items))
    if bad.size:
        raise SrgnnError(f"{path}: line {int(bad[0]) + 2}: item_id {int(encoded[bad[0]])} is outside "
                         f"1..{n_items - 1}, the run's items; pass the data folder the run was trained on")
    index = pd.Index(frame["original_item_id"])
    if not index.is_unique:
        raise SrgnnError(f"{path}: an original_item_id appears twice; prepare the folder again")
    originals = np.zeros(n_items, dtype=frame["original_item_id"].dtype)
    originals[encoded] = frame["original_item_id"].to_numpy()
    position = index.get_indexer(ids)
    return originals, np.where(position >= 0, encoded[np.maximum(position, 0)], 0)
