"""Dataset preparation on small hand-made raw files in every format (no real data needed)."""
from __future__ import annotations

import itertools
import json
import os
import pickle
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
import pytest

import srgnn_paddle
from srgnn_paddle.cli import main
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.prepare import PrepareOptions, paper_split, prepare_dataset, read_raw, yoochoose_fraction
from srgnn_paddle.data.sessions import augment_prefixes, load_session_pickles, read_sequence_pairs, read_session_list

REPO = Path(__file__).resolve().parents[2]
TRIPLE = ("train_enc.csv", "valid_enc.csv", "test_enc.csv")


# ============================================================================ helpers
def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _run(capsys, *args: str) -> Tuple[int, str, str]:
    code = main(["prepare", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _interactions(n_users: int = 40, n_items: int = 30, seed: int = 0, most: int = 12) -> pd.DataFrame:
    """Random ratings: user, item, rating (1..5), time; users have 3..``most`` interactions."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        for k in range(int(rng.integers(3, most + 1))):
            rows.append((user, int(rng.integers(1, n_items + 1)) * 7, int(rng.integers(1, 6)),
                         1_000_000 + int(rng.integers(0, 10_000))))
    return pd.DataFrame(rows, columns=["user", "item", "rating", "time"])


def _load_triple(folder: Path) -> Dict[str, pd.DataFrame]:
    return {name: pd.read_csv(folder / name) for name in TRIPLE}


def _decode(folder: Path) -> pd.DataFrame:
    """All splits joined back to the original ids through item_map.csv / user_map.csv."""
    triple = pd.concat(_load_triple(folder).values(), ignore_index=True)
    items = pd.read_csv(folder / "item_map.csv")
    users = pd.read_csv(folder / "user_map.csv")
    out = triple.merge(items, on="item_id", how="left").merge(users, on="user_id", how="left")
    assert out["original_item_id"].notna().all() and out["original_user_id"].notna().all()
    return out


def _no_leftovers(parent: Path) -> None:
    """No temporary folders from atomic_directory are left next to the output."""
    assert not [p.name for p in parent.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


# ---------------------------------------------------------------------------- reference
def _reference_paper(rows: List[Tuple[int, int, int, int]], min_count: int, test_days: int,
                     keep_split_day: bool = False) -> Tuple[List[List[int]], List[List[int]], Dict[int, int]]:
    """The published SR-GNN preprocessing written with plain loops (rows: session, item, time, date).

    An independent restatement used to check the vectorised pandas version.
    """
    clicks: Dict[int, List[Tuple[int, int]]] = {}
    date: Dict[int, int] = {}
    for session, item, time, day in rows:
        clicks.setdefault(session, []).append((item, time))
        date[session] = day  # the session's date: its last row in file order
    sessions = {s: [i for i, _ in sorted(c, key=lambda x: x[1])] for s, c in clicks.items()}
    sessions = {s: seq for s, seq in sessions.items() if len(seq) > 1}
    counts: Dict[int, int] = {}
    for seq in sessions.values():
        for item in seq:
            counts[item] = counts.get(item, 0) + 1
    kept = {}
    for s, seq in sessions.items():
        seq = [i for i in seq if counts[i] >= min_count]
        if len(seq) >= 2:
            kept[s] = seq
    last = max(date[s] for s in kept)
    split = last - test_days * 86400
    order = sorted(kept, key=lambda s: date[s])  # stable: ties keep first appearance
    train_ids = [s for s in order if (date[s] <= split if keep_split_day else date[s] < split)]
    test_ids = [s for s in order if date[s] > split]
    codes: Dict[int, int] = {}
    train = []
    for s in train_ids:
        for item in kept[s]:
            codes.setdefault(item, len(codes) + 1)
        train.append([codes[i] for i in kept[s]])
    test = []
    for s in test_ids:
        seq = [codes[i] for i in kept[s] if i in codes]
        if len(seq) >= 2:
            test.append(seq)
    return train, test, codes


def _click_rows(seed: int, n_sessions: int = 400, n_items: int = 60, days: int = 20) -> List[Tuple[int, int, int, int]]:
    """Random sessions (session, item, timeframe, day in seconds), rows shuffled within sessions."""
    rng = np.random.default_rng(seed)
    rows = []
    base = 1_451_606_400  # 2016-01-01
    for s in rng.permutation(np.arange(1, n_sessions + 1)):
        day = base + int(rng.integers(0, days)) * 86400
        length = int(rng.integers(1, 8))
        popular = rng.zipf(1.6, size=length) % n_items + 1
        times = rng.permutation(length) * 1000 + rng.integers(0, 3, size=length)  # some ties
        for item, time in zip(popular, times):
            rows.append((int(s), int(item) * 10, int(time), day))
    return rows


def _day(seconds: int) -> str:
    return pd.Timestamp(seconds, unit="s").strftime("%Y-%m-%d")


def _diginetica_file(path: Path, rows: List[Tuple[int, int, int, int]]) -> Path:
    lines = ["session_id;user_id;item_id;timeframe;eventdate"]
    lines += [f"{s};NA;{i};{t};{_day(d)}" for s, i, t, d in rows]
    return _write(path, "\n".join(lines) + "\n")


def _yoochoose_rows(seed: int, n_sessions: int = 600, n_items: int = 50, days: int = 6):
    """(session, item, ms, seconds) rows: sessions at random times, clicks a minute apart."""
    rng = np.random.default_rng(seed)
    start = 1_396_310_400_000  # 2014-04-01 UTC, in ms
    rows = []
    for s in range(1, n_sessions + 1):
        t0 = start + int(rng.integers(0, days * 86400_000))
        for k in range(int(rng.integers(1, 7))):
            ms = t0 + k * 60_000 + int(rng.integers(0, 999))
            rows.append((s, int(rng.zipf(1.5) % n_items + 1) + 214_000_000, ms, ms // 1000))
    return rows


def _yoochoose_file(path: Path, rows) -> Path:
    def iso(ms: int) -> str:
        return pd.Timestamp(ms, unit="ms").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return _write(path, "".join(f"{s},{iso(ms)},{i},0\n" for s, i, ms, _ in rows))


# ============================================================================ augmentation
def test_augment_prefixes_hand_made():
    seqs, labels = augment_prefixes([[1, 2, 3, 4], [5], [6, 7], []])
    assert seqs == [[1, 2, 3], [1, 2], [1], [6]]
    assert labels == [4, 3, 2, 7]
    assert augment_prefixes([]) == ([], [])
    seqs, labels = srgnn_paddle.augment_prefixes([np.array([3, 1, 3]), (9, 8)])
    assert seqs == [[3, 1], [3], [9]] and labels == [3, 1, 8]
    assert all(type(x) is int for s in seqs for x in s)


def test_augment_prefixes_copies():
    session = [1, 2, 3]
    seqs, _ = augment_prefixes([session])
    seqs[0].append(99)
    assert session == [1, 2, 3]


# ============================================================================ notebook protocol
@pytest.mark.parametrize("layout", ["dat", "csv", "udata"])
def test_movielens_layouts_detected_and_equal(tmp_path, capsys, layout):
    df = _interactions()
    rows = df[["user", "item", "rating", "time"]].itertuples(index=False)
    if layout == "dat":
        raw = _write(tmp_path / "ratings.dat", "".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in rows))
    elif layout == "csv":
        raw = _write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n"
                     + "".join(f"{u},{i},{r}.0,{t}\n" for u, i, r, t in rows))
    else:
        raw = _write(tmp_path / "u.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    code, out, err = _run(capsys, "movielens", "--input", raw, "--output", tmp_path / "out")
    assert code == 0, err
    assert "train" in out and "n_items" in out
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["layout"] == layout
    # the same data in every layout gives the same triple
    reference = tmp_path / "ref"
    udata = _write(tmp_path / "ref.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in
                                                 df.itertuples(index=False)))
    prepare_dataset("movielens", udata, reference, PrepareOptions(layout="udata"))
    for name in TRIPLE + ("item_map.csv", "user_map.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (reference / name).read_bytes()


def test_notebook_triple_filters_encoding_and_split(tmp_path):
    df = _interactions(n_users=60, n_items=40, seed=3, most=25)
    raw = _write(tmp_path / "u.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in df.itertuples(index=False)))
    out = tmp_path / "ml"
    meta = prepare_dataset("movielens", raw, out, PrepareOptions(rating_threshold=3, min_item_count=4,
                                                                 min_user_count=5, seed=7))
    triple = _load_triple(out)
    for frame in triple.values():
        assert list(frame.columns) == ["user_id", "item_id", "timestamp"]
        assert (frame.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing)).all()
    every = pd.concat(triple.values(), ignore_index=True)
    # k-core: after filtering, every item and every user meets its minimum
    assert every.groupby("item_id").size().min() >= 4
    assert every.groupby("user_id").size().min() >= 5
    # encoding: items 1..n with no gap, 0 never used; n_items = n + 1
    n = every["item_id"].nunique()
    assert sorted(every["item_id"].unique()) == list(range(1, n + 1))
    assert meta["n_items"] == n + 1 and meta["items"] == n
    # users: disjoint, 8:1:1 by count
    users = {name: set(frame["user_id"]) for name, frame in triple.items()}
    assert not (users["train_enc.csv"] & users["valid_enc.csv"])
    assert not (users["train_enc.csv"] & users["test_enc.csv"])
    assert not (users["valid_enc.csv"] & users["test_enc.csv"])
    total = sum(map(len, users.values()))
    assert len(users["valid_enc.csv"]) == len(users["test_enc.csv"]) == total // 10
    assert meta["splits"]["train"]["users"] == total - 2 * (total // 10)
    assert sum(s["interactions"] for s in meta["splits"].values()) == len(every) == meta["interactions"]
    # item map round trip: decoding gives exactly the filtered raw interactions
    decoded = _decode(out)
    expected = df[df["rating"] >= 3]
    for _ in range(10):  # the k-core filter, restated
        expected = expected[expected.groupby("item")["item"].transform("size") >= 4]
        expected = expected[expected.groupby("user")["user"].transform("size") >= 5]
    got = sorted(zip(decoded["original_user_id"], decoded["original_item_id"], decoded["timestamp"]))
    assert got == sorted(zip(expected["user"], expected["item"], expected["time"]))
    item_map = pd.read_csv(out / "item_map.csv")
    assert list(item_map.columns) == ["original_item_id", "item_id"]
    assert item_map["original_item_id"].is_monotonic_increasing  # encoded in original-id order
    assert meta["filters"] == {"rating_threshold": 3.0, "min_item_count": 4, "min_user_count": 5}
    assert meta["seed"] == 7 and len(meta["source"]["sha256"]) == 64


def test_kcore_filter_iterates(tmp_path):
    # item 9 is seen by one user only; removing it leaves user 2 with 4 items, so user 2 goes too
    lines = []
    for user in range(1, 13):
        items = [1, 2, 3, 4, 5] if user != 2 else [1, 2, 3, 4, 9]
        lines.append(f"{user} " + " ".join(map(str, items)))
    raw = _write(tmp_path / "seq.txt", "\n".join(lines) + "\n")
    meta = prepare_dataset("amazon-seq", raw, tmp_path / "out", PrepareOptions(min_item_count=2))
    assert meta["users"] == 11 and meta["items"] == 5 and meta["filter_rounds"] == 2
    decoded = _decode(tmp_path / "out")
    assert 2 not in set(decoded["original_user_id"])


def test_determinism_and_seed(tmp_path):
    df = _interactions(n_users=50, seed=5)
    raw = _write(tmp_path / "u.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in df.itertuples(index=False)))
    prepare_dataset("movielens", raw, tmp_path / "a")
    prepare_dataset("movielens", raw, tmp_path / "b")
    prepare_dataset("movielens", raw, tmp_path / "c", PrepareOptions(seed=1))
    for name in TRIPLE + ("item_map.csv", "user_map.csv", "meta.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "test_enc.csv").read_bytes() != (tmp_path / "c" / "test_enc.csv").read_bytes()


def test_amazon_seq_positions_and_string_ids(tmp_path):
    lines = [f"u{k} " + " ".join(f"B0{(k * 3 + j) % 11:02d}" for j in range(5 + k % 3)) for k in range(20)]
    raw = _write(tmp_path / "seq.txt", "\n".join(lines) + "\n\n")
    frame = read_raw("amazon-seq", raw)
    assert frame["time"].tolist()[:6] == [0, 1, 2, 3, 4, 0]
    prepare_dataset("amazon-seq", raw, tmp_path / "out")
    decoded = _decode(tmp_path / "out")
    first = decoded[decoded["original_user_id"] == "u0"].sort_values("timestamp")
    assert first["original_item_id"].tolist() == lines[0].split()[1:]
    assert first["timestamp"].tolist() == list(range(5))


def test_interactions_csv_columns_dates_and_ratings(tmp_path):
    rows = ["who;what;when;stars"]
    for user in range(12):
        for k in range(6):
            rows.append(f"user{user};item{(user + k) % 8};2021-03-{k + 1:02d} 10:00:0{user % 10};{1 + (k % 5)}")
    raw = _write(tmp_path / "log.csv", "\n".join(rows) + "\n")
    common = ["interactions-csv", "--input", raw, "--user_col", "who", "--item_col", "what", "--time_col", "when",
              "--sep", ";", "--min_user_count", "4"]
    assert main(["prepare", *map(str, common), "--output", str(tmp_path / "a")]) == 0
    triple = pd.concat(_load_triple(tmp_path / "a").values())
    assert len(triple) == 72
    assert triple["timestamp"].min() == int(pd.Timestamp("2021-03-01 10:00:00", tz="UTC").timestamp())
    assert main(["prepare", *map(str, common), "--rating_col", "stars", "--rating_threshold", "2",
                 "--output", str(tmp_path / "b")]) == 0
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    assert meta["counts"]["after_rating_threshold"]["interactions"] == 12 * 4
    assert meta["interactions"] == 48


def test_click_log_notebook_protocol(tmp_path):
    rows = [(s, item, t, 1_451_606_400) for s in range(1, 21) for t, item in enumerate([1, 2, 3, 4, 5, s % 3 + 6])]
    raw = _diginetica_file(tmp_path / "train-item-views.csv", rows)
    meta = prepare_dataset("diginetica", raw, tmp_path / "out", PrepareOptions(protocol="notebook"))
    assert meta["protocol"] == "notebook" and meta["users"] == 20 and meta["n_items"] == 9


# ============================================================================ paper protocol
@pytest.mark.parametrize("seed", [0, 1])
def test_diginetica_paper_matches_reference(tmp_path, seed):
    rows = _click_rows(seed)
    raw = _diginetica_file(tmp_path / "train-item-views.csv", rows)
    out = tmp_path / "dig"
    meta = prepare_dataset("diginetica", raw, out)
    train, test, codes = _reference_paper(rows, min_count=5, test_days=7)
    # the published layout, loadable with plain pickle
    with open(out / "all_train_seq.txt", "rb") as handle:
        assert pickle.load(handle) == train
    with open(out / "train.txt", "rb") as handle:
        assert pickle.load(handle) == augment_prefixes(train)
    with open(out / "test.txt", "rb") as handle:
        assert pickle.load(handle) == augment_prefixes(test)
    item_map = pd.read_csv(out / "item_map.csv")
    assert dict(zip(item_map["original_item_id"], item_map["item_id"])) == codes
    assert meta["counts"]["train"]["sessions"] == len(train)
    assert meta["counts"]["test"]["sequences"] == sum(len(s) - 1 for s in test)
    assert meta["n_items"] == len(codes) + 1
    # the published script drops sessions dated exactly on the split date; keep_split_day keeps them
    kept = tmp_path / "kept"
    prepare_dataset("diginetica", raw, kept, PrepareOptions(keep_split_day=True))
    train_kept, _, _ = _reference_paper(rows, min_count=5, test_days=7, keep_split_day=True)
    assert read_session_list(kept / "all_train_seq.txt") == train_kept
    assert len(train_kept) > len(train)


@pytest.mark.parametrize("fmt", ["diginetica", "yoochoose"])
def test_paper_protocol_reruns_are_byte_identical(tmp_path, fmt):
    if fmt == "diginetica":
        raw = _diginetica_file(tmp_path / "train-item-views.csv", _click_rows(3))
    else:
        raw = _yoochoose_file(tmp_path / "yoochoose-clicks.dat", _yoochoose_rows(seed=3))
    first, second = tmp_path / "a", tmp_path / "b"
    prepare_dataset(fmt, raw, first)
    prepare_dataset(fmt, raw, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert len(files) >= 4
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert oct((first).stat().st_mode & 0o777) != oct(0o700)  # an ordinary folder, not mkdtemp's private one


def test_yoochoose_clicks_are_ordered_by_time_within_a_session(tmp_path):
    """Scrambling a session's clicks in the file (its latest click kept last, so the session's
    date and first appearance stay the same) does not change the prepared sessions."""
    rows = _yoochoose_rows(seed=4)
    ordered = _yoochoose_file(tmp_path / "ordered.dat", rows)
    rng = np.random.default_rng(0)
    shuffled_rows, changed = [], 0
    for _, group in itertools.groupby(rows, key=lambda r: r[0]):
        group = list(group)
        head = [group[i] for i in rng.permutation(len(group) - 1)]
        changed += head != group[:-1]
        shuffled_rows += head + group[-1:]
    assert changed > 50 and len(shuffled_rows) == len(rows)
    shuffled = _yoochoose_file(tmp_path / "shuffled.dat", shuffled_rows)
    prepare_dataset("yoochoose", ordered, tmp_path / "a")
    prepare_dataset("yoochoose", shuffled, tmp_path / "b")
    for k in (4, 64):
        a, b = (load_session_pickles(tmp_path / x / f"yoochoose1_{k}") for x in ("a", "b"))
        assert a.train_sessions == b.train_sessions and a.test == b.test


def test_prepared_folders_are_accepted_by_train(tmp_path, capsys):
    """A notebook triple (amazon-seq) and a paper folder (diginetica) go straight into train."""
    lines = [f"u{u} " + " ".join(f"i{(u * 7 + t * 3) % 40}" for t in range(6 + u % 5)) for u in range(120)]
    raw = _write(tmp_path / "Beauty.txt", "\n".join(lines) + "\n")
    prepare_dataset("amazon-seq", raw, tmp_path / "seq")
    common = ["--exp_dir", str(tmp_path / "exp"), "--epochs", "1", "--embedding_dim", "8", "--quiet", "--no-tsne"]
    assert main(["train", "--data_dir", str(tmp_path / "seq"), *common]) == 0
    assert (tmp_path / "exp" / "seq_softmax").is_dir()
    clicks = _diginetica_file(tmp_path / "train-item-views.csv", _click_rows(5))
    prepare_dataset("diginetica", clicks, tmp_path / "dig")
    assert main(["train", "--protocol", "paper", "--data_dir", str(tmp_path / "dig"), *common,
                 "--batch_size", "32"]) == 0
    assert (tmp_path / "exp" / "dig_paper").is_dir()
    capsys.readouterr()


def test_paper_split_order_and_ties():
    day = 1_451_606_400
    clicks = pd.DataFrame(
        [(1, 10, 5, day + 86400), (1, 11, 5, day + 86400), (2, 12, 1, day), (2, 10, 0, day),
         (3, 10, 0, day + 9 * 86400), (3, 11, 1, day + 9 * 86400), (3, 13, 2, day + 9 * 86400)],
        columns=["user", "item", "time", "date"])
    result = paper_split(clicks, min_item_count=1, test_days=7)
    # session 2 (items 10 at t0, 12 at t1) then session 1 (10 and 11 tied at t5: file order)
    assert result.train_sessions == [[1, 2], [1, 3]]
    assert result.item_ids.tolist() == [10, 12, 11]  # numbered by first appearance in training
    assert result.test_sessions == [[1, 3]]  # session 3: item 13 never seen in training, removed


def test_yoochoose_fractions_match_reference(tmp_path):
    rows = _yoochoose_rows(seed=2)
    raw = _yoochoose_file(tmp_path / "yoochoose-clicks.dat", rows)
    out = tmp_path / "yc"
    code = main(["prepare", "yoochoose", "--input", str(raw), "--output", str(out)])
    assert code == 0
    train, test, _ = _reference_paper([(s, i, ms, sec) for s, i, ms, sec in rows], min_count=5, test_days=1)
    seqs, labels = augment_prefixes(train)
    # reference for the published fractions: the last T // k sequences, sessions from the first one used
    session_of = [k for k, s in enumerate(train) for _ in range(len(s) - 1)]
    for k in (4, 64):
        keep = len(seqs) // k
        folder = out / f"yoochoose1_{k}"
        data = load_session_pickles(folder)
        assert data.train == (seqs[-keep:], labels[-keep:])
        assert data.train_sessions == train[session_of[-keep]:]
        assert data.test == augment_prefixes(test)
    meta = json.loads((out / "meta.json").read_text())
    assert set(meta["fractions"]) == {"yoochoose1_4", "yoochoose1_64"}
    assert meta["fractions"]["yoochoose1_64"]["train"]["sequences"] == len(seqs) // 64
    assert not (out / "train.txt").exists()


def test_yoochoose_fraction_function():
    sessions = [[1, 2, 3], [4, 5], [6, 7, 8, 9]]  # 2 + 1 + 3 = 6 sequences
    kept_sessions, (seqs, labels) = yoochoose_fraction(sessions, 4)  # keep 1: the last one
    assert seqs == [[6]] and labels == [7] and kept_sessions == [[6, 7, 8, 9]]
    kept_sessions, (seqs, labels) = yoochoose_fraction(sessions, 2)  # keep 3
    assert labels == [9, 8, 7] and kept_sessions == [[6, 7, 8, 9]]
    kept_sessions, (seqs, labels) = yoochoose_fraction(sessions, 1)
    assert (seqs, labels) == augment_prefixes(sessions) and kept_sessions == sessions
    with pytest.raises(SrgnnError, match="1/64"):
        yoochoose_fraction(sessions, 64)


# ============================================================================ pickle readers
def test_load_session_pickles_layouts(tmp_path):
    folder = tmp_path / "pub"
    folder.mkdir()
    sessions = [[1, 2, 3], [2, 4]]
    with open(folder / "all_train_seq.txt", "wb") as handle:
        pickle.dump(sessions, handle, protocol=2)
    with open(folder / "test.txt", "wb") as handle:
        pickle.dump(([[1], [3, 2]], [4, 5]), handle, protocol=2)
    data = load_session_pickles(folder)  # train.txt absent: built by augmentation
    assert data.train == ([[1, 2], [1], [2]], [3, 2, 4])
    assert data.train_sessions == sessions and data.n_items == 6
    assert read_sequence_pairs(folder / "test.txt") == ([[1], [3, 2]], [4, 5])


@pytest.mark.parametrize("content, needle", [
    (b"", "empty"),
    (b"not a pickle at all", "pickle"),
    (pickle.dumps({"a": 1}), "pair"),
    (pickle.dumps(([[1, 2]], [3, 4])), "1 sequences but 2 labels"),
    (pickle.dumps(([[1, 0]], [3])), "#0 position 1"),
    (pickle.dumps(([[1, "x"]], [3])), "'x'"),
    (pickle.dumps(([[1, 2]], [2.5])), "label"),
    (pickle.dumps(([[1, 2]], [OrderedDict()])), "refusing"),  # needs a global: refused, nothing runs
    (pickle.dumps(([[1, 2]], [3]))[:-5], "truncated"),
])
def test_bad_pickles_are_one_line_errors(tmp_path, content, needle):
    path = tmp_path / "test.txt"
    path.write_bytes(content)
    with pytest.raises(SrgnnError) as info:
        read_sequence_pairs(path)
    message = str(info.value)
    assert needle in message and "\n" not in message and str(path) in message


def test_bad_session_folder(tmp_path):
    with pytest.raises(SrgnnError, match="folder not found"):
        load_session_pickles(tmp_path / "missing")
    with pytest.raises(SrgnnError, match="neither"):
        load_session_pickles(tmp_path)
    (tmp_path / "all_train_seq.txt").write_bytes(pickle.dumps([[1, 2], []]))
    with pytest.raises(SrgnnError, match="session #1 has 0"):
        load_session_pickles(tmp_path)


# ============================================================================ bad input through the CLI
def test_unknown_format(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["prepare", "netflix", "--input", "x", "--output", str(tmp_path / "o")])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SrgnnError, match="unknown format"):
        prepare_dataset("netflix", tmp_path / "x", tmp_path / "o")


@pytest.mark.parametrize("fmt, name, text, needles", [
    ("movielens", "ratings.dat", "1::10::5::100\n1::11::4::101\n2::x::3::102\n", ["line 3", "'x'", "item id"]),
    ("movielens", "ratings.dat", "1::10::5::100\n\n1::11::4\n", ["line 3", "missing timestamp", "1::11::4"]),
    ("movielens", "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,100\n1,3,4,abc\n", ["line 3", "'abc'"]),
    ("movielens", "ratings.csv", "userId,movie,rating,timestamp\n1,2,3,4\n", ["missing column", "movieId"]),
    ("movielens", "u.data", "1\t2\t3\t4\n1\t2\t3\t4\t5\n", ["line 2", "5 fields"]),
    ("movielens", "u.data", "1 2 3 4\n", ["line 1", "--layout"]),
    ("amazon-seq", "Beauty.txt", "1 2 3\n2\n", ["line 2", "no items"]),
    ("amazon-seq", "Beauty.txt", "1 2 3\n1 4 5\n", ["line 2", "already"]),
    ("amazon-seq", "Beauty.txt", "\n\n", ["blank"]),
    ("interactions-csv", "log.csv", "user_id,item_id,time\n1,2,3\n", ["missing column", "timestamp"]),
    ("interactions-csv", "log.csv", "user_id,item_id,timestamp\n1,2,3\n\n1,3,yesterday\n", ["line 4", "yesterday"]),
    ("interactions-csv", "log.csv", "user_id,item_id,timestamp\n1,2,3.5\n", ["line 2", "whole number"]),
    ("diginetica", "train-item-views.csv", "session_id;user_id;item_id;timeframe;eventdate\n1;NA;5;10;2016-13-01\n",
     ["line 2", "eventdate", "2016-13-01"]),
    ("diginetica", "train-item-views.csv", "session_id,user_id,item_id,timeframe,eventdate\n1,NA,5,10,2016-01-01\n",
     ["missing column"]),
    ("yoochoose", "yoochoose-clicks.dat", "1,2014-04-07T10:51:09.277Z,214536502,0\n1,soon,214536500,0\n",
     ["line 2", "'soon'"]),
    # a line with more fields than the header is an error, not silently cut (first line and later)
    ("diginetica", "train-item-views.csv",
     "session_id;user_id;item_id;timeframe;eventdate\n1;NA;5;10;2016-01-01;extra\n1;NA;6;11;2016-01-01\n",
     ["line 2", "6 fields", "expected 5", "extra"]),
    ("diginetica", "train-item-views.csv",
     "session_id;user_id;item_id;timeframe;eventdate\n1;NA;5;10;2016-01-01\n1;NA;6;11;2016-01-01;x\n",
     ["line 3", "6 fields"]),
    ("movielens", "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,100\n1,3,4,101,9\n", ["line 3", "5 fields"]),
    ("interactions-csv", "log.csv", "user_id,item_id,timestamp\n1,4,5,6,7\n2,3,4\n", ["line 2", "'1,4,5,6,7'"]),
    ("movielens", "ratings.dat", "1::2::3::100\n1::3::4::101::9\n", ["line 2", "separated by '::'"]),
    ("yoochoose", "yoochoose-clicks.dat", "session_id,timestamp,item_id,category\n", ["header"]),
    ("yoochoose", "yoochoose-clicks.dat", "", ["empty"]),
])
def test_malformed_input(tmp_path, capsys, fmt, name, text, needles):
    raw = _write(tmp_path / name, text)
    code, out, err = _run(capsys, fmt, "--input", raw, "--output", tmp_path / "out")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    assert not (tmp_path / "out").exists()
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("extra, needle", [
    (["--min_user_count", "50"], "--min_user_count 50"),
    (["--min_item_count", "500"], "--min_item_count 500"),
    (["--rating_threshold", "9"], "--rating_threshold"),
])
def test_empty_after_filtering_names_the_filter(tmp_path, capsys, extra, needle):
    df = _interactions(n_users=12, seed=1)
    raw = _write(tmp_path / "u.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in df.itertuples(index=False)))
    code, _, err = _run(capsys, "movielens", "--input", raw, "--output", tmp_path / "out", *extra)
    assert code == 2 and needle in err, err
    assert not (tmp_path / "out").exists()
    _no_leftovers(tmp_path)


def test_too_few_users_for_the_split(tmp_path, capsys):
    raw = _write(tmp_path / "in.txt", "".join(f"{u} 1 2 3 4 5\n" for u in range(9)))
    code, _, err = _run(capsys, "amazon-seq", "--input", raw, "--output", tmp_path / "out")
    assert code == 2 and "only 9 user(s)" in err and "at least 10" in err
    assert not (tmp_path / "out").exists()


def test_paper_empty_after_filtering(tmp_path, capsys):
    raw = _diginetica_file(tmp_path / "d.csv", [(1, 5, 0, 1_451_606_400), (2, 6, 0, 1_451_606_400)])
    code, _, err = _run(capsys, "diginetica", "--input", raw, "--output", tmp_path / "out")
    assert code == 2 and "length-1 sessions" in err
    raw = _diginetica_file(tmp_path / "d.csv", [(1, 5, 0, 1_451_606_400), (1, 6, 1, 1_451_606_400)])
    code, _, err = _run(capsys, "diginetica", "--input", raw, "--output", tmp_path / "out")
    assert code == 2 and "--min_item_count" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, needle", [
    (["movielens", "--sep", ";"], "--sep applies to interactions-csv only"),
    (["movielens", "--protocol", "paper"], "use --protocol notebook"),
    (["amazon-seq", "--protocol", "paper", "--test_days", "3"], "click logs only"),
    (["amazon-seq", "--train_pairs", "last"], "applies to --protocol paper with amazon-seq only"),
    (["diginetica", "--train_pairs", "last"], "applies to --protocol paper with amazon-seq only"),
    (["diginetica", "--min_user_count", "3"], "notebook and loo protocols only"),
    (["diginetica", "--protocol", "loo"], "has anonymous sessions"),
    (["amazon-seq", "--negatives", "5"], "--negatives applies to --protocol loo only"),
    (["amazon-seq", "--protocol", "loo", "--min_user_count", "2"], "--min_user_count must be >= 3"),
    (["amazon-seq", "--test_days", "3"], "paper protocol only"),
    (["amazon-seq", "--layout", "dat"], "movielens only"),
    (["amazon-seq", "--rating_threshold", "3"], "has no ratings"),
])
def test_options_that_do_not_apply(tmp_path, capsys, args, needle):
    raw = _write(tmp_path / "in.txt", "".join(f"{u} 1 2 3 4 5\n" for u in range(20)))
    code, _, err = _run(capsys, *args, "--input", raw, "--output", tmp_path / "out")
    assert code == 2 and needle in err, err


def test_missing_input_and_existing_output(tmp_path, capsys):
    code, _, err = _run(capsys, "amazon-seq", "--input", tmp_path / "nope.txt", "--output", tmp_path / "out")
    assert code == 2 and "not found" in err
    raw = _write(tmp_path / "in.txt", "".join(f"{u} 1 2 3 4 5\n" for u in range(20)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = _run(capsys, "amazon-seq", "--input", raw, "--output", out)
    assert code == 2 and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "mine"
    # a failing run with --overwrite leaves the old folder as it was
    bad = _write(tmp_path / "bad.txt", "1 2\n3\n")
    code, _, err = _run(capsys, "amazon-seq", "--input", bad, "--output", out, "--overwrite")
    assert code == 2 and (out / "keep.txt").exists()
    code, _, err = _run(capsys, "amazon-seq", "--input", raw, "--output", out, "--overwrite")
    assert code == 0 and not (out / "keep.txt").exists() and (out / "train_enc.csv").exists()
    _no_leftovers(tmp_path)
    # refusing to overwrite the folder that holds the input
    code, _, err = _run(capsys, "amazon-seq", "--input", tmp_path / "in.txt", "--output", tmp_path, "--overwrite")
    assert code == 2 and "would delete" in err and raw.exists()


@pytest.mark.slow
def test_shell_wrapper(tmp_path):
    _write(tmp_path / "in.txt", "".join(f"{u} 1 2 3 4 5\n" for u in range(20)))
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(REPO / "scripts" / "prepare_data.sh"), "amazon-seq", "--input", "in.txt",
                           "--output", "out"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "prepared amazon-seq" in done.stdout and (tmp_path / "out" / "meta.json").exists()
    done = subprocess.run(["bash", str(REPO / "scripts" / "prepare_data.sh"), "amazon-seq", "--input", "in.txt",
                           "--output", "out"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.splitlines()[-1].startswith("error: ")
