"""What differs between the supported PaddlePaddle releases (2.6.x and 3.x), in one place.

The rest of the package is written against Paddle 3's API; where Paddle 2.6 behaves
differently, the call site uses the function here instead of Paddle's own, and only this
module looks at the installed version:

* :func:`index_add`: Paddle 2.6's ``index_add`` backward fails (``Required tensor shall not
  be nullptr``) when the tensor added into does not require a gradient, e.g. the fresh
  zeros of a segment sum; Paddle 3 handles it.
* :func:`numpy_view`: Paddle 2.6's tensors have no ``__dlpack__`` (and numpy 1.x's
  ``from_dlpack`` arrays are read-only), so the zero-copy numpy view of a CPU tensor is
  made from its data pointer there.
* :func:`adam_amsgrad`: Paddle 2.6's Adam has no AMSGrad variant (no ``_amsgrad``).
* Python's ``zlib`` module is imported here, before Paddle: Paddle 2.6's ``libpaddle.so``
  exports zlib functions of its own, and a ``zlib`` module first loaded after it (Paddle's own
  import loads it when numpy is not imported yet) crashes on use (``inconsistent stream state``,
  a segmentation fault in ``inflateReset2``, e.g. while scipy imports). Scripts that import
  ``paddle`` before anything else import ``zlib`` (or numpy) first for the same reason.

:func:`require_paddle` (run when :mod:`srgnn_paddle.models` is imported: every path that builds a model) stops with one ``error:``
line when the installed Paddle is older than :data:`MIN_PADDLE` or lacks an API the package
calls (:data:`NEEDED_APIS`).
"""
from __future__ import annotations

import functools
import re
import zlib  # noqa: F401  (before Paddle, see the module docstring)
from typing import Any, Optional, Tuple

import numpy as np

MIN_PADDLE = (2, 6)  # the oldest supported release: 2.6.x (what the package index serves as paddlepaddle-gpu)

#: The Paddle APIs the package calls that some Paddle releases lack (checked by :func:`paddle_problem`).
NEEDED_APIS = ("index_add", "take_along_axis", "autograd.PyLayer", "utils.dlpack.from_dlpack",
               "optimizer.Adam", "io.DataLoader", "base.core")

INSTALL_HINT = ("install a supported one: pip install 'paddlepaddle>=2.6' (CPU) or "
                "pip install paddlepaddle-gpu==2.6.2 (GPU; 3.x from PaddlePaddle's own wheel index, see the README)")


def release(version: str) -> Tuple[int, ...]:
    """The leading release numbers of a version string: ``'2.6.2'`` -> ``(2, 6, 2)``,
    ``'3.0.0rc1'`` -> ``(3, 0, 0)``; ``()`` when there are none."""
    match = re.match(r"\s*(\d+(?:\.\d+)*)", str(version))
    return tuple(int(part) for part in match[1].split(".")) if match else ()


def is_develop(version: str) -> bool:
    """Paddle's builds from its develop branch (nightlies, source builds) report ``0.0.0``:
    newer than any release."""
    return release(version)[:3] == (0, 0, 0)


def paddle_problem() -> Optional[str]:
    """Why the installed Paddle cannot run this package, as one sentence; None when it can.

    Imports ``paddle`` (absent: says so); a version older than :data:`MIN_PADDLE` or a
    missing API of :data:`NEEDED_APIS` is a problem.
    """
    try:
        import paddle
    except ImportError as error:
        return f"PaddlePaddle cannot be imported ({error}); {INSTALL_HINT}"
    version = str(getattr(paddle, "__version__", "unknown"))
    have = release(version)
    if not is_develop(version) and (not have or have < MIN_PADDLE):
        return (f"srgnn-paddle needs PaddlePaddle {'.'.join(map(str, MIN_PADDLE))} or newer, "
                f"but Paddle {version} is installed; {INSTALL_HINT}")
    missing = [name for name in NEEDED_APIS if not _has_api(paddle, name)]
    if missing:
        return (f"Paddle {version} lacks {', '.join('paddle.' + name for name in missing)}, which "
                f"srgnn-paddle needs; {INSTALL_HINT}")
    return None


def require_paddle() -> None:
    """Stop the program with one ``error:`` line (exit status 1) when :func:`paddle_problem`
    finds one; nothing otherwise."""
    problem = paddle_problem()
    if problem:
        raise SystemExit(f"error: {problem}")


def describe_paddle() -> str:
    """The installed Paddle in one line: its version, the CUDA / cuDNN it was built with and
    the GPUs it sees, e.g. ``Paddle 2.6.2 (paddlepaddle-gpu), CUDA 12.0, cuDNN 8.9.1, 1 GPU visible``
    or ``Paddle 3.3.1 (paddlepaddle), CPU build (no CUDA)``."""
    import paddle

    text = f"Paddle {paddle.__version__} ({_distribution()})"
    cuda = str(paddle.version.cuda())
    if not paddle.device.is_compiled_with_cuda() or cuda in ("False", "", "None"):
        return f"{text}, CPU build (no CUDA)"
    try:
        visible = paddle.device.cuda.device_count()
    except Exception as error:  # a broken CUDA install: say so, do not stop the check
        visible = f"none usable ({type(error).__name__})"
    return f"{text}, CUDA {cuda}, cuDNN {paddle.version.cudnn()}, GPUs visible: {visible}"


def _distribution() -> str:
    """Which distribution provides ``paddle`` (``paddlepaddle``, ``paddlepaddle-gpu``, ...)."""
    from importlib import metadata

    names = [name for name in ("paddlepaddle-gpu", "paddlepaddle") if _installed(metadata, name)]
    return ", ".join(names) or "no pip distribution"


def _installed(metadata, name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _has_api(module, dotted: str) -> bool:
    for part in dotted.split("."):
        try:
            module = getattr(module, part)
        except (AttributeError, ImportError):  # a lazily imported sub-module may fail to load
            return False
    return True


@functools.lru_cache(maxsize=None)
def paddle_release() -> Tuple[int, ...]:
    """The installed Paddle's release numbers (``(2, 6, 2)``); a develop build counts as ``(99,)``."""
    import paddle

    return (99,) if is_develop(paddle.__version__) else release(paddle.__version__)


def index_add(x, index, axis: int, value):
    """``paddle.index_add(x, index, axis, value)``: ``value``'s slices added into ``x`` at
    ``index`` along ``axis`` (``x [n, D]``, ``index [E]`` int64, ``value [E, D]`` for axis 0),
    with a backward pass that works on Paddle 2.6 too (there ``x`` is given a gradient,
    through an alias, when it has none: the gradient of the ``[n, D]`` tensor is computed
    and dropped). ``x`` itself is never changed."""
    import paddle

    # Paddle 2.6's index_add_grad allocates the gradient of ``x`` unconditionally and fails
    # when ``x`` does not require one (fixed in Paddle 3.0)
    if paddle_release() < (3,) and x.stop_gradient and not value.stop_gradient:
        x = x.detach()
        x.stop_gradient = False
    return paddle.index_add(x, index, axis, value)


def numpy_view(tensor) -> np.ndarray:
    """A writable numpy array over the memory of a CPU tensor, without a copy (writes change
    the tensor; the array keeps the tensor alive). Paddle 3: through DLPack; Paddle 2.6
    (no ``Tensor.__dlpack__``): through the tensor's data pointer. A tensor that cannot be
    viewed (not on the CPU, an unusual dtype) gives a copy, ``tensor.numpy()``."""
    import paddle

    tensor = tensor.detach()  # a parameter refuses DLPack; its detached alias does not
    if hasattr(paddle.Tensor, "__dlpack__"):
        return np.from_dlpack(tensor)
    dtype = _NUMPY_DTYPES.get(str(tensor.dtype))
    if dtype is None or not tensor.place.is_cpu_place():
        return tensor.numpy()
    return np.asarray(_ArrayInterface(tensor, dtype))


_NUMPY_DTYPES = {"paddle.float32": np.float32, "paddle.float64": np.float64, "paddle.float16": np.float16,
                 "paddle.int64": np.int64, "paddle.int32": np.int32, "paddle.int8": np.int8,
                 "paddle.uint8": np.uint8, "paddle.bool": np.bool_}


class _ArrayInterface:
    """numpy's array interface over a dense CPU tensor's memory (holds the tensor)."""

    def __init__(self, tensor, dtype) -> None:
        self.tensor = tensor
        self.__array_interface__ = {"data": (tensor.data_ptr(), False), "shape": tuple(tensor.shape),
                                    "typestr": np.dtype(dtype).str, "version": 3}


def disable_onednn(config: Any) -> None:
    """Turn oneDNN off in a ``paddle.inference.Config``: ``disable_onednn`` on Paddle 3, whose
    2.6 name is ``disable_mkldnn``."""
    if hasattr(config, "disable_onednn"):
        config.disable_onednn()
    else:
        config.disable_mkldnn()


def adam_amsgrad(optimizer: Any) -> bool:
    """Whether a ``paddle.optimizer.Adam`` runs the AMSGrad variant (Paddle 2.6 has none)."""
    return bool(getattr(optimizer, "_amsgrad", False))
