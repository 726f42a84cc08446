"""The SR-GNN paper's session pickles: prefix augmentation, readers and writers.

Layout of a paper-protocol dataset folder (as published with SR-GNN):

* ``all_train_seq.txt``: a pickled ``list`` of training sessions, each a list of item ids
  (``1..n``, time-ordered, sessions sorted by date);
* ``train.txt``: a pickled tuple ``(sequences, labels)``, the prefix augmentation of
  ``all_train_seq.txt`` (:func:`augment_prefixes`);
* ``test.txt``: the same tuple for the test sessions;
* ``valid.txt`` (optional, not in the published folders): the same tuple for a validation
  split of the folder's own (e.g. ``prepare amazon-seq --protocol paper``: each user's
  second-to-last item). Without it, training holds out ``valid_portion`` of the training
  pairs for validation.

The files are plain pickles (protocol 4) that load with :func:`pickle.load`. The readers
here use a restricted unpickler that accepts only lists, tuples and integers, so opening a
file from an untrusted source cannot run code, and every structural problem is reported as
one :class:`~srgnn_paddle.errors.SrgnnError` line naming the file.
"""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from srgnn_paddle.data.interactions import check_table_rows
from srgnn_paddle.errors import SrgnnError

TRAIN_SESSIONS_FILE = "all_train_seq.txt"
TRAIN_FILE = "train.txt"
TEST_FILE = "test.txt"
VALID_FILE = "valid.txt"
PICKLE_PROTOCOL = 4

Sessions = List[List[int]]
Pairs = Tuple[List[List[int]], List[int]]


def augment_prefixes(sessions: Sequence[Sequence[int]]) -> Pairs:
    """The paper's prefix augmentation of time-ordered sessions.

    A session ``[s1, ..., sn]`` yields ``([s1..s(n-1)], sn), ([s1..s(n-2)], s(n-1)), ...,
    ([s1], s2)``: sessions are taken in order and, within a session, the longest prefix
    comes first. Sessions shorter than 2 yield nothing.

    Args:
        sessions: item-id sequences (lists, tuples or 1-D arrays).

    Returns:
        ``(sequences, labels)``: lists of equal length; each sequence is a new list.
    """
    sequences: List[List[int]] = []
    labels: List[int] = []
    add_sequence = sequences.append
    add_label = labels.append
    for session in sessions:
        items = session if isinstance(session, list) else _as_list(session)
        for end in range(len(items) - 1, 0, -1):
            add_sequence(items[:end])
            add_label(items[end])
    return sequences, labels


def _as_list(session: Sequence[int]) -> List[int]:
    """A session as a list of Python ints (numpy arrays via ``tolist``)."""
    return session.tolist() if hasattr(session, "tolist") else list(session)


# ---------------------------------------------------------------------------- reading
class _PlainUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global: only built-in containers and scalars load."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(path: Path) -> Any:
    """Load ``path`` with :class:`_PlainUnpickler`; every failure is one SrgnnError line."""
    if not path.is_file():
        raise SrgnnError(f"{path}: file not found; a paper-protocol folder holds "
                         f"{TRAIN_SESSIONS_FILE}, {TRAIN_FILE} and {TEST_FILE}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SrgnnError(f"{path}: cannot be read ({exc.strerror or exc}); check the permissions") from None
    if not data:
        raise SrgnnError(f"{path}: file is empty; rebuild it with 'srgnn-paddle prepare'")
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        raise SrgnnError(f"{path}: not a plain pickle of lists of item ids ({exc}); "
                         f"rebuild it with 'srgnn-paddle prepare'") from None
    except Exception as exc:  # corrupt pickles raise EOFError, ValueError, KeyError, ...
        raise SrgnnError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc}); "
                         f"the file is truncated or corrupt, rebuild it with 'srgnn-paddle prepare'") from None


def _check_sequences(sequences: Any, path: Path, what: str, min_length: int) -> List[List[int]]:
    """Check a list of lists of ids >= 1, each at least ``min_length`` long."""
    if not isinstance(sequences, list):
        raise SrgnnError(f"{path}: {what} must be a list, found {type(sequences).__name__}")
    if not set(map(type, sequences)) <= {list} or min(map(len, sequences), default=min_length) < min_length:
        for index, seq in enumerate(sequences):
            if not isinstance(seq, list):
                raise SrgnnError(f"{path}: {what} #{index} must be a list of item ids, found {type(seq).__name__}")
            if len(seq) < min_length:
                raise SrgnnError(f"{path}: {what} #{index} has {len(seq)} item(s), needs at least {min_length}")
    flat = chain.from_iterable(sequences)
    _check_ids(flat, path, what, sequences)
    return sequences


def _check_ids(ids: Any, path: Path, what: str, sequences: Optional[list] = None) -> None:
    """Every id must be a Python int >= 1 (0 is padding); name the first offender."""
    values = list(ids)
    if not set(map(type, values)) <= {int} or (values and min(values) < 1):
        for position, value in enumerate(values):
            if type(value) is not int or value < 1:
                where = ""
                if sequences is not None:
                    index, offset = _locate(sequences, position)
                    where = f" #{index} position {offset}"
                raise SrgnnError(f"{path}: {what}{where} holds {value!r}; item ids must be integers >= 1 "
                                 f"(0 is reserved for padding)")


def _locate(sequences: list, position: int) -> Tuple[int, int]:
    """(sequence index, offset) of the ``position``-th id of the flattened ``sequences``."""
    for index, seq in enumerate(sequences):
        if position < len(seq):
            return index, position
        position -= len(seq)
    return len(sequences), 0


def read_session_list(path: Union[str, Path]) -> Sessions:
    """Read ``all_train_seq.txt``: a pickled list of sessions (lists of item ids >= 1).

    Raises:
        SrgnnError: missing, empty, corrupt or wrongly structured file.
    """
    p = Path(path)
    return _check_sequences(_unpickle(p), p, "session", min_length=1)


def read_sequence_pairs(path: Union[str, Path]) -> Pairs:
    """Read ``train.txt`` / ``test.txt``: a pickled ``(sequences, labels)`` tuple.

    Raises:
        SrgnnError: missing, empty, corrupt or wrongly structured file, or lengths that
            differ between sequences and labels.
    """
    p = Path(path)
    data = _unpickle(p)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise SrgnnError(f"{p}: must hold a pickled (sequences, labels) pair, found {type(data).__name__}"
                         + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
    sequences, labels = data
    _check_sequences(sequences, p, "sequence", min_length=1)
    if not isinstance(labels, list):
        raise SrgnnError(f"{p}: labels must be a list, found {type(labels).__name__}")
    if len(labels) != len(sequences):
        raise SrgnnError(f"{p}: {len(sequences)} sequences but {len(labels)} labels; they must pair up")
    _check_ids(labels, p, "label")
    return sequences, labels


@dataclass
class SessionPickles:
    """A paper-protocol dataset folder, loaded.

    Attributes:
        train_sessions: the training sessions (``all_train_seq.txt``), or ``None`` when the
            folder has only ``train.txt``.
        train: ``(sequences, labels)`` from ``train.txt``, or built with
            :func:`augment_prefixes` from ``train_sessions`` when that file is absent.
        test: ``(sequences, labels)`` from ``test.txt``.
        n_items: largest item id + 1 (row 0 is padding).
        valid: ``(sequences, labels)`` from ``valid.txt``, or ``None`` when the folder has none.
    """

    train_sessions: Optional[Sessions]
    train: Pairs
    test: Pairs
    n_items: int
    valid: Optional[Pairs] = None


def load_session_pickles(folder: Union[str, Path]) -> SessionPickles:
    """Load a paper-protocol folder (the published DIGINETICA one, or one we prepared).

    ``test.txt`` is required, and at least one of ``train.txt`` / ``all_train_seq.txt``.

    Raises:
        SrgnnError: a missing folder or file, or an unreadable or malformed pickle.
    """
    root = Path(folder)
    if not root.is_dir():
        raise SrgnnError(f"{root}: folder not found; pass a folder holding {TRAIN_SESSIONS_FILE} "
                         f"(or {TRAIN_FILE}) and {TEST_FILE}")
    sessions_path, train_path = root / TRAIN_SESSIONS_FILE, root / TRAIN_FILE
    if not sessions_path.is_file() and not train_path.is_file():
        raise SrgnnError(f"{root}: neither {TRAIN_SESSIONS_FILE} nor {TRAIN_FILE} is there; "
                         f"prepare the folder with 'srgnn-paddle prepare'")
    train_sessions = read_session_list(sessions_path) if sessions_path.is_file() else None
    if train_path.is_file():
        train = read_sequence_pairs(train_path)
    else:
        train = augment_prefixes(train_sessions)
    test = read_sequence_pairs(root / TEST_FILE)
    valid = read_sequence_pairs(root / VALID_FILE) if (root / VALID_FILE).is_file() else None
    if train_path.is_file():
        _check_rows(train_path, *train)
    else:
        _check_rows(sessions_path, train_sessions, [])
    _check_rows(root / TEST_FILE, *test)
    if valid is not None:
        _check_rows(root / VALID_FILE, *valid)
    n_items = 1 + max(
        max(max((max(seq) for seq in pairs[0]), default=0), max(pairs[1], default=0))
        for pairs in (train, test, valid) if pairs is not None
    )
    return SessionPickles(train_sessions=train_sessions, train=train, test=test, n_items=n_items, valid=valid)


def _check_rows(path: Path, sequences: Sequence[Sequence[int]], labels: Sequence[int]) -> None:
    """:func:`~srgnn_paddle.data.interactions.check_table_rows` of one pickle's ids."""
    flat = np.fromiter(chain.from_iterable(sequences), dtype=np.int64)
    ids = np.concatenate([flat, np.asarray(labels, dtype=np.int64)])
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))

    def locate(position: int) -> str:
        if position >= len(flat):
            return f"{path}: label {position - len(flat)}"
        return f"{path}: sequence {int(np.searchsorted(np.cumsum(lengths), position, side='right'))}"

    check_table_rows(ids, locate)


# ---------------------------------------------------------------------------- writing
def write_pickle(path: Union[str, Path], obj: Any) -> None:
    """Pickle ``obj`` to ``path`` (protocol 4, loads with plain :func:`pickle.load`).

    Callers write into a folder made by :func:`srgnn_paddle.fileio.atomic_directory`, so a
    failed run never leaves a partial file under the final name.
    """
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=PICKLE_PROTOCOL)


def write_session_pickles(folder: Union[str, Path], train_sessions: Sessions, train: Pairs, test: Pairs,
                          valid: Optional[Pairs] = None) -> None:
    """Write the published layout (``all_train_seq.txt``, ``train.txt``, ``test.txt``) into
    ``folder``, and ``valid.txt`` when ``valid`` is given."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    write_pickle(root / TRAIN_SESSIONS_FILE, train_sessions)
    write_pickle(root / TRAIN_FILE, (train[0], train[1]))
    write_pickle(root / TEST_FILE, (test[0], test[1]))
    if valid is not None:
        write_pickle(root / VALID_FILE, (valid[0], valid[1]))
