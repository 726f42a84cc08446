"""The paper protocol's validation split by whole sessions (``valid_split: sessions``): the
most recent sessions, none of whose pairs is trained on, holding ``valid_portion`` of the
pairs; the refit trains on both sides. On generated session pickles."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import pandas as pd
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.data import split_recent_sessions
from srgnn_paddle.data.sessions import augment_prefixes, write_pickle, write_session_pickles
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.runs import load_data

N_ITEMS = 31


def _sessions(seed: int, count: int) -> List[List[int]]:
    """``count`` sessions of 2..9 items (ids 1..30), repeats inside a session included."""
    rng = np.random.default_rng(seed)
    return [rng.integers(1, N_ITEMS, size=int(rng.integers(2, 10))).tolist() for _ in range(count)]


def _pair_sessions(sessions: List[List[int]]) -> np.ndarray:
    """The session of every augmented pair, counted independently of the package."""
    return np.repeat(np.arange(len(sessions)), [len(s) - 1 for s in sessions])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """all_train_seq.txt and test.txt only (as the GCE-GNN folders): pairs built on load."""
    root = tmp_path_factory.mktemp("split") / "gen"
    root.mkdir()
    write_pickle(root / "all_train_seq.txt", _sessions(0, 60))
    write_pickle(root / "test.txt", augment_prefixes(_sessions(1, 8)))
    return root


def _load(folder: Path, **values):
    return load_data(load_config(None, {"protocol": "paper", **values}), folder)


@pytest.mark.parametrize("portion", [0.05, 0.1, 0.25, 0.5])
def test_whole_recent_sessions_hold_the_share(folder, portion):
    sessions = _sessions(0, 60)
    owner = _pair_sessions(sessions)
    data = _load(folder, valid_split="sessions", valid_portion=portion)
    train_idx, valid_idx = data.train.indices, data.valid.indices
    assert data.train.base is data.valid.base  # views of the one augmented pair list
    assert np.array_equal(np.sort(np.r_[train_idx, valid_idx]), np.arange(len(owner)))
    train_sessions, valid_sessions = set(owner[train_idx]), set(owner[valid_idx])
    assert not train_sessions & valid_sessions  # no session on both sides
    first = min(valid_sessions)
    assert valid_sessions == set(range(first, len(sessions)))  # the last sessions
    assert train_sessions == set(range(first))
    target = int(round(portion * len(owner)))
    assert target <= len(valid_idx) < target + len(sessions[first]) - 1  # the share, up to one session
    # the held-out pairs are those sessions' augmentation, in order
    seqs, labels = augment_prefixes(sessions[first:])
    hist, mask, label = data.valid.make_batch(np.arange(len(valid_idx)))
    assert label.tolist() == labels
    assert [row[: int(m.sum())].tolist() for row, m in zip(hist, mask)] == seqs


def test_the_default_stays_the_seeded_pair_split(folder):
    assert Config().valid_split == "pairs" and load_config(None, {"protocol": "paper"}).valid_split == "pairs"
    owner = _pair_sessions(_sessions(0, 60))
    data = _load(folder)
    assert len(data.valid) == int(round(0.1 * len(owner)))
    # the official split's leak: prefixes of held-out pairs' sessions are trained on
    assert set(owner[data.train.indices]) & set(owner[data.valid.indices])


def test_train_txt_folders_split_the_same_sessions(folder, tmp_path):
    """A folder with train.txt (the published DIGINETICA layout) recovers the sessions from
    the pairs and holds out the same ones."""
    other = tmp_path / "with_train"
    sessions = _sessions(0, 60)
    write_session_pickles(other, sessions, augment_prefixes(sessions), augment_prefixes(_sessions(1, 8)))
    a, b = _load(folder, valid_split="sessions"), _load(other, valid_split="sessions")
    assert np.array_equal(a.valid.indices, b.valid.indices)


def test_refit_trains_on_both_sides(folder):
    sessions = _sessions(0, 60)
    data = _load(folder, valid_split="sessions", refit=True)
    seqs, labels = augment_prefixes(sessions)
    assert len(data.train_all) == len(data.train) + len(data.valid) == len(labels)
    assert data.train_all.labels.tolist() == labels
    assert data.train_all.sessions().lengths().tolist() == [len(s) for s in sessions]


def test_count_models_and_targets_all_see_only_training_sessions(folder):
    sessions = _sessions(0, 60)
    data = _load(folder, valid_split="sessions")
    first = int(_pair_sessions(sessions)[data.valid.indices].min())
    table = data.train.sessions()  # what pop / spop / itemknn / sknn count
    assert len(table) == first
    assert np.array_equal(table.items, np.concatenate([np.asarray(s) for s in sessions[:first]]))
    every = _load(folder, valid_split="sessions", targets="all")
    assert every.train.n_targets == len(data.train)  # each training pair once, no held-out position
    assert len(every.train) == first


def test_split_recent_sessions_edges():
    groups = np.array([0, 0, 0, 1, 2, 2])
    assert [a.tolist() for a in split_recent_sessions(groups, 0.0)] == [[0, 1, 2, 3, 4, 5], []]
    assert [a.tolist() for a in split_recent_sessions(groups, 1 / 6)] == [[0, 1, 2, 3], [4, 5]]
    assert [a.tolist() for a in split_recent_sessions(groups, 0.5)] == [[0, 1, 2], [3, 4, 5]]
    assert [a.tolist() for a in split_recent_sessions(groups, 0.6)] == [[], [0, 1, 2, 3, 4, 5]]


def test_a_share_that_takes_every_session_is_one_error(tmp_path):
    root = tmp_path / "two"
    root.mkdir()
    write_pickle(root / "all_train_seq.txt", [list(range(1, 12)), [1, 2]])  # 10 pairs, then 1
    write_pickle(root / "test.txt", augment_prefixes([[3, 4, 5]]))
    with pytest.raises(SrgnnError, match="valid_split sessions holds out every training session"):
        _load(root, valid_split="sessions", valid_portion=0.2)
    assert len(_load(root, valid_split="pairs", valid_portion=0.2).train) == 9


@pytest.mark.slow
@pytest.mark.cli
def test_train_with_the_session_split_and_refit(folder, tmp_path, capsys):
    exp = tmp_path / "exp"
    argv = ["train", "--protocol", "paper", "--model", "stamp", "--data_dir", str(folder), "--exp_dir", str(exp),
            "--valid_split", "sessions", "--refit", "--epochs", "1", "--embedding_dim", "8", "--quiet", "--no-tsne",
            "--cpu_threads", "1"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    data = _load(folder, valid_split="sessions")
    n = len(data.train) + len(data.valid)
    assert f"{len(data.train)} training samples, {len(data.valid)} validation" in out
    assert f"refit: stamp on {n} training + validation samples" in out
    run = exp / "gen_paper" / "STAMP_0.001_100_8"
    assert load_config(run / "config.yaml").valid_split == "sessions"
    assert pd.read_csv(run / "log.csv")["phase"].tolist() == ["valid", "test", "test_refit"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["refit_epochs"] == 1 and set(summary["test_refit"]) == set(summary["test"])


def test_a_bad_choice_is_refused():
    with pytest.raises(SrgnnError, match="'valid_split' must be one of pairs, sessions"):
        Config().replace(valid_split="users")
