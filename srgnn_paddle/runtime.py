"""Device selection, seeding and the thread settings of a run."""
from __future__ import annotations

import contextlib
import os
import random
from typing import Iterator

import numpy as np
import paddle
from threadpoolctl import threadpool_limits

from srgnn_paddle.errors import SrgnnError


def gpu_available() -> bool:
    """True when Paddle is compiled with CUDA and at least one GPU is visible."""
    try:
        return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    except Exception:  # a broken CUDA install must not stop CPU runs
        return False


def select_device(name: str = "auto") -> str:
    """Set Paddle's device: ``auto`` (GPU when usable, else CPU), ``cpu`` or ``gpu``.
    Returns the device string that was set (``'cpu'`` or ``'gpu:0'``)."""
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


def host_threads(n: int = 0) -> int:
    """The number of host threads for ``cpu_threads = n`` (0 = every core)."""
    return n or os.cpu_count() or 1


@contextlib.contextmanager
def single_threaded_math() -> Iterator[None]:
    """Inside the block, Paddle's CPU kernels and numpy's BLAS run on one thread each, as a
    run with host kernels wants (the parallelism is the host kernels' own threads); the
    previous settings are restored afterwards.

    Measured on a 2-core machine: two Paddle threads made the DIGINETICA step slower (109 vs
    95 ms), and OpenBLAS's own threads, whose workers keep spinning after each GEMM, slowed
    the Paddle ops that follow (see ``docs/performance.md``).
    """
    setter = getattr(paddle.base.core, "set_num_threads", None)
    try:
        before = int(paddle.get_flags(["FLAGS_paddle_num_threads"])["FLAGS_paddle_num_threads"])
    except (ValueError, KeyError, RuntimeError):
        before = 1
    with threadpool_limits(limits=1, user_api="blas"):
        if setter is not None:
            setter(1)
        try:
            yield
        finally:
            if setter is not None:
                setter(before)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and Paddle (parameter initialisation)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    paddle.seed(seed)
