"""``prepare amazon-seq --protocol paper``: user sequences split leave-last-out into the
paper's pickles with a ``valid.txt``, on generated files (and on the real Beauty.txt in
test_prepare_shared.py)."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from srgnn_paddle.cli import main
from srgnn_paddle.config import load_config
from srgnn_paddle.data.sessions import augment_prefixes, load_session_pickles
from srgnn_paddle.protocols import get_protocol

FILES = ("all_train_seq.txt", "train.txt", "valid.txt", "test.txt", "item_map.csv", "user_map.csv", "meta.json")


def _prepare(capsys, raw: Path, out: Path, *extra: str):
    code = main(["prepare", "amazon-seq", "--protocol", "paper", "--input", str(raw), "--output", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _load(path: Path):
    with open(path, "rb") as handle:
        return pickle.load(handle)


def test_hand_made_users_go_where_the_protocol_says(tmp_path, capsys):
    # item ids 10, 20, ... encode to 1, 2, ... (the order of the original ids)
    raw = tmp_path / "Beauty.txt"
    raw.write_text("u1 10 20 30 40 50\n"   # -> 1 2 3 4 5
                   "u2 60 10 70\n"          # -> 6 1 7: 3 items, no training pair
                   "u3 20 30\n"             # 2 items: dropped
                   "u4 30 40 60 70\n")      # -> 3 4 6 7
    code, out, _ = _prepare(capsys, raw, tmp_path / "out")
    assert code == 0 and "1 users dropped" in out
    folder = tmp_path / "out"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert _load(folder / "test.txt") == ([[1, 2, 3, 4], [6, 1], [3, 4, 6]], [5, 7, 7])
    assert _load(folder / "valid.txt") == ([[1, 2, 3], [6], [3, 4]], [4, 1, 6])
    assert _load(folder / "all_train_seq.txt") == [[1, 2, 3], [3, 4]]
    assert _load(folder / "train.txt") == ([[1, 2], [1], [3]], [3, 2, 4])
    assert (folder / "item_map.csv").read_text().splitlines()[1:3] == ["10,1", "20,2"]
    assert (folder / "user_map.csv").read_text().splitlines()[1:] == ["u1,1", "u2,2", "u4,3"]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["protocol"] == "paper" and meta["split"]["method"] == "leave-last-out per user"
    assert (meta["n_items"], meta["items"], meta["users"]) == (8, 7, 3)
    assert meta["counts"]["train"]["sequences"] == 3 and meta["counts"]["filtered"]["users_dropped"] == 1
    code, _, _ = _prepare(capsys, raw, tmp_path / "last", "--train_pairs", "last")
    assert code == 0 and _load(tmp_path / "last" / "train.txt") == ([[1, 2], [3]], [3, 4])


def _random_file(path: Path, seed: int, n_users: int = 60, n_items: int = 40) -> Path:
    rng = np.random.default_rng(seed)
    lines = [" ".join(map(str, [f"user{u}", *rng.integers(1, n_items + 1, rng.integers(3, 12))]))
             for u in range(n_users)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_user_is_split_leave_last_out_and_reruns_are_identical(tmp_path, capsys):
    raw = _random_file(tmp_path / "seq.txt", seed=1)
    assert _prepare(capsys, raw, tmp_path / "a")[0] == 0
    assert _prepare(capsys, raw, tmp_path / "b")[0] == 0
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    data = load_session_pickles(tmp_path / "a")
    users = [line.split()[1:] for line in raw.read_text().splitlines()]
    original = dict(line.split(",") for line in (tmp_path / "a" / "item_map.csv").read_text().splitlines()[1:])
    decode = {int(v): k for k, v in original.items()}
    # each user, in file order: test = all items but the last -> the last; valid = one item fewer
    assert [[decode[i] for i in prefix + [label]] for prefix, label in zip(*data.test)] == users
    assert [prefix + [label] for prefix, label in zip(*data.valid)] == data.test[0]
    # training sessions = the validation prefixes (2 items or more); pairs = their prefixes
    assert data.train_sessions == [prefix for prefix in data.valid[0] if len(prefix) >= 2]
    assert augment_prefixes(data.train_sessions) == data.train


def test_the_folder_trains_with_its_own_validation_split(tmp_path, capsys):
    raw = _random_file(tmp_path / "seq.txt", seed=2)
    assert _prepare(capsys, raw, tmp_path / "beauty")[0] == 0
    data = get_protocol("paper").load_data(load_config(None, {"protocol": "paper"}), tmp_path / "beauty")
    meta = json.loads((tmp_path / "beauty" / "meta.json").read_text())
    assert len(data.train) == meta["counts"]["train"]["sequences"] and len(data.valid) == meta["users"]
    assert data.n_items == meta["n_items"]
    exp = tmp_path / "exp"
    assert main(["train", "--protocol", "paper", "--model", "gru4rec", "--targets", "all", "--data_dir",
                 str(tmp_path / "beauty"), "--exp_dir", str(exp), "--epochs", "1", "--embedding_dim", "8",
                 "--quiet", "--no-tsne"]) == 0
    assert (exp / "beauty_paper" / "GRU4Rec_0.001_100_8_all" / "summary.json").is_file()


def test_nothing_to_train_is_one_error_line(tmp_path, capsys):
    raw = tmp_path / "short.txt"
    raw.write_text("a 1 2 3\nb 4 5 6\n")  # 3 items each: validation and test pairs, no training pair
    code, _, err = _prepare(capsys, raw, tmp_path / "out")
    assert code == 2 and err.count("\n") == 1 and "no training pair" in err
    raw.write_text("a 1 2\nb 4 5\n")
    code, _, err = _prepare(capsys, raw, tmp_path / "out")
    assert code == 2 and "no user has 3 items" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_real_beauty_statistics(shared_data, tmp_path, capsys):
    raw = shared_data / "amazon_beauty" / "Beauty.txt"
    if not raw.is_file():
        pytest.skip(f"{raw} is absent")
    assert _prepare(capsys, raw, tmp_path / "beauty")[0] == 0
    meta = json.loads((tmp_path / "beauty" / "meta.json").read_text())
    assert meta["source"]["sha256"] == "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8"
    assert (meta["users"], meta["items"], meta["n_items"]) == (22_363, 12_101, 12_102)
    counts = meta["counts"]
    assert counts["filtered"] == {"interactions": 198_502, "users": 22_363, "items": 12_101, "users_dropped": 0}
    # 198,502 interactions = 153,776 training items + 22,363 validation + 22,363 test items
    train = counts["train"]
    assert (train["sessions"], train["items"], train["sequences"]) == (22_363, 153_776, 131_413)
    assert counts["valid"] == {"sequences": 22_363, "prefix_items": 153_776}
    assert counts["test"] == {"sequences": 22_363, "prefix_items": 176_139}
    item_map = (tmp_path / "beauty" / "item_map.csv").read_text().splitlines()[1:]
    assert all(line == f"{i},{i}" for i, line in enumerate(item_map, start=1))  # Beauty's ids are already 1..n
    data = load_session_pickles(tmp_path / "beauty")
    assert data.valid[0][0] == [1, 2, 3] and data.valid[1][0] == 4
    assert data.test[0][0] == [1, 2, 3, 4] and data.test[1][0] == 5  # user 1: "1 1 2 3 4 5"
