"""Device selection and seeding."""
from __future__ import annotations

import logging
import random

import numpy as np
import paddle

from srgnn_paddle.errors import SrgnnError


def gpu_available() -> bool:
    """True when Paddle is compiled with CUDA and at least one GPU is visible."""
    try:
        return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    except Exception:  # a broken CUDA install must not stop CPU runs
        return False


def select_device(name: str = "auto") -> str:
    """Set Paddle's device: ``auto`` (GPU when usable, else CPU), ``cpu`` or ``gpu``.

    Returns the device string that was set (``'cpu'`` or ``'gpu:0'``).
    """
    if name == "auto":
        name = "gpu" if gpu_available() else "cpu"
    if name == "gpu":
        if not gpu_available():
            raise SrgnnError("--device gpu: Paddle has no usable GPU here (CPU build or no GPU visible); use --device cpu")
        paddle.set_device("gpu:0")
        return "gpu:0"
    if name != "cpu":
        raise SrgnnError(f"unknown device {name!r}; use auto, cpu or gpu")
    paddle.set_device("cpu")
    return "cpu"


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and Paddle (parameter initialisation)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    paddle.seed(seed)


def quiet_faiss_logging() -> None:
    """Faiss logs its loader at INFO level on import; keep the console for the run."""
    logging.getLogger("faiss").setLevel(logging.WARNING)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
