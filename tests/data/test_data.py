"""Datasets and loaders (spec notebook.md §1-2) and input validation."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import paddle
import pytest

from srgnn_paddle.config import Config
from srgnn_paddle.data import (
    SeqnenceDataset,
    SequenceDataset,
    SessionDataset,
    collate_batch,
    make_loader,
    read_interactions,
    split_validation,
)
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.data.graph import build_packed_graph

L = 6


def frame(seqs, shuffle_seed=None, t0=100):
    """``{user_id: [items in time order]}`` -> interactions; optionally shuffled rows, with
    timestamps that are not monotone in the row order."""
    rows = []
    for u, items in seqs.items():
        for t, i in enumerate(items):
            rows.append((u, i, t0 + 10 * t))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    if shuffle_seed is not None:
        df = df.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
    return df


def expected_window(items, k, length):
    """The notebook's history for target position k."""
    if k >= length:
        return list(items[k - length:k]), [1.0] * length
    return list(items[:k]) + [0] * (length - k), [1.0] * k + [0.0] * (length - k)


# distinct items inside each user, so a target identifies its position k
SEQS = {
    42: [100 + i for i in range(12)],  # k in 4..11, both window branches at L = 6
    7: [200 + i for i in range(5)],  # k = 4 only
    13: [300 + i for i in range(9)],
}


# ---------------------------------------------------------------------------- train phase
def test_train_phase_draws():
    ds = SequenceDataset({"max_length": L, "seed": 1}, frame(SEQS, shuffle_seed=0), "train")
    assert len(ds) == 3
    order = sorted(SEQS)  # users in order of first appearance after sorting by user_id
    seen = {u: [] for u in order}
    for _ in range(300):
        for index, user in enumerate(order):
            hist, mask, target = ds[index]
            items = SEQS[user]
            assert np.shape(target) == (1,)
            k = items.index(int(target[0]))
            assert 4 <= k <= len(items) - 1
            exp_hist, exp_mask = expected_window(items, k, L)
            np.testing.assert_array_equal(hist, exp_hist)
            np.testing.assert_array_equal(mask, exp_mask)
            assert hist.dtype == np.int64 and mask.dtype == np.float32
            seen[user].append(k)
    # every position 4..len-1 is drawn, roughly uniformly
    for user in order:
        counts = np.bincount(seen[user], minlength=len(SEQS[user]))[4:]
        assert len(counts) == len(SEQS[user]) - 4 and counts.min() > 0
        expected = 300 / len(counts)
        assert np.all(np.abs(counts - expected) < 0.5 * expected + 10), (user, counts)


def test_train_window_branches_exactly():
    ds = SequenceDataset({"max_length": L}, frame(SEQS), "train")
    index_42 = sorted(SEQS).index(42)
    # k = 8 >= L: the L items just before k, mask all ones
    hist, mask, target = ds.make_batch([index_42], positions=np.array([8]))
    np.testing.assert_array_equal(hist[0], [102, 103, 104, 105, 106, 107])
    np.testing.assert_array_equal(mask[0], [1, 1, 1, 1, 1, 1])
    assert target.tolist() == [[108]]
    # k = 4 < L: items[:4] right-padded
    hist, mask, target = ds.make_batch([index_42], positions=np.array([4]))
    np.testing.assert_array_equal(hist[0], [100, 101, 102, 103, 0, 0])
    np.testing.assert_array_equal(mask[0], [1, 1, 1, 1, 0, 0])
    assert target.tolist() == [[104]]


def test_default_max_length_is_20():
    ds = SequenceDataset({}, frame({1: list(range(1, 31))}), "train")
    hist, mask, _ = ds[0]
    assert hist.shape == (20,) and mask.shape == (20,)
    assert SequenceDataset(Config(), frame({1: list(range(1, 31))}), "test").max_length == 20


# ---------------------------------------------------------------------------- test phase
def test_test_phase_history_and_ground_truth():
    seqs = {
        5: [1, 2, 3, 4, 5, 6, 7, 8, 9, 9],  # k = 8: history items[2:8], gt [9, 9] (duplicates kept)
        3: [4, 4, 6, 7, 8],  # k = 4: history [4, 4, 6, 7] padded, gt [8]
        9: [11, 12],  # k = int(1.6) = 1
    }
    ds = SequenceDataset({"max_length": L}, frame(seqs, shuffle_seed=3), "test")
    assert list(ds.user_ids) == [3, 5, 9]
    for index, user in enumerate([3, 5, 9]):
        items = seqs[user]
        k = int(0.8 * len(items))
        hist, mask, gt = ds[index]
        exp_hist, exp_mask = expected_window(items, k, L)
        np.testing.assert_array_equal(hist, exp_hist)
        np.testing.assert_array_equal(mask, exp_mask)
        assert gt == items[k:]
    assert ds[sorted(seqs).index(5)][2] == [9, 9]
    assert ds.get_test_gd() == {3: [8], 5: [9, 9], 9: [12]}
    # reading again gives the same samples (no randomness in the test phase)
    np.testing.assert_array_equal(ds[1][0], ds[1][0])


def test_get_test_gd_in_train_phase_is_the_fixed_split():
    # get_test_gd is items[int(0.8*len):] whatever the phase (spec §2), not a random draw
    seqs = {1: list(range(1, 21)), 2: list(range(30, 41))}
    ds = SequenceDataset({"max_length": L, "seed": 4}, frame(seqs), "train")
    expected = {u: items[int(0.8 * len(items)):] for u, items in seqs.items()}
    for _ in range(5):
        assert ds.get_test_gd() == expected


def test_sorting_by_user_then_timestamp():
    seqs = {30: [5, 6, 7, 8, 9, 10], 2: [9, 8, 7, 6, 5, 4, 3], 17: [1, 3, 5, 7, 9, 11, 13, 15]}
    df = frame(seqs, shuffle_seed=11)
    assert not df["timestamp"].is_monotonic_increasing
    ds = SequenceDataset({"max_length": 50}, df, "test")
    assert list(ds.user_ids) == [2, 17, 30]
    assert len(ds) == 3
    for index, user in enumerate([2, 17, 30]):
        hist, mask, gt = ds[index]
        k = int(mask.sum())
        assert list(hist[:k]) + gt == seqs[user]  # full time order restored


def test_short_users_are_skipped_and_counted(caplog):
    seqs = {1: [1, 2, 3, 4], 2: [1, 2, 3, 4, 5], 3: [7], 4: [5, 6, 7, 8, 9, 10], 5: [2, 3]}
    df = frame(seqs)
    with caplog.at_level(logging.WARNING, logger="srgnn_paddle"):
        train = SequenceDataset({"max_length": L}, df, "train", source="train_enc.csv")
    assert train.n_skipped == 3  # users 1, 3, 5 have fewer than 5 items
    assert len(train) == 2 and list(train.user_ids) == [2, 4]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "3" in warnings[-1].getMessage() and "train_enc.csv" in warnings[-1].getMessage()
    for _ in range(20):
        _, _, target = train[0]
        assert int(target[0]) == 5  # the only valid position of user 2

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="srgnn_paddle"):
        test = SequenceDataset({"max_length": L}, df, "test")
    assert test.n_skipped == 1  # only user 3 (int(0.8 * 1) == 0)
    assert list(test.user_ids) == [1, 2, 4, 5]
    assert any(r.levelno == logging.WARNING for r in caplog.records)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="srgnn_paddle"):
        full = SequenceDataset({"max_length": L}, frame({2: [1, 2, 3, 4, 5]}), "train")
    assert full.n_skipped == 0 and not caplog.records


def test_notebook_spelling_alias():
    assert SeqnenceDataset is SequenceDataset


def test_bad_phase_raises():
    with pytest.raises(ValueError):
        SequenceDataset({}, frame(SEQS), "valid")


# ---------------------------------------------------------------------------- loaders
def test_plain_dataloader_with_collate_batch_train_and_test():
    seqs = {u: [(u * 3 + t) % 50 + 1 for t in range(6 + u)] for u in range(1, 8)}
    df = frame(seqs)
    train = SequenceDataset({"max_length": L, "n_items": 51}, df, "train")
    batches = list(paddle.io.DataLoader(train, batch_size=3, collate_fn=collate_batch))
    assert [b[0].shape[0] for b in batches] == [3, 3, 1]
    hist, mask, target = batches[0]
    assert list(hist.shape) == [3, L] and list(mask.shape) == [3, L] and list(target.shape) == [3, 1]
    assert hist.dtype == paddle.int64 and mask.dtype == paddle.float32 and target.dtype == paddle.int64
    np.testing.assert_array_equal(mask.numpy(), (hist.numpy() > 0).astype("float32"))

    test = SequenceDataset({"max_length": L, "n_items": 51}, df, "test")
    batches = list(paddle.io.DataLoader(test, batch_size=4, collate_fn=collate_batch))
    hist, mask, gts = batches[0]
    assert list(hist.shape) == [4, L]
    assert isinstance(gts, list) and all(isinstance(g, list) for g in gts)
    expected = test.get_test_gd()
    all_gts = [g for b in batches for g in b[2]]
    assert all_gts == [expected[u] for u in sorted(seqs)]


def test_make_loader_train_and_test_batches():
    seqs = {u: [(u * 3 + t) % 50 + 1 for t in range(6 + u)] for u in range(1, 8)}
    df = frame(seqs)
    train = SequenceDataset({"max_length": L}, df, "train")
    batches = list(make_loader(train, 4))
    assert len(batches) == 2 and [len(b) for b in batches] == [4, 3]
    batch = batches[0]
    assert batch.history.shape == (4, L) and batch.target.shape == (4, 1)
    np.testing.assert_array_equal(batch.mask, (batch.history > 0).astype("float32"))
    # the graph is the packed graph of the batch's histories
    packed = build_packed_graph(batch.history)
    for got, want in zip(batch.graph, packed):
        np.testing.assert_array_equal(got, want)
    rows, cols = np.nonzero(batch.history)
    np.testing.assert_array_equal(batch.graph.node_items[batch.graph.pos_node], batch.history[rows, cols])

    dense = next(iter(make_loader(train, 4, graph="dense")))
    alias, adj, items, mask = dense.graph
    assert adj.shape == (4, L, 2 * L) and alias.shape == items.shape == (4, L)
    np.testing.assert_array_equal(np.take_along_axis(items, alias, axis=1), dense.history)

    test = SequenceDataset({"max_length": L}, df, "test")
    batches = list(make_loader(test, 4, graph=None))
    assert batches[0].graph is None
    assert [g for b in batches for g in b.target] == list(test.get_test_gd().values())
    with pytest.raises(ValueError, match="graph"):
        make_loader(test, 4, graph="sparse")


def test_loader_threads_give_the_same_batches():
    seqs = {u: [(u * 7 + t) % 40 + 1 for t in range(5 + u % 6)] for u in range(1, 60)}
    train = SequenceDataset({"max_length": L}, frame(seqs), "train")
    plain, threaded = make_loader(train, 8, shuffle=True, seed=1), make_loader(train, 8, shuffle=True, seed=1,
                                                                                num_workers=2)
    for loader in (plain, threaded):
        loader.batch_view.set_epoch(5)
    pairs = list(zip(plain, threaded))
    assert len(pairs) == len(plain) == len(threaded) == 8
    for a, b in pairs:
        np.testing.assert_array_equal(a.history, b.history)
        np.testing.assert_array_equal(a.target, b.target)
        np.testing.assert_array_equal(a.graph.edge_weights, b.graph.edge_weights)


def batches_of(loader, epoch):
    loader.batch_view.set_epoch(epoch)
    return [(b.history, b.target) for b in loader]


def test_make_loader_determinism():
    # item u*100 + t: the first history item tells the user
    seqs = {u: [u * 100 + t for t in range(8 + u % 9)] for u in range(1, 41)}
    train = SequenceDataset({"max_length": L}, frame(seqs), "train")
    a = make_loader(train, 8, shuffle=True, seed=3)
    b = make_loader(train, 8, shuffle=True, seed=3)
    e3a, e3b = batches_of(a, 3), batches_of(b, 3)
    for (ha, ta), (hb, tb) in zip(e3a, e3b):
        np.testing.assert_array_equal(ha, hb)
        np.testing.assert_array_equal(ta, tb)
    again = batches_of(a, 3)  # same epoch, same loader again: same batches
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(e3a, again))
    e4 = batches_of(a, 4)

    def users(epoch_batches):
        return np.concatenate([h[:, 0] // 100 for h, _ in epoch_batches])

    # every epoch sees each user exactly once, in a new order with new targets
    assert sorted(users(e3a)) == sorted(users(e4)) == sorted(seqs)
    assert not np.array_equal(users(e3a), users(e4))
    t3 = dict(zip(users(e3a), np.concatenate([t[:, 0] for _, t in e3a])))
    t4 = dict(zip(users(e4), np.concatenate([t[:, 0] for _, t in e4])))
    assert t3 != t4
    other_seed = batches_of(make_loader(train, 8, shuffle=True, seed=4), 3)
    assert not np.array_equal(users(e3a), users(other_seed))
    # without shuffling the order is the dataset's, but the draws still change per epoch
    plain = make_loader(train, 8)
    p3, p4 = batches_of(plain, 3), batches_of(plain, 4)
    assert list(users(p3)) == list(users(p4)) == sorted(seqs)
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(p3, p4))


def test_session_dataset_batch_padding():
    ds = SessionDataset([[1, 2, 3], [4], [5, 6]], [7, 8, 9], n_items=10)
    assert len(ds) == 3
    hist, mask, target = ds.make_batch([0, 1])
    np.testing.assert_array_equal(hist, [[1, 2, 3], [4, 0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(target, [7, 8])
    hist, mask, target = ds.make_batch([1, 2])  # padded to this batch's longest, not the dataset's
    np.testing.assert_array_equal(hist, [[4, 0], [5, 6]])
    np.testing.assert_array_equal(mask, [[1, 0], [1, 1]])
    np.testing.assert_array_equal(target, [8, 9])
    short = SessionDataset([[1, 2, 3], [4]], [7, 8], n_items=10, max_length=2)
    hist, mask, _ = short.make_batch([0, 1])
    np.testing.assert_array_equal(hist, [[2, 3], [4, 0]])  # the last max_length items
    batch = next(iter(make_loader(ds, 3, graph="dense")))
    assert batch.history.shape == (3, 3) and batch.graph.A.shape == (3, 3, 6)
    np.testing.assert_array_equal(batch.target, [7, 8, 9])


def test_session_dataset_bad_inputs():
    with pytest.raises(SrgnnError, match="10"):
        SessionDataset([[1, 10]], [2], n_items=10)
    with pytest.raises(SrgnnError, match="label"):
        SessionDataset([[1, 2]], [0], n_items=10)
    with pytest.raises(SrgnnError, match="empty"):
        SessionDataset([[1], []], [2, 3], n_items=10)
    with pytest.raises(SrgnnError):
        SessionDataset([[1]], [2, 3], n_items=10)


def test_split_validation_seeded_and_disjoint():
    train, valid = split_validation(100, 0.1, seed=5)
    assert len(valid) == 10 and len(train) == 90
    assert not set(train) & set(valid)
    assert sorted(set(train) | set(valid)) == list(range(100))
    t2, v2 = split_validation(100, 0.1, seed=5)
    np.testing.assert_array_equal(valid, v2)
    np.testing.assert_array_equal(train, t2)
    _, v3 = split_validation(100, 0.1, seed=6)
    assert set(v3) != set(valid)
    assert len(split_validation(100, 0.0, seed=1)[1]) == 0


# ---------------------------------------------------------------------------- input validation
def write(tmp_path, text, name="train_enc.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_read_interactions_valid(tmp_path):
    p = write(tmp_path, "user_id,item_id,timestamp\n1,3,100\n1,2,90\n2,5,10\n")
    df = read_interactions(p, n_items=6)
    assert list(df.columns) == ["user_id", "item_id", "timestamp"]
    assert all(df[c].dtype == np.int64 for c in df.columns)
    assert df["item_id"].tolist() == [3, 2, 5]
    # extra columns are dropped, column order is normalised
    p = write(tmp_path, "timestamp,rating,item_id,user_id\n5,4.5,2,1\n")
    assert read_interactions(p).to_dict("records") == [{"user_id": 1, "item_id": 2, "timestamp": 5}]


def test_read_interactions_missing_file(tmp_path):
    with pytest.raises(SrgnnError, match="not found"):
        read_interactions(tmp_path / "nope.csv")


def test_read_interactions_empty_file(tmp_path):
    with pytest.raises(SrgnnError, match="empty"):
        read_interactions(write(tmp_path, ""))


def test_read_interactions_header_only(tmp_path):
    with pytest.raises(SrgnnError, match="no rows"):
        read_interactions(write(tmp_path, "user_id,item_id,timestamp\n"))


def test_read_interactions_missing_column(tmp_path):
    p = write(tmp_path, "user_id,item_id\n1,2\n")
    with pytest.raises(SrgnnError) as err:
        read_interactions(p)
    assert "missing column(s) timestamp;" in str(err.value) and str(p) in str(err.value)
    with pytest.raises(SrgnnError, match=r"missing column\(s\) user_id, item_id;"):
        read_interactions(write(tmp_path, "uid,iid,timestamp\n1,2,3\n"))


@pytest.mark.parametrize(
    "body, line, column, value",
    [
        ("1,2,10\n1,abc,11\n", 3, "item_id", "abc"),
        ("1,2,10\n1,3,11\n2,4.5,3\n", 4, "item_id", "4.5"),
        ("1,2,10\nx,3,11\n", 3, "user_id", "x"),
        ("1,2,10\n1,3,\n", 3, "timestamp", ""),
    ],
)
def test_read_interactions_non_integer(tmp_path, body, line, column, value):
    p = write(tmp_path, "user_id,item_id,timestamp\n" + body)
    with pytest.raises(SrgnnError) as err:
        read_interactions(p)
    msg = str(err.value)
    assert f"line {line}" in msg and f"'{column}'" in msg and str(p) in msg
    if value:
        assert value in msg


@pytest.mark.parametrize("bad", [-3, 0])
def test_read_interactions_non_positive_item_id(tmp_path, bad):
    p = write(tmp_path, f"user_id,item_id,timestamp\n1,2,10\n1,4,11\n2,{bad},12\n")
    with pytest.raises(SrgnnError) as err:
        read_interactions(p, n_items=10)
    msg = str(err.value)
    assert "line 4" in msg and "item_id" in msg and str(bad) in msg


def test_read_interactions_id_too_large(tmp_path):
    p = write(tmp_path, "user_id,item_id,timestamp\n1,2,10\n1,10,11\n")
    with pytest.raises(SrgnnError) as err:
        read_interactions(p, n_items=10)
    assert "line 3" in str(err.value) and "n_items" in str(err.value)
    assert len(read_interactions(p, n_items=11)) == 2
    assert len(read_interactions(p)) == 2  # no size given: no upper bound


def test_dataset_id_checks_and_no_usable_users():
    with pytest.raises(SrgnnError, match="n_items"):
        SequenceDataset({"n_items": 5}, frame({1: [1, 2, 3, 4, 5]}), "train")
    with pytest.raises(SrgnnError, match="item_id"):
        SequenceDataset({}, frame({1: [1, 2, 0, 4, 5]}), "train")
    with pytest.raises(SrgnnError, match="no usable users"):
        SequenceDataset({}, frame({1: [1, 2, 3], 2: [4, 5, 6, 7]}), "train")
    with pytest.raises(SrgnnError, match="no usable users"):
        SequenceDataset({}, frame({1: [1], 2: [4]}), "test")
    with pytest.raises(SrgnnError, match="timestamp"):
        SequenceDataset({}, frame({1: [1, 2, 3, 4, 5]}).drop(columns="timestamp"), "train")
    with pytest.raises(SrgnnError, match="no interactions"):
        SequenceDataset({}, frame({}), "train")
