"""Device selection and seeding."""
from __future__ import annotations

import os
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


def select_device(name: str = "auto", cpu_threads: int = 0) -> str:
    """Set Paddle's device: ``auto`` (GPU when usable, else CPU), ``cpu`` or ``gpu``.

    On the CPU, Paddle's kernels use ``cpu_threads`` threads (0 = every core; Paddle's own
    default is one, which leaves half of a 2-core machine idle).
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
    """Use ``n`` threads (0 = all cores) in Paddle's CPU math kernels; returns the number.

    numpy's BLAS (used by the CPU softmax path, :mod:`srgnn_paddle.ops`) is then limited to
    one thread: two spinning thread pools on the same cores slowed a DIGINETICA step from
    162 ms to 251 ms on 2 cores.
    """
    n = n or os.cpu_count() or 1
    setter = getattr(paddle.base.core, "set_num_threads", None)
    if setter is not None:
        setter(int(n))
    from threadpoolctl import threadpool_limits

    # also with n == 1: OpenBLAS would otherwise start a thread per core, and on a machine
    # whose other cores are busy its threads wait on each other (a DIGINETICA step went from
    # about 0.2 s to 0.7 s with one Paddle thread while the other core ran another job)
    threadpool_limits(limits=1, user_api="blas")
    return n


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and Paddle (parameter initialisation)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    paddle.seed(seed)
