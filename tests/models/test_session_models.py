"""The session models (GRU4Rec, NARM, STAMP, GRUwATT, GGNNwATT, NISER+, GC-SAN, SASRec, GCE-GNN, LESSR, TAGNN, SGNN-HN) and ``targets: all``:
slow references for the GRU's last state and NARM's masked attention, the per-position
targets of both protocols against the prefix augmentation they stand for, and every model
learning a deterministic next item through the CLI. (The shared contract checks, including
``encode_positions`` = the encoding of every prefix and the ``targets: all`` loss = the
mean loss of the prefix pairs, are in ``test_contract.py``.)"""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import paddle
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.data import Batch, make_loader
from srgnn_paddle.data.datasets import (NextItemsDataset, SessionDataset, SessionPositionsDataset, next_item_targets,
                                        prefix_chains)
from srgnn_paddle.data.sessions import augment_prefixes, write_pickle, write_session_pickles
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.models import MODELS, build_model
from srgnn_paddle.protocols import get_protocol

load_paper_data = get_protocol("paper").load_data
from srgnn_paddle.synthetic import generate_synthetic

N_ITEMS = 30


def _model(name: str, **options):
    paddle.seed(3)
    return build_model(Config(model=name, n_items=N_ITEMS, embedding_dim=6, hidden_size=5, **options))


def _padded(rows, width):
    history = np.array([list(r) + [0] * (width - len(r)) for r in rows], dtype=np.int64)
    return Batch(history, (history > 0).astype("float32"), np.ones(len(rows), dtype=np.int64))


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _gru_states(model, items):
    """The GRU of ``model`` on one unpadded sequence, step by step in numpy (Paddle's gate
    order r, z, c; ``h' = z * h + (1 - z) * c``)."""
    p = {name: value.numpy().astype(np.float64) for name, value in model.gru.named_parameters()}
    emb = model.item_emb.weight.numpy().astype(np.float64)
    h = np.zeros(p["weight_hh_l0"].shape[1])
    states = []
    for item in items:
        gi = p["weight_ih_l0"] @ emb[item] + p["bias_ih_l0"]
        gh = p["weight_hh_l0"] @ h + p["bias_hh_l0"]
        size = len(h)
        r = _sigmoid(gi[:size] + gh[:size])
        z = _sigmoid(gi[size:2 * size] + gh[size:2 * size])
        c = np.tanh(gi[2 * size:] + r * gh[2 * size:])
        h = z * h + (1 - z) * c
        states.append(h)
    return np.array(states)


SEQUENCES = [[3, 5, 7], [9], [2, 4, 6, 8, 10], [11, 11, 12, 13]]


def test_gru4rec_takes_the_state_after_the_last_real_item():
    model = _model("gru4rec")
    model.eval()  # (Paddle 2.6's eval() returns None: no chaining)
    with paddle.no_grad():
        fast = model.encode(_padded(SEQUENCES, 7)).numpy()
        wider = model.encode(_padded(SEQUENCES, 9)).numpy()  # more padding changes nothing
    w, b = model.feed_forward.weight.numpy(), model.feed_forward.bias.numpy()
    slow = np.array([_gru_states(model, seq)[-1] @ w + b for seq in SEQUENCES])
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(wider, fast, rtol=1e-5, atol=1e-6)


def test_narm_attends_over_the_real_states_only():
    model = _model("narm")
    model.eval()
    with paddle.no_grad():
        fast = model.encode(_padded(SEQUENCES, 8)).numpy()
    a1, a2, v, bm = (getattr(model, n).weight.numpy().astype(np.float64) for n in ("a_1", "a_2", "v", "b"))
    slow = []
    for seq in SEQUENCES:
        h = _gru_states(model, seq)
        h_t = h[-1]
        c_local = np.zeros_like(h_t)
        for h_j in h:  # only the real positions: padding must add nothing
            c_local += (_sigmoid(h_t @ a1 + h_j @ a2) @ v)[0] * h_j
        slow.append(np.concatenate([h_t, c_local]) @ bm)
    np.testing.assert_allclose(fast, np.array(slow), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["narm", "stamp", "gruwatt", "sasrec"])
def test_per_position_attention_ignores_later_positions(name):
    """Position t's vector does not change when the items after t do (causal attention)."""
    model = _model(name)
    model.eval()
    a = _padded([[4, 5, 6, 7, 8]], 5)
    b = _padded([[4, 5, 6, 20, 21]], 5)
    with paddle.no_grad():
        first, second = model.encode_positions(a).numpy(), model.encode_positions(b).numpy()
    np.testing.assert_allclose(first[0, :3], second[0, :3], rtol=1e-5, atol=1e-6)
    assert np.abs(first[0, 3:] - second[0, 3:]).max() > 1e-4


def test_narm_applies_its_published_dropouts_in_training_only():
    model = _model("narm")
    assert (model.emb_dropout.p, model.ct_dropout.p) == (0.25, 0.5)
    batch = _padded(SEQUENCES, 6)
    paddle.seed(1)
    train_a = model.encode(batch).numpy()
    train_b = model.encode(batch).numpy()
    model.eval()
    with paddle.no_grad():
        eval_a, eval_b = model.encode(batch).numpy(), model.encode(batch).numpy()
    assert np.abs(train_a - train_b).max() > 1e-4
    np.testing.assert_array_equal(eval_a, eval_b)


# ---------------------------------------------------------------------------- targets: all, the data side
def test_next_item_targets_shift_the_history_and_end_with_the_label():
    history = np.array([[1, 2, 3, 4], [7, 8, 0, 0], [9, 0, 0, 0]])
    targets = next_item_targets(history, history > 0, np.array([5, 9, 2]))
    np.testing.assert_array_equal(targets, [[2, 3, 4, 5], [8, 9, 0, 0], [2, 0, 0, 0]])


def _random_sessions(rng, n, low=2, high=8, n_items=N_ITEMS - 1):
    return [rng.integers(1, n_items + 1, rng.integers(low, high)).tolist() for _ in range(n)]


def test_prefix_chains_recover_the_sessions_of_a_prefix_augmentation():
    rng = np.random.default_rng(0)
    sessions = _random_sessions(rng, 200) + [[4, 4, 4, 4], [4, 4, 4], [4, 4]]  # repeats and nested sessions
    pairs = SessionDataset(*augment_prefixes(sessions), n_items=N_ITEMS)
    chains = prefix_chains(pairs)
    assert np.diff(chains).tolist() == [len(s) - 1 for s in sessions]


def _trained_pairs(dataset):
    """The (history, target) pairs a targets-all dataset trains: one per target position."""
    hist, mask, _, targets = dataset.make_batch(np.arange(len(dataset)))
    pairs = Counter()
    for row, target_row in zip(hist, targets):
        for t in np.flatnonzero(target_row):
            pairs[(tuple(int(i) for i in row[:t + 1]), int(target_row[t]))] += 1
    return pairs


def test_targets_all_trains_exactly_the_training_pairs_and_none_held_out():
    rng = np.random.default_rng(1)
    pairs = SessionDataset(*augment_prefixes(_random_sessions(rng, 150)), n_items=N_ITEMS)
    train_idx = np.sort(rng.choice(len(pairs), size=int(0.8 * len(pairs)), replace=False))
    dataset = SessionPositionsDataset(pairs, train_idx)
    expected = Counter()
    for i in train_idx:
        start, n = pairs.starts[i], pairs.lengths[i]
        expected[(tuple(pairs.items[start:start + n].tolist()), int(pairs.labels[i]))] += 1
    assert _trained_pairs(dataset) == expected
    assert dataset.n_targets == len(train_idx) and dataset.n_sessions == 150
    session_of_pair = np.repeat(np.arange(150), np.diff(prefix_chains(pairs)))
    assert len(dataset) == len(np.unique(session_of_pair[train_idx]))  # sessions with a pair left to train


def test_targets_all_pieces_keep_every_target_and_at_most_max_length_items():
    rng = np.random.default_rng(2)
    sessions = _random_sessions(rng, 40, low=2, high=14)
    pairs = SessionDataset(*augment_prefixes(sessions), n_items=N_ITEMS)
    whole = SessionPositionsDataset(pairs, np.arange(len(pairs)))
    cut = SessionPositionsDataset(pairs, np.arange(len(pairs)), max_length=4)
    hist, _, _, targets = cut.make_batch(np.arange(len(cut)))
    assert hist.shape[1] == 4 and cut.n_targets == whole.n_targets == len(pairs)
    targets_by_session = sorted(Counter(int(t) for t in targets.reshape(-1) if t).items())
    assert targets_by_session == sorted(Counter(int(t) for t in pairs.labels).items())
    # the session [s1..s9] becomes [s1..s4], [s5..s8], [s9] with their next items
    session = list(range(1, 11))
    pieces = SessionPositionsDataset(SessionDataset([session[:-1]], [session[-1]], n_items=N_ITEMS), [0],
                                     max_length=4, chains=np.array([0, 1]))
    h, m, last, t = pieces.make_batch([0, 1, 2])
    np.testing.assert_array_equal(h, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 0, 0, 0]])
    np.testing.assert_array_equal(t, [[2, 3, 4, 5], [6, 7, 8, 9], [10, 0, 0, 0]])
    np.testing.assert_array_equal(last, [5, 9, 10])


def _leave_last_out_folder(path, sessions, valid, test, prefixes: bool):
    train = augment_prefixes(sessions) if prefixes else ([s[:-1] for s in sessions], [s[-1] for s in sessions])
    write_session_pickles(path, sessions, train, test, valid=valid)


def test_targets_all_on_every_prefix_or_on_the_longest_is_the_same_training_set(tmp_path):
    """``prepare amazon-seq --train_pairs prefixes`` or ``last``: ``targets: last`` trains the
    prefix pairs or one pair per session, ``targets: all`` the same samples from both."""
    rng = np.random.default_rng(3)
    sessions = _random_sessions(rng, 60) + [[5, 6, 7], [5, 6]]  # a session that is another's prefix
    valid = ([s for s in sessions], [int(rng.integers(1, N_ITEMS)) for _ in sessions])
    test = ([s + [1] for s in sessions], [int(rng.integers(1, N_ITEMS)) for _ in sessions])
    batches = {}
    for name, prefixes in (("prefixes", True), ("last", False)):
        _leave_last_out_folder(tmp_path / name, sessions, valid, test, prefixes)
        for targets in ("last", "all"):
            cfg = load_config(None, {"protocol": "paper", "targets": targets})
            data = load_paper_data(cfg, tmp_path / name)
            assert len(data.valid) == len(sessions) and len(data.test) == len(sessions)
            batches[name, targets] = data.train.make_batch(np.arange(len(data.train)))
    n_pairs = sum(len(s) - 1 for s in sessions)
    assert len(batches["prefixes", "last"][2]) == n_pairs and len(batches["last", "last"][2]) == len(sessions)
    for part_a, part_b in zip(batches["prefixes", "all"], batches["last", "all"]):
        np.testing.assert_array_equal(part_a, part_b)
    assert int((batches["last", "all"][3] > 0).sum()) == n_pairs


def test_targets_all_batch_loss_is_the_prefix_pairs_mean_loss(tmp_path):
    """Through the loaders: a targets-all batch of whole sessions has the loss of the same
    sessions' prefix pairs as separate samples (gru4rec, same weights)."""
    sessions = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10, 8]]
    pairs = SessionDataset(*augment_prefixes(sessions), n_items=N_ITEMS)
    model = _model("gru4rec")
    all_batch = next(iter(make_loader(SessionPositionsDataset(pairs, np.arange(len(pairs))), 10, graph=None)))
    pair_batch = next(iter(make_loader(pairs, 10, graph=None)))
    assert int((all_batch.position_targets > 0).sum()) == len(pair_batch) == 8
    assert float(model.calculate_loss(all_batch)) == pytest.approx(float(model.calculate_loss(pair_batch)), rel=1e-5)


def test_notebook_targets_all_trains_the_drawn_window():
    frame_rows = [(1, i, i) for i in range(1, 9)] + [(2, i + 10, i) for i in range(1, 7)]
    import pandas as pd

    from srgnn_paddle.data import SequenceDataset

    base = SequenceDataset({"max_length": 4, "seed": 0}, pd.DataFrame(frame_rows, columns=["user_id", "item_id",
                                                                                            "timestamp"]), "train")
    dataset = NextItemsDataset(base)
    rng = np.random.default_rng(0)
    hist, mask, target, positions = dataset.make_batch([0, 1], rng)
    np.testing.assert_array_equal(positions, next_item_targets(hist, mask, target))
    for row, label, pos in zip(hist, target.reshape(-1), positions):
        items = [int(i) for i in row if i] + [int(label)]
        assert [int(p) for p in pos if p] == items[1:]


def test_valid_txt_is_the_validation_split_and_checked(tmp_path):
    sessions = [[1, 2, 3], [4, 5, 6, 7]]
    write_session_pickles(tmp_path, sessions, augment_prefixes(sessions), ([[1, 2]], [3]), valid=([[4], [5]], [6, 7]))
    data = load_paper_data(load_config(None, {"protocol": "paper", "valid_portion": 0.5}), tmp_path)
    assert len(data.train) == 5 and len(data.valid) == 2  # nothing carved out of the training pairs
    write_pickle(tmp_path / "valid.txt", ([[4], [5]], [6]))
    with pytest.raises(SrgnnError, match=r"valid\.txt: 2 sequences but 1 labels"):
        load_paper_data(load_config(None, {"protocol": "paper"}), tmp_path)


# ---------------------------------------------------------------------------- learning through the CLI
def _chain_folder(path, n=40, seed=0):
    """Sessions that walk a cycle of ``n`` items: the next item is always the current one + 1."""
    rng = np.random.default_rng(seed)

    def walk(length):
        start = int(rng.integers(0, n))
        return [(start + k) % n + 1 for k in range(length)]

    sessions = [walk(int(rng.integers(2, 7))) for _ in range(400)]
    write_session_pickles(path, sessions, augment_prefixes(sessions),
                          augment_prefixes([walk(int(rng.integers(2, 6))) for _ in range(80)]))
    return path


@pytest.fixture(scope="module")
def chain_data(tmp_path_factory):
    return _chain_folder(tmp_path_factory.mktemp("chain") / "chain")


@pytest.mark.parametrize("name,targets", [(name, "last") for name, cls in MODELS.items()  # the session models
                                          if name != "srgnn" and cls.trainable and cls.batch_layout != "pairs"]
                         + [("gru4rec", "all"), ("gruwatt", "all"), ("ggnnwatt", "all"), ("gcegnn", "all"), ("lessr", "all"), ("sasrec", "all"),
                            ("tagnn", "all"), ("sgnnhn", "all")])
@pytest.mark.slow
def test_each_model_learns_a_cyclic_chain_through_the_cli(name, targets, chain_data, tmp_path):
    exp = tmp_path / "exp"
    argv = ["train", "--model", name, "--targets", targets, "--protocol", "paper", "--data_dir", str(chain_data),
            "--exp_dir", str(exp), "--epochs", "4", "--embedding_dim", "16", "--batch_size", "32", "--lr", "0.01",
            "--quiet", "--no-tsne"]
    assert cli.main(argv) == 0
    folder = f"{MODELS[name].display_name}_0.01_32_16" + ("_all" if targets == "all" else "")
    summary = json.loads((exp / "chain_paper" / folder / "summary.json").read_text())
    assert summary["model"] == name
    test, popularity = summary["test"], summary["popularity_test"]
    assert test["P@10"] >= 95 and test["MRR@20"] >= 60, test
    assert popularity["MRR@20"] < 15, popularity


def test_targets_all_in_the_notebook_protocol_and_with_sampled_softmax(tmp_path):
    data = tmp_path / "tiny"
    generate_synthetic(data, seed=5, n_users=150, n_items=60, n_categories=4)
    exp = tmp_path / "exp"
    common = ["train", "--model", "gruwatt", "--targets", "all", "--data_dir", str(data), "--exp_dir", str(exp),
              "--epochs", "2", "--batch_size", "32", "--embedding_dim", "8", "--lr", "0.01", "--quiet", "--no-tsne"]
    assert cli.main(common) == 0
    summary = json.loads((exp / "tiny_softmax" / "GRUwATT_0.01_32_8_all" / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and 0 <= summary["test"]["recall@50"] <= 1
    assert cli.main(common + ["--loss", "sampled_softmax", "--num_negatives", "10", "--overwrite"]) == 0
