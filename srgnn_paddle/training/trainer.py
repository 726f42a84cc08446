"""The training loop: one epoch after another, evaluation, early stopping, checkpoints and
resume, for any model of the contract (:class:`~srgnn_paddle.models.Recommender`).

Every file is written to a temporary name and renamed. All random draws of an epoch are
derived from ``(seed, epoch)``, so a resumed run continues exactly as an uninterrupted one
would. The trainer reaches the model only through the contract (``calculate_loss``,
``loss_inputs``, ``encode``, ``item_embeddings``, ``targets``; ``fit`` for the models with
``trainable = False``, whose statistics are counted once in place of the epochs;
``fit_sessions`` before the first epoch for those with ``uses_training_sessions``) and
computes with the kernels of :mod:`srgnn_paddle.kernels`.

Without a validation evaluator (the refit of ``--refit``) every epoch is kept: the trainer
runs ``cfg.epochs`` epochs and scores the test split with the last weights.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Protocol, Sequence

import numpy as np
import pandas as pd
import paddle
import paddle.nn as nn
from tqdm import tqdm

from srgnn_paddle.config import Config
from srgnn_paddle.data.loaders import make_loader
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_write_npy, atomic_write_text
from srgnn_paddle.kernels import Kernels, has_sparse_gradients
from srgnn_paddle.models.base import CrossEntropy, Recommender
from srgnn_paddle.training.checkpoints import CHECKPOINT_FILE, LOG_FILE, MODEL_FILE, RANKS_FILE, load_state, save_state
from srgnn_paddle.training.early_stopping import EarlyStopping
from srgnn_paddle.training.losses import NegativeSampler, sampled_softmax_loss

SYNC_EVERY = 10  # steps between reads of the running loss (a device sync on a GPU)

#: Called after each epoch's validation (rank 0): ``hook(epoch, mean loss, lr, validation metrics)``.
EpochHook = Callable[[int, float, float, Dict[str, float]], None]


class Objective(nn.Layer):
    """The training loss of a batch as one layer (so that data-parallel training can wrap it
    in ``paddle.DataParallel``, whose forward arms the gradient all-reduce).

    There is one loss path: the model's ``calculate_loss`` is handed the chosen objective
    as its ``cross_entropy`` argument, ``(vectors [N, D], items [n_items, D], targets [N],
    mask_padding) -> scalar``: the kernels' full-catalogue cross-entropy, or with a
    negative sampler the sampled softmax with the log-q correction over the step's shared
    negatives (:func:`~srgnn_paddle.training.losses.sampled_softmax_loss`). A model that
    overrides ``calculate_loss`` is trained with its own loss under either.
    """

    def __init__(self, model: Recommender, kernels: Kernels, sampler: Optional[NegativeSampler] = None) -> None:
        super().__init__()
        self.model = model
        self.kernels = kernels
        self.sampler = sampler

    def cross_entropy(self, epoch: int, step: int) -> CrossEntropy:
        """The objective of step ``step`` of ``epoch`` in the contract's ``cross_entropy`` form."""
        if self.sampler is None:
            return self.kernels.cross_entropy
        negatives, log_q = self.sampler.draw(epoch, step), self.sampler.log_q

        def sampled(vectors: paddle.Tensor, items: paddle.Tensor, targets: paddle.Tensor,
                    mask_padding: bool = False) -> paddle.Tensor:
            # the sampler never draws the padding row when the model does not score it
            return sampled_softmax_loss(vectors, items, targets, negatives, log_q)

        return sampled

    def forward(self, batch, epoch: int, step: int) -> paddle.Tensor:
        """Scalar mean loss of ``batch``; ``(epoch, step)`` seed the sampled negatives."""
        return self.model.calculate_loss(batch, self.cross_entropy(epoch, step))


@dataclass
class TrainerOptions:
    """How a :class:`Trainer` runs, beside what it trains.

    Attributes:
        item_counts: ``[n_items]`` training popularity (for popularity negatives).
        progress: show tqdm bars.
        log: where one-line messages go.
        rank, world_size: data-parallel position (see
            :func:`srgnn_paddle.runs.distributed_context`). With ``world_size > 1``
            (``paddle.distributed.init_parallel_env()`` already called) each rank trains on
            every ``world_size``-th batch of the same seeded order through
            ``paddle.DataParallel`` (gradients averaged over ranks); evaluation, logging and
            files are rank 0's only, and rank 0's stop decision is broadcast.
        epoch_hooks: called after every epoch, once its log row is written (rank 0), e.g.
            :class:`~srgnn_paddle.training.visualdl.VisualDLWriter`.
    """

    item_counts: Optional[np.ndarray] = None
    progress: bool = True
    log: Callable[[str], None] = print
    rank: int = 0
    world_size: int = 1
    epoch_hooks: Sequence[EpochHook] = ()


class Loader(Protocol):
    """What the trainer asks of its training loader (:class:`~srgnn_paddle.data.BatchLoader`)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...

    def set_epoch(self, epoch: int) -> None: ...

    def global_batch_index(self, step: int) -> int: ...


@dataclass
class RunState:
    """What a checkpoint holds besides weights and optimiser state."""

    epoch: int = 0
    rows: List[Dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    finished: bool = False
    test_seconds: float = 0.0  # the final test pass (0: not timed, e.g. a checkpoint from before it was)
    test_cases: int = 0  # what it scored: test pairs (paper protocol) or users


class Trainer:
    """Train one run in ``run_dir`` with early stopping and resumable checkpoints.

    Args:
        cfg: the resolved configuration (``cfg.n_items`` set).
        model: a fresh model of the contract.
        train_dataset: a dataset with ``make_batch`` (see :mod:`srgnn_paddle.data`).
        evaluator: the protocol's evaluator on the validation split
            (:meth:`srgnn_paddle.protocols.Protocol.evaluator`), or None: no validation,
            ``cfg.epochs`` epochs, the last weights are kept (refit).
        run_dir: the run folder (created by the caller).
        test_evaluator_factory: builds the test evaluator; called once, after training (or
            every epoch with ``select_on: test``).
        kernels: the run's :class:`~srgnn_paddle.kernels.Kernels`
            (:func:`~srgnn_paddle.kernels.select_kernels`).
        options: :class:`TrainerOptions` (popularity counts, progress, log, data-parallel
            rank, epoch hooks).

    The trainer writes the checkpoint, the best weights, ``log.csv`` and, when the test
    evaluator has per-case ranks (the paper protocol's), ``test_ranks.npy``; the run's
    ``summary.json`` is written by :mod:`srgnn_paddle.runs` from what :meth:`fit` returns.
    """

    def __init__(self, cfg: Config, model: Recommender, train_dataset, evaluator: Optional[Any], run_dir: Path,
                 test_evaluator_factory: Callable[[], Any], kernels: Kernels,
                 options: Optional[TrainerOptions] = None, **option_values: Any) -> None:
        # the options may also be given one by one (progress=False, log=...), as before TrainerOptions
        options = dataclasses.replace(options or TrainerOptions(), **option_values)
        self.cfg = cfg
        self.options = options
        self.epoch_hooks = list(options.epoch_hooks)
        self.model = model
        self.kernels = kernels
        self.rank = options.rank
        self.world_size = options.world_size
        self.evaluator = evaluator
        self.run_dir = Path(run_dir)
        self.test_evaluator_factory = test_evaluator_factory
        self.progress = options.progress
        self.log = options.log
        self.train_dataset = train_dataset
        self.tested = False  # whether the last fit() scored the test split (else it was scored before)
        self.loader: Loader = make_loader(train_dataset, cfg.batch_size, shuffle=True, seed=cfg.seed,
                                          num_workers=cfg.num_workers, rank=self.rank, world_size=self.world_size,
                                          layout=model.batch_layout)
        self.scheduler: Optional[paddle.optimizer.lr.LRScheduler] = None
        self.optimizer: Optional[paddle.optimizer.Optimizer] = None
        if model.trainable:  # counted models have nothing to optimise
            if cfg.lr_dc_step > 0:
                self.scheduler = paddle.optimizer.lr.StepDecay(cfg.lr, step_size=cfg.lr_dc_step, gamma=cfg.lr_dc)
            self.optimizer = kernels.optimizer(model.parameters(), self.scheduler or cfg.lr, cfg.weight_decay,
                                               cfg.optimizer, dense_gradients=not has_sparse_gradients(model))
        self.stopper = EarlyStopping(cfg.patience)
        self.state = RunState()
        sampler = None
        if cfg.loss == "sampled_softmax":
            sampler = NegativeSampler(model.n_items, cfg.negative_sampler, options.item_counts, cfg.num_negatives,
                                      cfg.seed, exclude_padding=not model.score_padding)
        objective = Objective(model, kernels, sampler)
        # find_unused_parameters: a model may leave some layer out of the loss (e.g. SR-GNN's
        # non-hybrid readout skips linear_transform)
        self.objective = (paddle.DataParallel(objective, find_unused_parameters=True)
                          if self.world_size > 1 else objective)
        self._test_evaluator = None

    # -- persistence
    def save_checkpoint(self) -> None:
        """Write the state after the last completed epoch (atomically)."""
        save_state({
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "stopper": self.stopper.state_dict(),
            "state": {"epoch": self.state.epoch, "rows": self.state.rows,
                      "train_seconds": self.state.train_seconds, "finished": self.state.finished,
                      "test_seconds": self.state.test_seconds, "test_cases": self.state.test_cases},
            "config": self.cfg.to_dict(),
        }, self.run_dir / CHECKPOINT_FILE)

    def load_checkpoint(self) -> None:
        """Restore everything from ``checkpoint.pdckpt`` (for ``--resume``)."""
        payload = load_state(self.run_dir / CHECKPOINT_FILE, "start over with --overwrite")
        if not isinstance(payload, dict) or not {"model", "stopper", "state"} <= set(payload):
            raise SrgnnError(f"{self.run_dir / CHECKPOINT_FILE}: not a checkpoint of this toolkit; "
                             f"start over with --overwrite")
        self.model.set_state_dict(payload["model"])
        if self.optimizer is not None:
            self.optimizer.set_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload.get("scheduler"):
            self.scheduler.set_state_dict(payload["scheduler"])
        self.stopper.set_state_dict(payload["stopper"])
        st = payload["state"]
        self.state = RunState(int(st["epoch"]), list(st["rows"]), float(st["train_seconds"]), bool(st["finished"]),
                              float(st.get("test_seconds", 0.0)), int(st.get("test_cases", 0)))

    def write_log(self) -> None:
        """``log.csv``: the notebook's columns first, then epoch, loss, seconds, lr."""
        cols = self.metric_columns() + ["phase", "epoch", "loss", "seconds", "lr"]
        frame = pd.DataFrame(self.state.rows)
        for c in cols:
            if c not in frame.columns:
                frame[c] = np.nan
        extra = [c for c in frame.columns if c not in cols]
        atomic_write_text(self.run_dir / LOG_FILE, frame[cols + extra].to_csv(index=False))

    def metric_columns(self) -> List[str]:
        """The protocol's metric columns (from the validation evaluator, or the test one)."""
        return (self.evaluator or self.test_evaluator()).columns()

    def save_best(self) -> None:
        save_state(self.model.state_dict(), self.run_dir / MODEL_FILE)

    # -- one epoch
    def train_epoch(self, epoch: int) -> float:
        """One pass over the training set; returns the mean loss (NaN if it diverged).

        The running loss is summed on the device and read every :data:`SYNC_EVERY` steps
        (for the progress bar and the NaN check), not after every step.
        """
        self.model.train()
        self.loader.set_epoch(epoch)
        total = paddle.zeros([], dtype="float64")
        count = 0
        bar = tqdm(self.loader, desc=f"Epoch [{epoch}/{self.cfg.epochs}]", leave=False, disable=not self.progress)
        for step, batch in enumerate(bar):
            loss = self.objective(batch, epoch, self.loader.global_batch_index(step))
            loss.backward()
            self.optimizer.step()
            self.kernels.clear_gradients(self.optimizer, data_parallel=self.world_size > 1)
            total = total + loss.detach().astype("float64") * len(batch)
            count += len(batch)
            if step % SYNC_EVERY == 0:
                mean = float(total) / count
                if not math.isfinite(mean) and self.world_size == 1:  # data-parallel: NaN reaches the mean
                    return float("nan")
                bar.set_postfix(loss=f"{mean:.4f}")
        total = float(total)
        if self.world_size > 1:
            return self._mean_over_ranks(total, count)
        return total / max(count, 1)

    def _mean_over_ranks(self, total: float, count: int) -> float:
        """The epoch's mean loss over every rank's samples (NaN on any rank gives NaN)."""
        sums = paddle.to_tensor(np.array([total, count], dtype=np.float64))
        paddle.distributed.all_reduce(sums)
        total, count = sums.numpy().tolist()
        return total / max(count, 1.0)

    def _broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's value of ``flag`` on every rank."""
        value = paddle.to_tensor(np.array([int(flag)], dtype=np.int64))
        paddle.distributed.broadcast(value, src=0)
        return bool(value.numpy()[0])

    def current_lr(self) -> float:
        return float(self.optimizer.get_lr()) if self.optimizer is not None else math.nan

    # -- the run
    def fit(self) -> Dict[str, Any]:
        """Train until early stopping or ``epochs``; then score the test split once."""
        with self.kernels.attach(self.model):
            self._fit_epochs()
            return self.finish()

    def _fit_epochs(self) -> None:
        if not self.model.trainable:
            self._fit_statistics()
            return
        if self.model.uses_training_sessions and self.state.epoch == 0:  # a resumed run has it in its checkpoint
            self.model.fit_sessions(self.train_dataset.sessions())
        cfg = self.cfg
        epochs = tqdm(range(self.state.epoch + 1, cfg.epochs + 1), desc="epochs", initial=self.state.epoch,
                      total=cfg.epochs, disable=not self.progress)
        for epoch in epochs:
            if self.state.finished:
                break
            start = time.time()
            lr = self.current_lr()
            loss = self.train_epoch(epoch)
            if not math.isfinite(loss):
                kept = self.stopper.best_epoch if self.evaluator is not None else self.state.epoch
                if kept == 0:
                    raise SrgnnError(f"training loss became NaN/inf in epoch {epoch}, before any epoch finished, "
                                     f"so there are no weights to keep; lower --lr and start again")
                raise SrgnnError(
                    f"training loss became NaN/inf in epoch {epoch}; the best weights "
                    f"(epoch {kept}) are kept in {self.run_dir / MODEL_FILE}; "
                    f"lower --lr and start again with --overwrite"
                )
            seconds = time.time() - start
            if self.rank != 0:
                self.end_epoch_worker(epoch, seconds)
                continue
            if self.evaluator is None:  # refit: every epoch is kept
                metrics, improved = {}, True
                self.state.rows.append({"phase": "train", "epoch": epoch, "loss": loss,
                                        "seconds": round(seconds, 3), "lr": lr})
            else:
                metrics = self.evaluator(self.model, desc=f"valid {epoch}")
                improved = self.stopper.update(epoch, self.evaluator.score(metrics))
                self.state.rows.append({**metrics, "phase": "valid", "epoch": epoch, "loss": loss,
                                        "seconds": round(seconds, 3), "lr": lr})
            if cfg.select_on == "test":
                test_metrics = self.test_evaluator()(self.model, desc=f"test {epoch}")
                self.state.rows.append({**test_metrics, "phase": "test_epoch", "epoch": epoch, "loss": loss,
                                        "seconds": round(seconds, 3), "lr": lr})
            if improved:
                self.save_best()
            if self.scheduler is not None:
                self.scheduler.step()
            self.state.epoch = epoch
            self.state.train_seconds += seconds
            self.state.finished = (self.evaluator is not None and self.stopper.should_stop(epoch)) or epoch == cfg.epochs
            if self.world_size > 1:
                self._broadcast_flag(self.state.finished)
            self.save_checkpoint()
            self.write_log()
            for hook in self.epoch_hooks:
                hook(epoch, loss, lr, metrics)
            shown = "".join(f", {k} {metrics[k]:.4f}" for k in self.metric_columns()[:3] if k in metrics)
            self.log(f"epoch {epoch}: loss {loss:.4f}{shown}, {seconds:.1f}s"
                     + ("  *best*" if improved and self.evaluator is not None else ""))

    def _fit_statistics(self) -> None:
        """A model with ``trainable = False``: count its statistics from the training
        sessions once (logged as epoch 0, ``seconds`` the counting time), score the
        validation split when there is an evaluator, keep the result as the best weights."""
        if self.state.finished:
            return
        start = time.time()
        self.model.fit(self.train_dataset.sessions())
        seconds = time.time() - start
        row: Dict[str, Any] = {"phase": "train", "epoch": 0, "loss": np.nan, "seconds": round(seconds, 3),
                               "lr": np.nan}
        if self.evaluator is not None:
            metrics = self.evaluator(self.model, desc="valid")
            self.stopper.update(0, self.evaluator.score(metrics))
            row = {**metrics, **row, "phase": "valid"}
            shown = "".join(f", {k} {metrics[k]:.4f}" for k in self.metric_columns()[:3])
        else:
            shown = ""
        self.state.rows.append(row)
        self.save_best()
        self.state.train_seconds = seconds
        self.state.finished = True
        self.save_checkpoint()
        self.write_log()
        self.log(f"{self.cfg.model}: counted from {len(self.train_dataset)} training samples in {seconds:.1f}s{shown}")

    def end_epoch_worker(self, epoch: int, seconds: float) -> None:
        """A data-parallel rank other than 0 after its epoch: step the schedule and take
        rank 0's stop decision (it evaluates and writes the files)."""
        if self.scheduler is not None:
            self.scheduler.step()
        self.state.epoch = epoch
        self.state.train_seconds += seconds
        self.state.finished = self._broadcast_flag(False)

    def test_evaluator(self):
        if self._test_evaluator is None:
            self._test_evaluator = self.test_evaluator_factory()
        return self._test_evaluator

    def finish(self) -> Dict[str, Any]:
        """Reload the best weights, score the test split once (unless a resumed run already
        did; timed, and its per-case ranks saved as ``test_ranks.npy`` when the evaluator has
        them), write the log and checkpoint; returns the run's summary (rank 0; other
        data-parallel ranks return an empty one). :mod:`srgnn_paddle.runs` writes it."""
        if self.rank != 0:
            return {}
        self.tested = not any(r["phase"] == "test" for r in self.state.rows)
        if self.tested:
            self.model.set_state_dict(load_state(self.run_dir / MODEL_FILE, "train the run again with --overwrite"))
            evaluator = self.test_evaluator()
            start = time.perf_counter()
            test_metrics = evaluator(self.model, desc="test")
            self.state.test_seconds = time.perf_counter() - start
            self.state.test_cases = int(getattr(evaluator, "n", 0) or 0)
            ranks = getattr(evaluator, "ranks", None)
            if ranks is not None:
                atomic_write_npy(self.run_dir / RANKS_FILE, ranks)
            best = self.stopper.best_epoch if self.evaluator is not None else self.state.epoch
            self.state.rows.append({**test_metrics, "phase": "test", "epoch": best, "loss": np.nan,
                                    "seconds": np.nan, "lr": np.nan})
            self.state.finished = True
            self.save_checkpoint()
            self.write_log()
        return self.summary()

    def summary(self) -> Dict[str, Any]:
        """The finished run's summary (:func:`plain` makes it JSON-friendly): model, sizes, epochs, the selected
        epoch's validation row and the test metrics, from the log rows; the timings ``compare`` shows
        (``train_seconds``, ``seconds_per_epoch`` (None for a counted model), ``test_seconds``,
        ``test_sessions`` (the cases the test pass scored) and ``test_sessions_per_second``; None
        where the test pass was not timed)."""
        test_row = next(r for r in self.state.rows if r["phase"] == "test")
        best = int(test_row["epoch"])
        metric_keys = [k for k in test_row if k not in ("phase", "epoch", "loss", "seconds", "lr")]
        summary: Dict[str, Any] = {
            "model": self.cfg.model,
            "protocol": self.cfg.protocol,
            "dataset": self.cfg.dataset,
            "kernels": self.kernels.name,
            "parameters": self.model.n_parameters(),
            "best_epoch": best,
            "epochs_run": self.state.epoch,
            "train_seconds": round(self.state.train_seconds, 2),
            "seconds_per_epoch": (round(self.state.train_seconds / self.state.epoch, 3)
                                  if self.model.trainable and self.state.epoch > 0 else None),
            "test_seconds": round(self.state.test_seconds, 6) if self.state.test_seconds > 0 else None,
            "test_sessions": self.state.test_cases or None,
            "test_sessions_per_second": (round(self.state.test_cases / self.state.test_seconds, 1)
                                         if self.state.test_seconds > 0 and self.state.test_cases else None),
            "valid": next((r for r in self.state.rows if r["phase"] == "valid" and r["epoch"] == best), None),
            "test": {k: test_row[k] for k in metric_keys},
        }
        epoch_rows = [r for r in self.state.rows if r["phase"] == "test_epoch"]
        if epoch_rows:  # the official script's habit: best of each metric over epochs, on test
            summary["test_best_over_epochs"] = {
                key: max(r[key] for r in epoch_rows) for key in self.metric_columns()
            }
            summary["test_best_over_epochs_epochs"] = {
                key: max(epoch_rows, key=lambda r: r[key])["epoch"] for key in self.metric_columns()
            }
        return summary

    def record_refit(self, test_metrics: Dict[str, float], epochs: int, seconds: float) -> None:
        """Add the refit model's test scores (trained ``epochs`` epochs on training +
        validation, ``seconds`` of training) to this finished run's log: a ``test_refit``
        row in ``log.csv`` and the checkpoint (the summary is :mod:`srgnn_paddle.runs`'s)."""
        self.state.rows = [r for r in self.state.rows if r["phase"] != "test_refit"]
        self.state.rows.append({**test_metrics, "phase": "test_refit", "epoch": epochs, "loss": np.nan,
                                "seconds": round(seconds, 3), "lr": np.nan})
        self.save_checkpoint()
        self.write_log()


def plain(obj: Any) -> Any:
    """JSON-friendly copy (numpy scalars to Python, NaN to None)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
