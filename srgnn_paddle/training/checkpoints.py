"""The files of a run folder, and reading/writing Paddle state atomically.

A run folder holds ``model.pdparams`` (best weights), ``checkpoint.pdckpt`` (the state after
the last completed epoch: weights, optimiser and lr-scheduler state, early-stopping state,
log rows), ``log.csv``, ``config.yaml`` and ``summary.json``; the paper protocol's runs also
``test_ranks.npy`` (the rank of every test pair's target, in the test file's order).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import paddle

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_path

MODEL_FILE = "model.pdparams"
CHECKPOINT_FILE = "checkpoint.pdckpt"
LOG_FILE = "log.csv"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.yaml"
RANKS_FILE = "test_ranks.npy"
REFIT_DIR = "refit"  # the refit model's own run folder inside a run folder (train --refit)
RESULT_FILES = (MODEL_FILE, CHECKPOINT_FILE, LOG_FILE, SUMMARY_FILE)


def save_state(state: Any, path: Union[str, Path]) -> None:
    """``paddle.save(state, path)`` to a temporary name, then renamed."""
    with atomic_path(path) as tmp:
        paddle.save(state, str(tmp))


def load_state(path: Union[str, Path], remedy: str) -> Any:
    """``paddle.load(path)``; a truncated or foreign file raises SrgnnError ending in ``remedy``."""
    try:
        return paddle.load(str(path))
    except Exception as exc:  # a truncated or foreign file
        raise SrgnnError(f"{path}: cannot be read ({type(exc).__name__}); {remedy}") from None
