"""Device selection and seeding."""
from __future__ import annotations

import os
import random

import numpy as np
import paddle
from threadpoolctl import threadpool_limits

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.ops import set_host_threads


def gpu_available() -> bool:
    """True when Paddle is compiled with CUDA and at least one GPU is visible."""
    try:
        return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    except Exception:  # a broken CUDA install must not stop CPU runs
        return False


def select_device(name: str = "auto", cpu_threads: int = 0) -> str:
    """Set Paddle's device: ``auto`` (GPU when usable, else CPU), ``cpu`` or ``gpu``.

    On the CPU, ``cpu_threads`` cores (0 = every core) are used, see :func:`set_cpu_threads`.
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
    set_cpu_threads(cpu_threads)
    return "cpu"


def set_cpu_threads(n: int = 0) -> int:
    """Use ``n`` cores (0 = all) for the CPU parts of training and evaluation; returns ``n``.

    The numpy fast paths (:mod:`srgnn_paddle.ops`: the full softmax, Adam's update of the
    item table, the evaluator's full-catalogue scores) split their work over ``n`` threads.
    Paddle's own CPU kernels run on one thread, and numpy's BLAS on one thread inside
    each of ours: on a 2-core machine two Paddle threads made the DIGINETICA step slower
    (109 vs 95 ms), and letting OpenBLAS start threads of its own, whose workers keep
    spinning after each GEMM, slowed the Paddle ops that follow (see ``docs/performance.md``).
    """
    n = n or os.cpu_count() or 1
    setter = getattr(paddle.base.core, "set_num_threads", None)
    if setter is not None:
        setter(1)
    threadpool_limits(limits=1, user_api="blas")
    set_host_threads(n)
    return n


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and Paddle (parameter initialisation)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    paddle.seed(seed)
