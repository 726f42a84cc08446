"""Training: the loop, the loss, the optimiser, early stopping, checkpoints and resume.

One :class:`Trainer` serves both protocols; what differs is the evaluator:

* notebook protocol: :class:`RecallEvaluator`, Faiss recall@N / ndcg@N / hitrate@N of the
  validation users (spec ``notebook.md`` §6-7), selection on ``recall@N``;
* paper protocol: :class:`NextItemEvaluator`, full-catalogue P@K / MRR@K (spec
  ``paper.md``), selection on P@20 with MRR@20 breaking ties.

A run folder holds ``model.pdparams`` (best weights), ``checkpoint.pdckpt`` (the state after
the last completed epoch: weights, optimiser and lr-scheduler state, early-stopping state,
log rows), ``log.csv``, ``config.yaml`` and ``summary.json``; every file is written to a
temporary name and renamed. All random draws of an epoch are derived from ``(seed, epoch)``,
so a resumed run continues exactly as an uninterrupted one would.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import paddle
import paddle.nn.functional as F
from tqdm import tqdm

from srgnn_paddle.config import Config, save_config
from srgnn_paddle.data import make_loader
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_path, atomic_write_text
from srgnn_paddle.metrics import rank_sums, target_ranks
from srgnn_paddle.model import SRGNN
from srgnn_paddle.ops import HostAdam, host_target_ranks, host_view
from srgnn_paddle.retrieval import evaluate_model

MODEL_FILE = "model.pdparams"
CHECKPOINT_FILE = "checkpoint.pdckpt"
LOG_FILE = "log.csv"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.yaml"
RESULT_FILES = (MODEL_FILE, CHECKPOINT_FILE, LOG_FILE, SUMMARY_FILE)


# ---------------------------------------------------------------------------- early stopping
@dataclass
class EarlyStopping:
    """The notebook's rule: an epoch improves when its score is strictly greater than the
    best so far; training stops once ``epoch - best_epoch > patience``.

    Scores are tuples compared lexicographically (e.g. ``(P@20, MRR@20)``).
    """

    patience: int
    best_score: Optional[Tuple[float, ...]] = None
    best_epoch: int = 0

    def update(self, epoch: int, score: Sequence[float]) -> bool:
        """Record ``epoch``'s score; True when it is a new best."""
        score = tuple(float(s) for s in score)
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            return True
        return False

    def should_stop(self, epoch: int) -> bool:
        """True when ``epoch - best_epoch > patience``."""
        return epoch - self.best_epoch > self.patience

    def state_dict(self) -> Dict[str, Any]:
        return {"patience": self.patience, "best_score": self.best_score, "best_epoch": self.best_epoch}

    def set_state_dict(self, state: Dict[str, Any]) -> None:
        self.patience = int(state["patience"])
        self.best_score = tuple(state["best_score"]) if state["best_score"] is not None else None
        self.best_epoch = int(state["best_epoch"])


# ---------------------------------------------------------------------------- evaluators
class RecallEvaluator:
    """Notebook protocol: Faiss top-N recall of users (``recall@N, ndcg@N, hitrate@N``)."""

    def __init__(self, dataset, cfg: Config, progress: bool = False) -> None:
        self.loader = make_loader(dataset, cfg.eval_batch_size, num_workers=0)
        self.cfg = cfg
        self.progress = progress
        self.key = f"recall@{cfg.topN}"

    def __call__(self, model: SRGNN, desc: str = "eval") -> Dict[str, float]:
        loader = tqdm(self.loader, desc=desc, leave=False, disable=not self.progress)
        return evaluate_model(model, loader, self.cfg.embedding_dim, self.cfg.topN,
                              index_kind=self.cfg.index, nlist=self.cfg.ivf_nlist, nprobe=self.cfg.ivf_nprobe)

    def score(self, metrics: Dict[str, float]) -> Tuple[float, ...]:
        return (metrics[self.key],)

    def columns(self) -> List[str]:
        n = self.cfg.topN
        return [f"recall@{n}", f"ndcg@{n}", f"hitrate@{n}"]


class NextItemEvaluator:
    """Paper protocol: full-catalogue scores, P@K and MRR@K (x100) for K in :attr:`KS`.

    Each target's rank among the catalogue is counted (numpy's BLAS on the CPU, Paddle on the GPU)
    (:func:`~srgnn_paddle.metrics.target_ranks`: ties count against the target; the padding
    column is never a candidate, even for a model trained with ``score_padding=True``), so
    a K wider than the catalogue is fine: every target is then within the top K (P@K = 100)
    and MRR@K is the uncut mean reciprocal rank.
    """

    KS = (10, 20, 50)

    def __init__(self, dataset, cfg: Config, progress: bool = False) -> None:
        self.loader = make_loader(dataset, cfg.eval_batch_size, num_workers=cfg.num_workers)
        self.progress = progress
        self.n = len(dataset)

    def __call__(self, model: SRGNN, desc: str = "eval") -> Dict[str, float]:
        was_training = model.training
        model.eval()
        sums: Dict[str, float] = {}
        try:
            with paddle.no_grad():
                for batch in tqdm(self.loader, desc=desc, leave=False, disable=not self.progress):
                    ranks = self.ranks(model, model.encode(batch.graph), batch.target)
                    for key, value in rank_sums(ranks, self.KS).items():
                        sums[key] = sums.get(key, 0.0) + value
        finally:
            if was_training:
                model.train()
        return {key: 100.0 * value / self.n for key, value in sums.items()}

    @staticmethod
    def ranks(model: SRGNN, user_emb: paddle.Tensor, target) -> np.ndarray:
        """``[B]`` full-catalogue rank of each target (padding never a candidate): with numpy's
        BLAS on the CPU, split over the host threads (Paddle's CPU GEMM is several times
        slower, see :mod:`srgnn_paddle.ops`), with Paddle ops elsewhere."""
        if user_emb.place.is_cpu_place():
            return host_target_ranks(user_emb.numpy(), host_view(model.candidate_weight()),
                                     np.asarray(target).reshape(-1), exclude_padding=True)
        return target_ranks(model.full_scores(user_emb), model.target_index(target), exclude_padding=True)

    def score(self, metrics: Dict[str, float]) -> Tuple[float, ...]:
        return (metrics["P@20"], metrics["MRR@20"])

    def columns(self) -> List[str]:
        return ["P@20", "MRR@20", "P@10", "MRR@10", "P@50", "MRR@50"]


# ---------------------------------------------------------------------------- optimiser
def make_optimizer(cfg: Config, parameters, scheduler: Optional[paddle.optimizer.lr.LRScheduler] = None
                   ) -> paddle.optimizer.Adam:
    """Adam with learning rate ``cfg.lr`` (or ``scheduler``) and coupled L2 weight decay
    ``cfg.weight_decay`` (added to the gradient, as the official SR-GNN's ``Adam(...,
    weight_decay=l2)``). It is :class:`~srgnn_paddle.ops.HostAdam`: Paddle's Adam, with the
    update of the large item table done in place in numpy on the CPU."""
    return HostAdam(learning_rate=scheduler or cfg.lr, parameters=parameters, weight_decay=cfg.weight_decay)


# ---------------------------------------------------------------------------- losses
def sampled_softmax_loss(user_emb: paddle.Tensor, candidates: paddle.Tensor, target: paddle.Tensor,
                         negatives: paddle.Tensor, log_q: paddle.Tensor) -> paddle.Tensor:
    """Sampled softmax with the log-q correction.

    Args:
        user_emb: ``[B, D]``.
        candidates: ``[C, D]`` the scored item table (target/negative indices refer to rows).
        target: ``[B]`` int64 row of each positive.
        negatives: ``[S]`` int64 rows of negatives shared by the batch.
        log_q: ``[C]`` float32 log sampling probability of each row.
    Returns:
        scalar mean loss; logits are ``s - log q`` for positives and negatives, and a
        negative equal to the positive is masked out.
    """
    pos_emb = paddle.gather(candidates, target)  # [B, D]
    neg_emb = paddle.gather(candidates, negatives)  # [S, D]
    pos_logit = (user_emb * pos_emb).sum(axis=1, keepdim=True) - paddle.gather(log_q, target).unsqueeze(1)
    neg_logit = paddle.matmul(user_emb, neg_emb, transpose_y=True) - paddle.gather(log_q, negatives).unsqueeze(0)
    collision = (negatives.unsqueeze(0) == target.unsqueeze(1)).astype(neg_logit.dtype)
    neg_logit = neg_logit - 1e9 * collision
    logits = paddle.concat([pos_logit, neg_logit], axis=1)  # [B, 1 + S]
    return F.cross_entropy(logits, paddle.zeros([logits.shape[0]], dtype="int64"))


class NegativeSampler:
    """Draws shared negatives for sampled softmax: uniform or by training popularity.

    Args:
        n_candidates: rows of the scored item table (``n_items``).
        kind: ``'uniform'`` or ``'popularity'`` (training counts + 1, so unseen items can
            still be drawn).
        counts: ``[>= n_candidates]`` training counts per item id (needed for popularity).
        n_negatives: ``S``, negatives drawn (with replacement) per step, shared by the batch.
        seed: draws depend only on ``(seed, epoch, step)``.
        exclude_padding: never draw row 0.

    ``log_q [n_candidates]`` is ``log(S * p)``, the log of each row's expected count among
    the ``S`` draws: the correction subtracted from the logits by :func:`sampled_softmax_loss`.
    """

    def __init__(self, n_candidates: int, kind: str, counts: Optional[np.ndarray], n_negatives: int,
                 seed: int, exclude_padding: bool = True) -> None:
        if kind == "popularity":
            if counts is None:
                raise ValueError("popularity negatives need the training item counts")
            p = np.asarray(counts, dtype=np.float64)[:n_candidates] + 1.0  # add-one smoothing
            if len(p) < n_candidates:
                p = np.r_[p, np.ones(n_candidates - len(p))]
        elif kind == "uniform":
            p = np.ones(n_candidates)
        else:
            raise ValueError(f"unknown negative sampler {kind!r}; use uniform or popularity")
        if exclude_padding:
            p[0] = 0.0
        p /= p.sum()
        self.p = p
        self._cdf = np.cumsum(p)
        self._cdf[-1] = 1.0
        # log q of the padding row is irrelevant (never drawn, never a target): keep it finite
        self.log_q = paddle.to_tensor(np.log(np.maximum(p * n_negatives, 1e-30)).astype(np.float32))
        self.n_negatives = n_negatives
        self.seed = seed

    def draw_numpy(self, epoch: int, step: int) -> np.ndarray:
        """``[S]`` int64 row ids: inverse-CDF draws, O(S log C) per step (``rng.choice`` with
        ``p`` rebuilds the CDF, O(C), on every call: 10 ms a step at a million items)."""
        rng = np.random.default_rng([self.seed, epoch, step, 2])
        rows = np.searchsorted(self._cdf, rng.random(self.n_negatives), side="right")
        return np.minimum(rows, len(self.p) - 1).astype(np.int64)

    def draw(self, epoch: int, step: int) -> paddle.Tensor:
        """:meth:`draw_numpy` as a Paddle tensor ``[S]`` int64."""
        return paddle.to_tensor(self.draw_numpy(epoch, step))


# ---------------------------------------------------------------------------- trainer
@dataclass
class RunState:
    """What a checkpoint holds besides weights and optimiser state."""

    epoch: int = 0
    rows: List[Dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    finished: bool = False


class Trainer:
    """Train one SR-GNN run in ``run_dir`` with early stopping and resumable checkpoints.

    Args:
        cfg: the resolved configuration (``cfg.n_items`` set).
        model: a fresh :class:`SRGNN`.
        train_dataset: a dataset with ``make_batch`` (see :mod:`srgnn_paddle.data`).
        evaluator: :class:`RecallEvaluator` or :class:`NextItemEvaluator` on the validation split.
        run_dir: the run folder (created by the caller).
        test_evaluator_factory: builds the test evaluator; called once, after training (or
            every epoch with ``select_on: test``).
        item_counts: training popularity (for popularity negatives).
        progress: show tqdm bars.
        rank, world_size: data-parallel position (see
            :func:`srgnn_paddle.runs.distributed_context`). With
            ``world_size > 1`` (``paddle.distributed.init_parallel_env()`` already called)
            each rank trains on every ``world_size``-th batch of the same seeded order through
            ``paddle.DataParallel`` (gradients averaged over ranks); evaluation, logging and
            files are rank 0's only, and rank 0's stop decision is broadcast.
    """

    def __init__(self, cfg: Config, model: SRGNN, train_dataset, evaluator, run_dir: Path,
                 test_evaluator_factory: Callable[[], Any], item_counts: Optional[np.ndarray] = None,
                 progress: bool = True, log: Callable[[str], None] = print, rank: int = 0,
                 world_size: int = 1) -> None:
        self.cfg = cfg
        self.model = model
        self.rank = rank
        self.world_size = world_size
        # the non-hybrid readout leaves linear_transform without a gradient
        self.parallel_model = (paddle.DataParallel(model, find_unused_parameters=bool(cfg.nonhybrid))
                               if world_size > 1 else None)
        self.evaluator = evaluator
        self.run_dir = Path(run_dir)
        self.test_evaluator_factory = test_evaluator_factory
        self.progress = progress
        self.log = log
        self.loader = make_loader(train_dataset, cfg.batch_size, shuffle=True, seed=cfg.seed,
                                  num_workers=cfg.num_workers, rank=rank, world_size=world_size)
        if cfg.lr_dc_step > 0:
            self.scheduler = paddle.optimizer.lr.StepDecay(cfg.lr, step_size=cfg.lr_dc_step, gamma=cfg.lr_dc)
        else:
            self.scheduler = None
        self.optimizer = make_optimizer(cfg, model.parameters(), self.scheduler)
        self.stopper = EarlyStopping(cfg.patience)
        self.state = RunState()
        self.sampler = None
        if cfg.loss == "sampled_softmax":
            self.sampler = NegativeSampler(model.n_items, cfg.negative_sampler, item_counts, cfg.num_negatives,
                                           cfg.seed, exclude_padding=not model.score_padding)
        self._test_evaluator = None

    # -- persistence
    def save_checkpoint(self) -> None:
        """Write the state after the last completed epoch (atomically)."""
        payload = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "stopper": self.stopper.state_dict(),
            "state": {"epoch": self.state.epoch, "rows": self.state.rows,
                      "train_seconds": self.state.train_seconds, "finished": self.state.finished},
            "config": self.cfg.to_dict(),
        }
        with atomic_path(self.run_dir / CHECKPOINT_FILE) as tmp:
            paddle.save(payload, str(tmp))

    def load_checkpoint(self) -> None:
        """Restore everything from ``checkpoint.pdckpt`` (for ``--resume``)."""
        path = self.run_dir / CHECKPOINT_FILE
        try:
            payload = paddle.load(str(path))
        except Exception as exc:  # a truncated or foreign file
            raise SrgnnError(f"{path}: cannot be read ({type(exc).__name__}); start over with --overwrite") from None
        self.model.set_state_dict(payload["model"])
        self.optimizer.set_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload.get("scheduler"):
            self.scheduler.set_state_dict(payload["scheduler"])
        self.stopper.set_state_dict(payload["stopper"])
        st = payload["state"]
        self.state = RunState(int(st["epoch"]), list(st["rows"]), float(st["train_seconds"]), bool(st["finished"]))

    def write_log(self) -> None:
        """``log.csv``: the notebook's columns first, then epoch, loss, seconds, lr."""
        cols = self.evaluator.columns() + ["phase", "epoch", "loss", "seconds", "lr"]
        frame = pd.DataFrame(self.state.rows)
        for c in cols:
            if c not in frame.columns:
                frame[c] = np.nan
        extra = [c for c in frame.columns if c not in cols]
        atomic_write_text(self.run_dir / LOG_FILE, frame[cols + extra].to_csv(index=False))

    def save_best(self) -> None:
        with atomic_path(self.run_dir / MODEL_FILE) as tmp:
            paddle.save(self.model.state_dict(), str(tmp))

    # -- one epoch
    def train_epoch(self, epoch: int) -> float:
        """One pass over the training set; returns the mean loss (NaN if it diverged)."""
        self.model.train()
        self.loader.batch_view.set_epoch(epoch)
        total, count = 0.0, 0
        bar = tqdm(self.loader, desc=f"Epoch [{epoch}/{self.cfg.epochs}]", leave=False, disable=not self.progress)
        for step, batch in enumerate(bar):
            user_emb = self.encode(batch.graph)
            loss = self.compute_loss(user_emb, batch.target, epoch, self.loader.batch_view.global_batch_index(step))
            loss.backward()
            self.optimizer.step()
            self.optimizer.clear_grad()
            value = float(loss)
            if not math.isfinite(value) and self.world_size == 1:  # data-parallel: NaN reaches the mean
                return float("nan")
            total += value * len(batch)
            count += len(batch)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{total / count:.4f}")
        if self.world_size > 1:
            return self._mean_over_ranks(total, count)
        return total / max(count, 1)

    def encode(self, graph) -> paddle.Tensor:
        """User vectors ``[B, D]`` of a batch; through ``paddle.DataParallel`` (whose forward
        arms the gradient all-reduce of the backward pass) when data-parallel."""
        if self.parallel_model is None:
            return self.model.encode(graph)
        return self.parallel_model(None, None, None, train=False, graph=graph)["user_emb"]

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

    def compute_loss(self, user_emb: paddle.Tensor, target: paddle.Tensor, epoch: int, step: int) -> paddle.Tensor:
        """Full softmax over every candidate item, or sampled softmax with log-q correction."""
        if self.sampler is None:
            return self.model.loss(user_emb, target)
        return sampled_softmax_loss(user_emb, self.model.candidate_weight(), self.model.target_index(target),
                                    self.sampler.draw(epoch, step), self.sampler.log_q)

    def current_lr(self) -> float:
        return float(self.optimizer.get_lr())

    # -- the run
    def fit(self) -> Dict[str, Any]:
        """Train until early stopping or ``epochs``; then score the test split once."""
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
                if self.stopper.best_epoch == 0:
                    raise SrgnnError(f"training loss became NaN/inf in epoch {epoch}, before any epoch finished, "
                                     f"so there are no weights to keep; lower --lr and start again")
                raise SrgnnError(
                    f"training loss became NaN/inf in epoch {epoch}; the best weights "
                    f"(epoch {self.stopper.best_epoch}) are kept in {self.run_dir / MODEL_FILE}; "
                    f"lower --lr and start again with --overwrite"
                )
            seconds = time.time() - start
            if self.rank != 0:
                self.end_epoch_worker(epoch, seconds)
                continue
            metrics = self.evaluator(self.model, desc=f"valid {epoch}")
            improved = self.stopper.update(epoch, self.evaluator.score(metrics))
            row = {**metrics, "phase": "valid", "epoch": epoch, "loss": loss, "seconds": round(seconds, 3), "lr": lr}
            self.state.rows.append(row)
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
            self.state.finished = self.stopper.should_stop(epoch) or epoch == cfg.epochs
            if self.world_size > 1:
                self._broadcast_flag(self.state.finished)
            self.save_checkpoint()
            self.write_log()
            shown = ", ".join(f"{k} {metrics[k]:.4f}" for k in self.evaluator.columns()[:3])
            self.log(f"epoch {epoch}: loss {loss:.4f}, {shown}, {seconds:.1f}s"
                     + ("  *best*" if improved else ""))
        return self.finish()

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
        """Reload the best weights, score the test split once, write the log and summary
        (rank 0; other data-parallel ranks return an empty summary)."""
        if self.rank != 0:
            return {}
        if any(r["phase"] == "test" for r in self.state.rows):
            return json.loads((self.run_dir / SUMMARY_FILE).read_text())
        self.model.set_state_dict(paddle.load(str(self.run_dir / MODEL_FILE)))
        test_metrics = self.test_evaluator()(self.model, desc="test")
        best = self.stopper.best_epoch
        self.state.rows.append({**test_metrics, "phase": "test", "epoch": best, "loss": np.nan,
                                "seconds": np.nan, "lr": np.nan})
        summary: Dict[str, Any] = {
            "protocol": self.cfg.protocol,
            "dataset": self.cfg.dataset,
            "best_epoch": best,
            "epochs_run": self.state.epoch,
            "train_seconds": round(self.state.train_seconds, 2),
            "valid": next(r for r in self.state.rows if r["phase"] == "valid" and r["epoch"] == best),
            "test": test_metrics,
        }
        epoch_rows = [r for r in self.state.rows if r["phase"] == "test_epoch"]
        if epoch_rows:  # the official script's habit: best of each metric over epochs, on test
            summary["test_best_over_epochs"] = {
                key: max(r[key] for r in epoch_rows) for key in self.evaluator.columns()
            }
            summary["test_best_over_epochs_epochs"] = {
                key: max(epoch_rows, key=lambda r: r[key])["epoch"] for key in self.evaluator.columns()
            }
        self.state.finished = True
        self.save_checkpoint()
        self.write_log()
        atomic_write_text(self.run_dir / SUMMARY_FILE, json.dumps(_plain(summary), indent=2))
        return summary


def _plain(obj: Any) -> Any:
    """JSON-friendly copy (numpy scalars to Python, NaN to None)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
