"""Atomic file output: write to a temporary name in the same folder, then rename.

A crash or Ctrl-C in the middle of a write therefore never leaves a half-written file under
the final name. A write that fails for lack of space or permission (a full disk, a
read-only folder) raises :class:`~srgnn_paddle.errors.SrgnnError` naming the file; the file
it would have replaced stays as it was (so a run's last complete checkpoint stays loadable).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, Union

import numpy as np

from srgnn_paddle.errors import SrgnnError

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    The temporary file is removed when the block raises.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
    except OSError as exc:
        raise write_error(final, exc) from None
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        if isinstance(exc, OSError):
            raise write_error(final, exc) from None
        raise


def write_error(path: Path, exc: OSError) -> SrgnnError:
    """The one-line error of a failed write of ``path`` (no space left, read-only, ...)."""
    reason = exc.strerror or type(exc).__name__
    remedy = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space",
              errno.EROFS: "write to a writable folder", errno.EACCES: "write to a folder you may write to",
              errno.EPERM: "write to a folder you may write to"}.get(exc.errno, "check the folder")
    return SrgnnError(f"{path}: cannot be written ({reason}); {remedy}, then run the command again "
                      f"(training: add --resume to continue from the last complete checkpoint)")


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_npy(path: PathLike, array: np.ndarray) -> None:
    """Write ``array`` as a ``.npy`` file (``np.save``, no pickles) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a handle: np.save would add ".npy" to a name
        np.save(handle, np.asarray(array), allow_pickle=False)


@contextlib.contextmanager
def atomic_directory(path: PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; it replaces ``path`` if the block succeeds.

    When the block raises, the temporary folder is deleted and ``path`` is left untouched,
    so no partial output folder is ever visible under the final name.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    except OSError as exc:
        raise write_error(final, exc) from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private (0700); the output is an ordinary folder
    try:
        yield tmp
        if final.exists():
            if not overwrite:
                raise FileExistsError(f"{final} already exists")
            backup = final.with_name(f".{final.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(final, backup)
            os.replace(tmp, final)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_of(path: PathLike) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json_object(path: PathLike, remedy: str) -> Dict[str, Any]:
    """The JSON object in ``path`` (``{}`` when the file is absent or holds no object);
    SrgnnError ``"<path>: not valid JSON; <remedy>"`` when it does not parse."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        raise SrgnnError(f"{path}: not valid JSON; {remedy}") from None
    return value if isinstance(value, dict) else {}
