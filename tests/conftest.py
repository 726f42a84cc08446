"""Shared pytest fixtures and markers. The tests are laid out like the package (tests/models/,
tests/data/, tests/prepare/, tests/training/, tests/evaluation/, tests/protocols/, tests/serving/),
plus tests/cli/ (the commands, install scripts, configuration) and tests/notebooks/."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# the slow, notebook-style reference (benchmarks/notebook_reference.py) that tests compare against
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))


def pytest_configure(config: pytest.Config) -> None:
    """The suite's markers: ``pytest -m "not slow"`` is the quick loop (under a minute)."""
    config.addinivalue_line("markers", "slow: a test that takes about a second or more (real processes, "
                                       "training runs, notebooks); deselect with -m 'not slow'")
    config.addinivalue_line("markers", "cli: runs a command of the command line (in-process or as a real process)")
    config.addinivalue_line("markers", "notebook: executes a notebook in a fresh kernel")


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (override with SRGNN_SHARED_DATA)."""
    return Path(os.environ.get("SRGNN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def write_paper_folder(folder: Path, train: List[List[int]], test: List[List[int]]) -> Path:
    """A generated dataset folder in the GCE-GNN authors' layout: ``all_train_seq.txt`` holds
    the ``train`` sessions, ``test.txt`` the prefix pairs of the ``test`` sessions."""
    from srgnn_paddle.data.sessions import augment_prefixes, write_pickle

    folder.mkdir(parents=True)
    write_pickle(folder / "all_train_seq.txt", train)
    write_pickle(folder / "test.txt", augment_prefixes(test))
    return folder


@pytest.fixture
def shared_data() -> Path:
    """The real public data folder; skips the test when it is absent (a user's clone)."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path
