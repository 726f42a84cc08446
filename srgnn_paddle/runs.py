"""Run orchestration: load and validate a dataset, create the run folder, train, evaluate.

Everything the user gives is validated before the run folder is created, so a bad input
leaves nothing behind. This module wires the stages together; the math lives in
:mod:`model`, the loop in :mod:`training`.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import paddle

from srgnn_paddle.config import Config, load_config, save_config
from srgnn_paddle.data import (
    SPLIT_FILES,
    SequenceDataset,
    SessionDataset,
    SubsetDataset,
    infer_n_items,
    read_interactions,
    split_validation,
)
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.model import SRGNN
from srgnn_paddle.sessions import load_session_pickles
from srgnn_paddle.runtime import gpu_available, seed_everything, select_device
from srgnn_paddle.training import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    MODEL_FILE,
    RESULT_FILES,
    NextItemEvaluator,
    RecallEvaluator,
    Trainer,
)


# ---------------------------------------------------------------------------- datasets
@dataclass
class PreparedData:
    """Validated datasets of one run. ``test`` is built lazily, once, by :meth:`test_dataset`."""

    train: Any
    valid: Any
    n_items: int
    item_counts: np.ndarray
    _test_factory: Callable[[], Any]

    def test_dataset(self):
        return self._test_factory()


def load_notebook_data(cfg: Config, data_dir: Path) -> PreparedData:
    """Read ``train_enc.csv``, ``valid_enc.csv``, ``test_enc.csv`` (all validated now; the
    test users are only turned into a dataset when the test split is scored)."""
    frames = {name: read_interactions(data_dir / fname) for name, fname in SPLIT_FILES.items()}
    n_items = cfg.n_items or infer_n_items(data_dir, list(frames.values()))
    for name, frame in frames.items():
        too_big = np.flatnonzero(frame["item_id"].to_numpy() >= n_items)
        if too_big.size:
            raise SrgnnError(
                f"{data_dir / SPLIT_FILES[name]}: line {int(too_big[0]) + 2}, column 'item_id': id "
                f"{int(frame['item_id'].iloc[too_big[0]])} >= n_items {n_items}; raise n_items or re-encode"
            )
    opts = {"max_length": cfg.max_length, "n_items": n_items, "seed": cfg.seed}
    train = SequenceDataset(opts, frames["train"], "train", source=str(data_dir / SPLIT_FILES["train"]))
    valid = SequenceDataset(opts, frames["valid"], "test", source=str(data_dir / SPLIT_FILES["valid"]))
    test_frame = frames["test"]
    counts = np.bincount(frames["train"]["item_id"].to_numpy(), minlength=n_items)
    return PreparedData(
        train, valid, n_items, counts,
        lambda: SequenceDataset(opts, test_frame, "test", source=str(data_dir / SPLIT_FILES["test"])),
    )


def load_paper_data(cfg: Config, data_dir: Path) -> PreparedData:
    """The paper's layout (``train.txt`` or ``all_train_seq.txt``, and ``test.txt``, see
    :mod:`srgnn_paddle.sessions`); ``valid_portion`` of the training pairs is held out by a
    seeded split."""
    pickles = load_session_pickles(data_dir)
    n_items = cfg.n_items or pickles.n_items
    seqs, labels = pickles.train
    full = SessionDataset(seqs, labels, n_items, max_length=0, source=str(data_dir / "train"))
    test = SessionDataset(*pickles.test, n_items, source=str(data_dir / "test.txt"))  # validated now
    train_idx, valid_idx = split_validation(len(full), cfg.valid_portion, cfg.seed)
    if len(valid_idx) == 0:
        raise SrgnnError(f"{data_dir}: valid_portion {cfg.valid_portion} leaves no validation pairs")
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_items)
    return PreparedData(SubsetDataset(full, train_idx), SubsetDataset(full, valid_idx), n_items, counts,
                        lambda: test)


def load_data(cfg: Config, data_dir: Path) -> PreparedData:
    """Dispatch on ``cfg.protocol``."""
    if not data_dir.is_dir():
        raise SrgnnError(f"{data_dir}: data folder not found; pass an existing folder to --data_dir")
    return load_paper_data(cfg, data_dir) if cfg.protocol == "paper" else load_notebook_data(cfg, data_dir)


# ---------------------------------------------------------------------------- runs
def run_dir_for(cfg: Config, exp_dir: Path) -> Path:
    """``<exp_dir>/<dataset>_softmax/SRGNN_<lr>_<batch_size>_<embedding_dim>`` (paper: ``_paper``)."""
    return Path(exp_dir) / cfg.dataset_folder() / cfg.run_name()


def make_evaluator(cfg: Config, dataset, progress: bool):
    return NextItemEvaluator(dataset, cfg, progress) if cfg.protocol == "paper" else RecallEvaluator(dataset, cfg, progress)


def train_run(cfg: Config, data_dir: Path, exp_dir: Path, resume: bool = False, overwrite: bool = False,
              progress: bool = True, log: Callable[[str], None] = print) -> Tuple[Path, Dict[str, Any]]:
    """Validate the data, prepare the run folder and train; returns (run folder, summary).

    Started by ``python -m paddle.distributed.launch`` with several processes
    (``scripts/train_multi_gpu.sh``), each process is one data-parallel rank: rank 0
    prepares the run folder, evaluates and writes; every rank trains on its share of the
    batches (see :class:`~srgnn_paddle.training.Trainer`). Other ranks return an empty summary.
    """
    data_dir, exp_dir = Path(data_dir), Path(exp_dir)
    if resume and overwrite:
        raise SrgnnError("--resume and --overwrite exclude each other; choose one")
    rank, world_size = distributed_context()
    if world_size > 1:
        device = select_parallel_device(cfg.device, cfg.cpu_threads)
        paddle.distributed.init_parallel_env()
        if rank != 0:
            progress, log = False, _silent
    else:
        device = select_device(cfg.device, cfg.cpu_threads)
    data = load_data(cfg, data_dir)
    cfg = cfg.replace(n_items=data.n_items)
    run_dir = run_dir_for(cfg, exp_dir)
    if rank == 0:
        _prepare_run_dir(cfg, run_dir, resume, overwrite)
    if world_size > 1:
        paddle.distributed.barrier()
    seed_everything(cfg.seed)
    model = SRGNN(cfg)
    trainer = Trainer(cfg, model, data.train, make_evaluator(cfg, data.valid, progress), run_dir,
                      lambda: make_evaluator(cfg, data.test_dataset(), progress),
                      item_counts=data.item_counts, progress=progress, log=log, rank=rank, world_size=world_size)
    if resume:
        trainer.load_checkpoint()
        log(f"resuming {run_dir} after epoch {trainer.state.epoch}")
    ranks = f" x {world_size} data-parallel ranks" if world_size > 1 else ""
    log(f"training on {device}{ranks}: {len(data.train)} training samples, {len(data.valid)} validation, "
        f"{data.n_items} items -> {run_dir}")
    return run_dir, trainer.fit()


def distributed_context() -> Tuple[int, int]:
    """``(rank, world_size)`` set by ``paddle.distributed.launch`` (``PADDLE_TRAINER_ID``,
    ``PADDLE_TRAINERS_NUM``); ``(0, 1)`` in a plain process."""
    world_size = int(os.environ.get("PADDLE_TRAINERS_NUM", "1") or 1)
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0") or 0)
    return rank, world_size


def select_parallel_device(name: str, cpu_threads: int) -> str:
    """A data-parallel rank's device: the GPU the launcher gave it (``ParallelEnv().device_id``)
    or the CPU (collective over gloo)."""
    if name == "cpu" or (name == "auto" and not gpu_available()):
        return select_device("cpu", cpu_threads)
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
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        saved = load_config(run_dir / CONFIG_FILE)
        if saved.replace(epochs=cfg.epochs, device=cfg.device, num_workers=cfg.num_workers,
                        cpu_threads=cfg.cpu_threads) != cfg:
            raise SrgnnError(f"{run_dir / CONFIG_FILE}: the saved config differs from this command's; "
                             f"resume with the same options (only --epochs, --device, --num_workers and --cpu_threads may change)")
    save_config(cfg, run_dir / CONFIG_FILE)


def evaluate_run(run_dir: Path, data_dir: Path, split: str = "test", progress: bool = True) -> Dict[str, float]:
    """Score a saved run's best weights on one split of ``data_dir``."""
    run_dir = Path(run_dir)
    for f in (CONFIG_FILE, MODEL_FILE):
        if not (run_dir / f).is_file():
            raise SrgnnError(f"{run_dir / f}: not found; pass the folder of a finished run to --run_dir")
    cfg = load_config(run_dir / CONFIG_FILE)
    select_device(cfg.device, cfg.cpu_threads)
    data = load_data(cfg, Path(data_dir))
    if data.n_items != cfg.n_items:
        raise SrgnnError(f"{data_dir}: has {data.n_items} items but the run was trained with {cfg.n_items}")
    model = SRGNN(cfg)
    model.set_state_dict(paddle.load(str(run_dir / MODEL_FILE)))
    dataset = {"test": data.test_dataset, "valid": lambda: data.valid}[split]()
    return make_evaluator(cfg, dataset, progress)(model, desc=split)
