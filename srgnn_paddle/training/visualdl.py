"""VisualDL scalars of a run (``visualdl: true`` / ``--visualdl``): per epoch, the training
loss, the learning rate and every validation metric, written with VisualDL's ``LogWriter``
into ``<run_dir>/visualdl/`` (``visualdl --logdir <run_dir>/visualdl`` shows them).

VisualDL is an optional extra (``pip install srgnn-paddle[vdl]``); it is imported only when a
run asks for it.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Dict, Union

from srgnn_paddle.errors import SrgnnError

VISUALDL_DIR = "visualdl"
VISUALDL_FILE = "vdlrecords.train.log"  # VisualDL reads files whose name holds "vdlrecords"
INSTALL_HINT = "pip install srgnn-paddle[vdl]"


def log_writer_class() -> Any:
    """``visualdl.LogWriter``; SrgnnError naming the extra to install when VisualDL is absent."""
    try:
        from visualdl import LogWriter
    except ImportError as exc:
        raise SrgnnError(f"visualdl: true (--visualdl) needs VisualDL, which cannot be imported "
                         f"({exc.__class__.__name__}); install it with: {INSTALL_HINT}") from None
    return LogWriter


class VisualDLWriter:
    """An epoch hook of :class:`~srgnn_paddle.training.Trainer`: writes the scalars
    ``train/loss``, ``train/lr`` and ``valid/<metric>`` for every metric of the epoch's
    validation, at step = epoch number.

    Args:
        run_dir: the run folder; the log goes to ``<run_dir>/visualdl/vdlrecords.train.log``
            (a resumed run appends to it from its next epoch on).
    """

    def __init__(self, run_dir: Union[str, Path]) -> None:
        self.logdir = Path(run_dir) / VISUALDL_DIR
        # One file per run folder: VisualDL shows only the newest file of a folder, so a resumed
        # run appends to the same file (VisualDL prints a line when it does; kept out of the log)
        with contextlib.redirect_stdout(io.StringIO()):
            self.writer = log_writer_class()(logdir=str(self.logdir), file_name=VISUALDL_FILE)

    def __call__(self, epoch: int, loss: float, lr: float, metrics: Dict[str, float]) -> None:
        self.writer.add_scalar(tag="train/loss", value=float(loss), step=epoch)
        self.writer.add_scalar(tag="train/lr", value=float(lr), step=epoch)
        for key, value in metrics.items():
            self.writer.add_scalar(tag=f"valid/{key}", value=float(value), step=epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
