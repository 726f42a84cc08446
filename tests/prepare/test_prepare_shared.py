"""Preparation on the real public files in ../shared/data (skipped when the folder is absent)."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from srgnn_paddle import augment_prefixes
from srgnn_paddle.cli import main
from srgnn_paddle.data.sessions import load_session_pickles

BEAUTY_SHA256 = "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8"
SAMPLE_SHA256 = "98da96e05c87ef12b739e4bfd9bc7b4864106ee77371f1db9eb4413e3f78d37e"


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


def _sessions_from_pairs(sequences, labels):
    """Undo the augmentation: each session starts with its longest prefix."""
    sessions, i = [], 0
    while i < len(sequences):
        session = sequences[i] + [labels[i]]
        sessions.append(session)
        i += len(session) - 1
    return sessions


@pytest.mark.slow
def test_published_diginetica_statistics(shared_data):
    folder = _need(shared_data / "diginetica")
    data = load_session_pickles(folder)
    assert len(data.train_sessions) == 186_670
    sequences, labels = augment_prefixes(data.train_sessions)
    assert len(sequences) == len(labels) == 719_470
    # sessions [1, 2], [3, 4, 5], [6, 7], ...: longest prefix first
    assert sequences[:4] == [[1], [3, 4], [3], [6]] and labels[:4] == [2, 5, 4, 7]
    test_sequences, test_labels = data.test
    assert len(test_sequences) == 60_858
    items = {i for s in data.train_sessions for i in s}
    assert len(items) == 43_097 and min(items) == 1 and max(items) == 43_097
    assert data.n_items == 43_098
    assert {i for s in test_sequences for i in s} | set(test_labels) <= items
    # the test file is itself the augmentation of whole sessions: rebuild them
    test_sessions = _sessions_from_pairs(test_sequences, test_labels)
    assert augment_prefixes(test_sessions) == (test_sequences, test_labels)
    train_clicks = sum(map(len, data.train_sessions))
    test_clicks = sum(map(len, test_sessions))
    assert train_clicks + test_clicks == 982_961  # the paper's click count
    # "average length 5.12": the mean length of the augmented sequences counting the label,
    # over train and test together (clicks per session would be 4.85)
    lengths = np.fromiter((len(s) + 1 for s in sequences + test_sequences), dtype=np.int64)
    assert 5.12 <= lengths.mean() < 5.13
    assert round(lengths.mean(), 4) == 5.1251
    assert round((train_clicks + test_clicks) / (len(data.train_sessions) + len(test_sessions)), 2) == 4.85


def test_diginetica_sample_through_the_diginetica_path(shared_data, tmp_path, capsys):
    raw = _need(shared_data / "diginetica_sample" / "sample_train-item-views.csv")
    out = tmp_path / "dig"
    assert main(["prepare", "diginetica", "--input", str(raw), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "paper protocol" in printed and "1,205 sequences" in printed
    meta = json.loads((out / "meta.json").read_text())
    assert meta["source"]["sha256"] == SAMPLE_SHA256
    assert meta["counts"]["read"] == {"clicks": 12_391, "sessions": 2_986, "items": 7_139}
    # the same numbers as the published SR-GNN preprocess.py on this file
    assert meta["counts"]["train"]["sessions"] == 469 and meta["counts"]["train"]["sequences"] == 1_205
    assert meta["counts"]["test"]["sessions"] == 39 and meta["counts"]["test"]["sequences"] == 99
    assert meta["items"] == 309 and meta["n_items"] == 310
    with open(out / "all_train_seq.txt", "rb") as handle:
        sessions = pickle.load(handle)
    with open(out / "train.txt", "rb") as handle:
        assert pickle.load(handle) == augment_prefixes(sessions)
    data = load_session_pickles(out)
    assert data.n_items == 310 and len(data.test[0]) == 99
    ids = {i for s in sessions for i in s}
    assert ids == set(range(1, 310))


def test_beauty_becomes_a_notebook_triple(shared_data, tmp_path, capsys):
    raw = _need(shared_data / "amazon_beauty" / "Beauty.txt")
    out = tmp_path / "beauty"
    assert main(["prepare", "amazon-seq", "--input", str(raw), "--output", str(out)]) == 0
    assert "notebook protocol" in capsys.readouterr().out
    meta = json.loads((out / "meta.json").read_text())
    assert meta["source"]["sha256"] == BEAUTY_SHA256
    n_items = meta["n_items"]
    frames = {name: pd.read_csv(out / f"{name}_enc.csv") for name in ("train", "valid", "test")}
    users = {name: set(df["user_id"]) for name, df in frames.items()}
    assert not users["train"] & users["valid"] and not users["train"] & users["test"]
    assert not users["valid"] & users["test"]
    every = pd.concat(frames.values(), ignore_index=True)
    assert list(every.columns) == ["user_id", "item_id", "timestamp"]
    assert every["item_id"].min() >= 1 and every["item_id"].max() < n_items
    assert every.groupby("user_id").size().min() >= 5
    # Beauty is already 5-core: nothing is filtered out
    assert (len(every), every["user_id"].nunique(), every["item_id"].nunique()) == (198_502, 22_363, 12_101)
    assert n_items == 12_102
    assert {k: len(v) for k, v in users.items()} == {"train": 17_891, "valid": 2_236, "test": 2_236}
    assert [len(df) for df in frames.values()] == [158_411, 20_047, 20_044]


@pytest.mark.slow
def test_prepared_real_folders_train(shared_data, tmp_path, capsys):
    """The prepared Beauty triple and DIGINETICA sample folder are accepted by train (one epoch)."""
    beauty = _need(shared_data / "amazon_beauty" / "Beauty.txt")
    sample = _need(shared_data / "diginetica_sample" / "sample_train-item-views.csv")
    assert main(["prepare", "amazon-seq", "--input", str(beauty), "--output", str(tmp_path / "beauty")]) == 0
    assert main(["prepare", "diginetica", "--input", str(sample), "--output", str(tmp_path / "dig")]) == 0
    common = ["--exp_dir", str(tmp_path / "exp"), "--epochs", "1", "--quiet", "--no-tsne"]
    assert main(["train", "--data_dir", str(tmp_path / "beauty"), "--lr", "0.001", *common]) == 0
    summary = json.loads(next((tmp_path / "exp" / "beauty_softmax").rglob("summary.json")).read_text())
    assert summary["epochs_run"] == 1 and 0.0 <= summary["test"]["recall@50"] <= 1.0
    assert main(["train", "--protocol", "paper", "--data_dir", str(tmp_path / "dig"), "--embedding_dim", "16",
                 *common]) == 0
    summary = json.loads(next((tmp_path / "exp" / "dig_paper").rglob("summary.json")).read_text())
    assert summary["epochs_run"] == 1 and 0.0 <= summary["test"]["P@20"] <= 100.0
    capsys.readouterr()
