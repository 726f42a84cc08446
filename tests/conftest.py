"""Shared pytest fixtures."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# the slow, notebook-style reference (benchmarks/notebook_reference.py) that tests compare against
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (override with SRGNN_SHARED_DATA)."""
    return Path(os.environ.get("SRGNN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real public data folder; skips the test when it is absent (a user's clone)."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path
