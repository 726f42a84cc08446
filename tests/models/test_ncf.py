"""The leave-one-out protocol and the NCF family (GMF, MLP, NeuMF) on tiny generated data:
``prepare --protocol loo``, the NCF files, negative resampling, the evaluator's sampled and
full-catalogue HR/NDCG against hand-computed ranks and a per-user loop, each model learning
through the CLI, and NeuMF's pretraining."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pandas as pd
import paddle
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.data import HeldOutDataset, PairDataset, load_leave_one_out, make_loader
from srgnn_paddle.data.ncf_files import (
    read_negative_file,
    read_rating_file,
    write_negative_file,
    write_rating_file,
)
from srgnn_paddle.data.pairs import draw_excluding, pair_keys
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.evaluation import LeaveOneOutEvaluator, candidate_ranks, hr_ndcg_sums
from srgnn_paddle.kernels import HostKernels, Kernels
from srgnn_paddle.models import NeuMF, build_model
from srgnn_paddle.runs import load_data, pretrained_parts

GROUPS, ITEMS_PER_GROUP, USERS = 5, 24, 150
NEGATIVES = 49  # 50 candidates: a random ranking has HR@10 = 0.2
QUIET = ["--quiet", "--no-tsne"]


# ---------------------------------------------------------------------------- data
def _grouped_interactions(seed: int = 0) -> pd.DataFrame:
    """Users who each like one group of items: ``user, item, timestamp`` with raw ids
    (users 1000+, items 7 * k), timestamps with ties, rows in random order."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(USERS):
        group = user % GROUPS
        chosen = rng.choice(ITEMS_PER_GROUP, size=int(rng.integers(8, 15)), replace=False)
        for item in chosen:
            rows.append((1000 + user, 7 * (group * ITEMS_PER_GROUP + int(item)), int(rng.integers(0, 40))))
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def _prepare(tmp: Path, frame: pd.DataFrame, name: str = "tiny", *extra: str) -> Path:
    raw = tmp / f"{name}.csv"
    frame.to_csv(raw, index=False)
    out = tmp / name
    assert cli.main(["prepare", "interactions-csv", "--input", str(raw), "--output", str(out), "--user_col", "user",
                     "--item_col", "item", "--negatives", str(NEGATIVES), "--protocol", "loo", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def loo_dir(tmp_path_factory) -> Path:
    return _prepare(tmp_path_factory.mktemp("loo"), _grouped_interactions())


def _maps(folder: Path) -> Tuple[Dict[int, int], Dict[int, int]]:
    users = pd.read_csv(folder / "user_map.csv")
    items = pd.read_csv(folder / "item_map.csv")
    return (dict(zip(users["user_id"], users["original_user_id"])),
            dict(zip(items["item_id"], items["original_item_id"])))


# ---------------------------------------------------------------------------- prepare --protocol loo
def test_loo_split_holds_out_each_users_latest_items(loo_dir):
    raw = _grouped_interactions()
    user_of, item_of = _maps(loo_dir)
    splits = {name: read_rating_file(loo_dir / f"tiny.{name}.rating") for name in ("train", "valid", "test")}
    assert [len(np.unique(splits[s].users)) for s in ("valid", "test")] == [USERS, USERS]
    assert len(splits["test"]) == len(splits["valid"]) == USERS
    everything = set()
    for name, part in splits.items():
        pairs = {(user_of[u], item_of[i]) for u, i in zip(part.users, part.items)}
        assert not pairs & everything, name  # no interaction in two splits
        everything |= pairs
    assert everything == set(zip(raw["user"], raw["item"]))
    # per user: test = the latest (ties: the later row of the file), valid = the one before it
    raw = raw.assign(row=np.arange(len(raw))).sort_values(["user", "timestamp", "row"])
    expected = raw.groupby("user")["item"].agg(list)
    for name, back in (("test", -1), ("valid", -2)):
        got = {user_of[u]: item_of[i] for u, i in zip(splits[name].users, splits[name].items)}
        assert got == {u: items[back] for u, items in expected.items()}, name
    train_pairs = set(zip(splits["train"].users, splits["train"].items))
    for name in ("valid", "test"):
        assert not set(zip(splits[name].users, splits[name].items)) & train_pairs


def test_loo_negatives_are_seeded_distinct_and_never_interacted(loo_dir, tmp_path):
    interacted: Dict[int, set] = {}
    for name in ("train", "valid", "test"):
        part = read_rating_file(loo_dir / f"tiny.{name}.rating")
        for u, i in zip(part.users, part.items):
            interacted.setdefault(int(u), set()).add(int(i))
    n_items = json.loads((loo_dir / "meta.json").read_text())["items"]
    for name in ("valid", "test"):
        negatives = read_negative_file(loo_dir / f"tiny.{name}.negative")
        held = read_rating_file(loo_dir / f"tiny.{name}.rating")
        assert negatives.negatives.shape == (USERS, NEGATIVES)
        assert (negatives.users == held.users).all() and (negatives.items == held.items).all()
        for user, row in zip(negatives.users, negatives.negatives):
            assert len(set(row)) == NEGATIVES and not set(row) & interacted[int(user)]
            assert row.min() >= 0 and row.max() < n_items
    again = _prepare(tmp_path, _grouped_interactions())  # same input and seed: byte-identical files
    for path in loo_dir.iterdir():
        if path.name != "meta.json":
            assert (again / path.name).read_bytes() == path.read_bytes(), path.name
    other = _prepare(tmp_path, _grouped_interactions(), "other", "--seed", "7")
    assert (other / "other.train.rating").read_bytes() == (loo_dir / "tiny.train.rating").read_bytes()
    assert (other / "other.test.negative").read_bytes() != (loo_dir / "tiny.test.negative").read_bytes()


def test_loo_repeated_pairs_keep_the_latest_and_ratings_are_kept(tmp_path):
    rows = [(1, 10, 5, 100), (1, 11, 4, 101), (1, 10, 2, 102), (1, 12, 1, 103), (1, 13, 3, 103),
            (2, 10, 5, 1), (2, 12, 5, 2), (2, 13, 5, 3), (3, 12, 4, 5), (3, 11, 4, 6), (3, 13, 4, 7), (3, 14, 3, 1)]
    raw = tmp_path / "ratings.dat"
    raw.write_text("".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in rows))
    out = tmp_path / "ml"
    assert cli.main(["prepare", "movielens", "--input", str(raw), "--output", str(out), "--protocol", "loo",
                     "--negatives", "1"]) == 0
    test = read_rating_file(out / "ml.test.rating")
    valid = read_rating_file(out / "ml.valid.rating")
    train = read_rating_file(out / "ml.train.rating")
    # user 1: (10, t=100) is replaced by its repeat at t=102; 12 and 13 tie at 103, 13 comes later in the file
    assert test.items.tolist() == [3, 3, 3] and valid.items.tolist() == [2, 2, 1]  # items 10..14 -> 0..4
    assert sorted(zip(train.users.tolist(), train.items.tolist(), train.ratings.tolist())) == [
        (0, 0, 2.0), (0, 1, 4.0), (1, 0, 5.0), (2, 2, 4.0), (2, 4, 3.0)]
    assert train.times.tolist() == [101, 102, 1, 1, 5]  # by user, then time
    assert (out / "ml.train.rating").read_text().splitlines()[0] == "0\t1\t4\t101"  # whole ratings, no ".0"


# ---------------------------------------------------------------------------- the NCF files
def test_ncf_files_round_trip(tmp_path):
    users, items = np.array([0, 0, 3]), np.array([5, 2, 7])
    write_rating_file(tmp_path / "a.rating", users, items, np.array([4.5, 1.0, 3.0]), np.array([10, 11, 12]))
    back = read_rating_file(tmp_path / "a.rating")
    assert back.users.tolist() == [0, 0, 3] and back.items.tolist() == [5, 2, 7]
    assert back.ratings.tolist() == [4.5, 1.0, 3.0] and back.times.tolist() == [10, 11, 12]
    negatives = np.array([[1, 2], [3, 4], [0, 9]])
    write_negative_file(tmp_path / "a.negative", users, items, negatives)
    assert (tmp_path / "a.negative").read_text().splitlines()[0] == "(0,5)\t1\t2"
    neg = read_negative_file(tmp_path / "a.negative")
    assert neg.users.tolist() == [0, 0, 3] and neg.items.tolist() == [5, 2, 7]
    assert neg.negatives.tolist() == negatives.tolist()


def _published_folder(folder: Path, with_times: bool = True) -> Path:
    """A folder in the published layout (three files, ids from 0, no validation files)."""
    folder.mkdir()
    train = ["0\t3\t5\t10", "0\t1\t4\t30", "0\t2\t3\t20", "1\t0\t1\t5", "1\t4\t2\t5", "2\t4\t5\t1"]
    if not with_times:
        train = ["\t".join(line.split("\t")[:3]) for line in train]
    (folder / "toy.train.rating").write_text("\n".join(train) + "\n")
    (folder / "toy.test.rating").write_text("0\t4\t5\t40\n1\t3\t2\t9\n2\t0\t1\t2\n")
    (folder / "toy.test.negative").write_text("(0,4)\t0\t5\n(1,3)\t2\t5\n(2,0)\t2\t3\n")
    return folder


@pytest.mark.parametrize("with_times", [True, False], ids=["timestamps", "no_timestamps"])
def test_published_layout_loads_with_a_derived_validation_split(tmp_path, with_times):
    loo = load_leave_one_out(_published_folder(tmp_path / "Data", with_times), seed=3)
    assert (loo.name, loo.n_users, loo.n_items, loo.valid_from) == ("toy", 3, 7, "derived")  # items 0..5 -> 1..6
    # the latest training interaction of users with two or more: user 0 item 1 (t=30), user 1 item 4 (t=5, later line)
    expected_valid = [1, 4] if with_times else [2, 4]  # without timestamps: the last line
    assert loo.valid.users.tolist() == [0, 1] and (loo.valid.items - 1).tolist() == expected_valid
    assert sorted(zip(loo.train_users.tolist(), (loo.train_items - 1).tolist())) == sorted(
        {(0, 3), (0, 1), (0, 2), (1, 0), (1, 4), (2, 4)} - set(zip([0, 1], expected_valid)))
    assert (loo.test.items - 1).tolist() == [4, 3, 0]
    assert (loo.test.negatives - 1).tolist() == [[0, 5], [2, 5], [2, 3]]
    for user, row in zip(loo.valid.users, loo.valid.negatives - 1):  # never interacted, distinct
        seen = {3, 1, 2, 4} if user == 0 else {0, 4, 3}
        assert len(set(row)) == 2 and not set(row.tolist()) & seen


def test_a_prepared_folder_and_its_published_form_give_the_same_validation(loo_dir, tmp_path):
    """Merge the validation interactions back into train.rating and drop the validation files:
    the loader derives exactly the split that prepare wrote (same seed)."""
    published = tmp_path / "published"
    published.mkdir()
    for name in ("tiny.test.rating", "tiny.test.negative"):
        (published / name).write_bytes((loo_dir / name).read_bytes())
    (published / "tiny.train.rating").write_text((loo_dir / "tiny.train.rating").read_text()
                                                 + (loo_dir / "tiny.valid.rating").read_text())
    prepared, derived = load_leave_one_out(loo_dir), load_leave_one_out(published)
    assert (prepared.valid_from, derived.valid_from) == ("files", "derived")
    for attr in ("users", "items", "negatives"):
        np.testing.assert_array_equal(getattr(prepared.valid, attr), getattr(derived.valid, attr))
    assert sorted(zip(prepared.train_users, prepared.train_items)) == sorted(zip(derived.train_users,
                                                                                 derived.train_items))


@pytest.mark.parametrize("change, needle", [
    (lambda f: (f / "toy.test.negative").write_text("(0,4)\t0\t5\n(1,3)\t2\t5\n"), "2 lines, but toy.test.rating has 3"),
    (lambda f: (f / "toy.test.negative").write_text("(0,4)\t0\t5\n(1,2)\t2\t5\n(2,0)\t2\t3\n"),
     "line 2 starts with (1,2), but line 2 of toy.test.rating is user 1, item 3"),
    (lambda f: (f / "toy.test.negative").write_text("(0,4)\t0\t5\n(1,3)\t2\n(2,0)\t2\t3\n"),
     "line 2 has 1 negatives, the first line 2"),
    (lambda f: (f / "toy.test.negative").write_text("(0,4)\t0\t4\n(1,3)\t2\t5\n(2,0)\t2\t3\n"),
     "line 1 lists the held-out item 4"),
    (lambda f: (f / "toy.train.rating").write_text("0\t3\t5\t10\n0\tx\t4\t30\n"), "line 2: item id 'x' is not an integer"),
    (lambda f: (f / "toy.train.rating").write_text("0\t3\t5\t10\n0\t-1\t4\t30\n"), "line 2: item id '-1' is negative"),
    (lambda f: [(f / "toy.test.rating").write_text("0\t4\t5\t40\n0\t3\t2\t9\n2\t0\t1\t2\n"),
                (f / "toy.test.negative").write_text("(0,4)\t0\t5\n(0,3)\t2\t5\n(2,0)\t2\t3\n")],
     "user 0 has 2 held-out lines"),
    (lambda f: (f / "toy.valid.rating").write_text("0\t1\t1\t1\n"), "found without toy.valid.negative"),
    (lambda f: (f / "other.train.rating").write_text("0\t1\n"), "holds several datasets (other, toy); choose one"),
    (lambda f: (f / "toy.train.rating").unlink(), "no <name>.train.rating file"),
])
def test_bad_ncf_folders_are_one_line_errors(tmp_path, capsys, change, needle):
    folder = _published_folder(tmp_path / "Data")
    change(folder)
    code = cli.main(["train", "--protocol", "loo", "--data_dir", str(folder), "--exp_dir", str(tmp_path / "exp"),
                     *QUIET])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1 and err.startswith("error: "), err
    assert not (tmp_path / "exp").exists()


# ---------------------------------------------------------------------------- negative resampling
def test_negatives_are_redrawn_every_epoch_among_non_interacted_items():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(30), 6)
    items = np.concatenate([rng.choice(np.arange(1, 12), 6, replace=False) for _ in range(30)])  # dense users
    data = PairDataset(users, items, n_items=13, num_negatives=4, seed=5)
    assert len(data) == len(users) * 5
    seen = {u: set(items[users == u]) for u in range(30)}
    draws = []
    for epoch in (1, 2, 1):
        data.set_epoch(epoch)
        assert data.negatives.shape == (len(users), 4)
        for user, row in zip(users, data.negatives):  # the slow, obvious reference check
            assert all(1 <= j < 13 and j not in seen[user] for j in row)
        draws.append(data.negatives.copy())
    assert not np.array_equal(draws[0], draws[1]) and np.array_equal(draws[0], draws[2])  # seeded by (seed, epoch)
    # the rows: every positive once with label 1, every negative once with label 0
    batch = data.make_batch(np.arange(len(data)))
    assert batch.label.sum() == len(users) and batch.label[: len(users)].all()
    assert batch.user[: len(users)].tolist() == users.tolist() and batch.item[: len(users)].tolist() == items.tolist()
    assert batch.user[len(users):].tolist() == np.repeat(users, 4).tolist()
    assert batch.item[len(users):].tolist() == data.negatives.reshape(-1).tolist()
    # the trainer's loader: the epoch is forwarded, each row once in a seeded shuffle
    loader = make_loader(data, 64, shuffle=True, seed=5, graph=None)
    loader.batch_view.set_epoch(2)
    rows = [(u, i, l) for b in loader for u, i, l in zip(b.user, b.item, b.label)]
    assert data.epoch == 2 and len(rows) == len(data)
    assert sorted(rows) == sorted(zip(batch.user, np.r_[items, draws[1].reshape(-1)], batch.label))


def test_negative_draws_are_uniform_and_refuse_impossible_requests():
    rng = np.random.default_rng(1)
    keys = pair_keys(np.array([0, 0, 1]), np.array([2, 3, 0]), 10)
    draw = draw_excluding(rng, np.zeros(20000, dtype=np.int64), 1, 0, 10, keys, 10)
    counts = np.bincount(draw.ravel(), minlength=10)
    assert counts[2] == counts[3] == 0 and counts[[0, 1, 4, 5, 6, 7, 8, 9]].min() > 2200  # 2,500 expected each
    distinct = draw_excluding(rng, np.array([1, 1]), 9, 0, 10, keys, 10, distinct=True)
    assert [sorted(r) for r in distinct.tolist()] == [list(range(1, 10))] * 2
    with pytest.raises(SrgnnError, match="user 0 has interacted with all but 8 of the 10 items"):
        draw_excluding(rng, np.array([0]), 9, 0, 10, keys, 10, distinct=True)


# ---------------------------------------------------------------------------- metrics
def test_candidate_ranks_count_ties_and_nan_against_the_target():
    scores = np.array([[0.5, 0.9, 0.5, 0.1],  # one above, one tie: rank 3
                       [0.2, 0.1, 0.0, -1.0],  # best: rank 1
                       [0.3, 0.3, 0.3, 0.3],  # all tied: last
                       [0.4, np.nan, 0.1, 0.2],  # NaN counts against: rank 2
                       [np.nan, 0.0, 0.1, 0.2]])  # NaN target: last
    assert candidate_ranks(scores, np.zeros(5)).tolist() == [3, 1, 4, 2, 4]
    assert candidate_ranks(scores, np.array([1, 3, 2, 2, 3])).tolist() == [1, 4, 4, 4, 2]  # row 4: the NaN is ahead
    competes = np.array([[True, False, True, True]] * 5)
    assert candidate_ranks(scores, np.zeros(5), competes).tolist() == [2, 1, 3, 1, 3]
    sums = hr_ndcg_sums(np.array([1, 3, 4, 10, 11]), 10)
    assert sums["HR@10"] == 4
    assert sums["NDCG@10"] == pytest.approx(1 + 1 / math.log2(4) + 1 / math.log2(5) + 1 / math.log2(11))


def _reference_metrics(score_user, data: HeldOutDataset, n_items: int, k: int) -> Dict[str, float]:
    """The authors' per-user loop (one scoring call per user), pessimistic ties, plus the
    full-catalogue rank over the items the user was not trained on."""
    excluded: Dict[int, set] = {}
    rows, items = data.excluded(data.users)
    for row, item in zip(rows, items):
        excluded.setdefault(int(data.users[row]), set()).add(int(item))
    totals = dict.fromkeys(["HR", "NDCG", "full_HR", "full_NDCG"], 0.0)
    for user, item, negatives in zip(data.users, data.items, data.negatives):
        scores = score_user(int(user))  # [n_items]
        ranks = {"": 1 + sum(scores[j] >= scores[item] for j in negatives),
                 "full_": 1 + sum(scores[j] >= scores[item] for j in range(1, n_items)
                                  if j != item and j not in excluded.get(int(user), ()))}
        for prefix, rank in ranks.items():
            if rank <= k:
                totals[prefix + "HR"] += 1
                totals[prefix + "NDCG"] += math.log(2) / math.log(rank + 1)
    return {f"{key}@{k}": value / len(data) for key, value in totals.items()}


def test_evaluator_matches_a_per_user_loop_with_ties_and_exclusions():
    users = np.array([0, 1, 2, 3])
    items = np.array([3, 5, 1, 6])
    negatives = np.array([[1, 2, 4], [2, 3, 4], [2, 5, 6], [1, 2, 3]])
    train_users, train_items = np.array([0, 0, 1, 3, 3]), np.array([5, 6, 1, 4, 5])
    data = HeldOutDataset(users, items, negatives, train_users, train_items, n_users=4)
    popularity = np.array([0.0, 3, 1, 3, 3, 0, 2])  # ties on purpose; item 0 = padding
    cfg = Config(protocol="loo", topN=2, eval_batch_size=3)
    got = LeaveOneOutEvaluator(data, cfg).fixed_scores(popularity)
    # by hand, sampled: user 0's item 3 ties items 1 and 4 -> rank 3; user 1's item 5 (score 0) -> 4 (last);
    # user 2's item 1 -> 1; user 3's item 6 -> 3 (below 1 and 3). HR@2 = NDCG@2 = 1/4.
    # full: user 0 competes with 1, 2, 4 (5, 6 trained on) -> 3; user 1 with 2..6 -> 5; user 2 with 2..6 -> 3
    # (ties 3 and 4); user 3 with 1, 2, 3 -> 3. full HR@2 = 0, full HR@4 = 3/4.
    assert got == pytest.approx({"HR@2": 0.25, "NDCG@2": 0.25, "full_HR@2": 0.0, "full_NDCG@2": 0.0})
    assert got == pytest.approx(_reference_metrics(lambda u: popularity, data, 7, 2))
    got = LeaveOneOutEvaluator(data, cfg.replace(topN=4)).fixed_scores(popularity)
    assert got == pytest.approx(_reference_metrics(lambda u: popularity, data, 7, 4))
    assert got["HR@4"] == 1.0 and got["full_HR@4"] == 0.75


@pytest.mark.parametrize("model_name", ["gmf", "neumf"])
def test_batched_evaluation_equals_scoring_each_user_alone(loo_dir, model_name):
    cfg = load_config(None, {"protocol": "loo", "model": model_name, "eval_batch_size": 64, "mlp_layers": "16,8,4"})
    data = load_data(cfg, loo_dir)
    cfg = cfg.replace(n_items=data.n_items, n_users=data.n_users)
    paddle.seed(3)
    model = build_model(cfg)
    model.eval()
    got = LeaveOneOutEvaluator(data.test, cfg, model)(model)
    all_items = np.arange(data.n_items)

    def score_user(user: int) -> np.ndarray:  # the logits (the sigmoid would round close scores into ties)
        with paddle.no_grad():
            return model(np.full(len(all_items), user), all_items).numpy()

    assert got == pytest.approx(_reference_metrics(score_user, data.test, data.n_items, 10), abs=1e-9)


# ---------------------------------------------------------------------------- training through the CLI
@pytest.fixture(scope="module")
def trained(loo_dir, tmp_path_factory) -> Dict[str, Path]:
    exp = tmp_path_factory.mktemp("exp")
    runs = {}
    for model in ("gmf", "mlp", "neumf"):
        argv = ["train", "--protocol", "loo", "--model", model, "--data_dir", str(loo_dir), "--exp_dir", str(exp),
                "--epochs", "6", "--batch_size", "64", "--lr", "0.01", "--mlp_layers", "16,8,4", "--quiet",
                "--tsne_max_items", "60"]
        assert cli.main(argv + ([] if model == "neumf" else ["--no-tsne"])) == 0
        runs[model] = next((exp / "tiny_loo").glob(f"{NeuMF.display_name if model == 'neumf' else model.upper()}_*"))
    return runs


@pytest.mark.parametrize("model", ["gmf", "mlp", "neumf"])
@pytest.mark.slow
def test_each_model_learns_the_tiny_dataset_through_the_cli(trained, model, capsys):
    run = trained[model]
    summary = json.loads((run / "summary.json").read_text())
    log = pd.read_csv(run / "log.csv")
    assert list(log.columns[:5]) == ["HR@10", "NDCG@10", "full_HR@10", "full_NDCG@10", "phase"]
    assert summary["model"] == model and summary["protocol"] == "loo" and summary["epochs_run"] == 6
    test, floor = summary["test"], summary["popularity_test"]
    assert test["HR@10"] > 0.6 and test["HR@10"] > floor["HR@10"] + 0.25, (test, floor)
    assert test["full_HR@10"] > floor["full_HR@10"] + 0.15, (test, floor)
    valid = log[log["phase"] == "valid"]
    assert valid["full_HR@10"].isna().all() and valid["loss"].iloc[-1] < valid["loss"].iloc[0]
    assert cli.main(["evaluate", "--run_dir", str(run), "--quiet"]) == 0
    printed = dict(line.split("\t") for line in capsys.readouterr().out.strip().splitlines())
    assert float(printed["HR@10"]) == pytest.approx(test["HR@10"]) and "full_NDCG@10" in printed
    assert (run / "tsne.png").is_file() == (model == "neumf")


def test_report_lists_the_loo_metrics(trained, capsys):
    assert cli.main(["report", "--exp_dir", str(trained["gmf"].parents[1])]) == 0
    out = capsys.readouterr().out
    assert "test_HR@10" in out and "test_full_NDCG@10" in out
    frame = pd.read_csv(trained["gmf"].parents[1] / "results.csv")
    assert set(frame["model"]) == {"GMF", "MLP", "NeuMF"} and set(frame["valid_metric"]) == {"HR@10"}


def test_neumf_pretraining_loads_both_parts(trained, loo_dir, tmp_path, capsys):
    gmf, mlp = trained["gmf"], trained["mlp"]
    cfg = load_config(mlp / "config.yaml").replace(model="neumf", pretrain_gmf=str(gmf), pretrain_mlp=str(mlp),
                                                   pretrain_alpha=0.3)
    model = build_model(cfg)
    model.load_pretrained(*pretrained_parts(cfg), alpha=cfg.pretrain_alpha)
    own, g, m = model.state_dict(), paddle.load(str(gmf / "model.pdparams")), paddle.load(str(mlp / "model.pdparams"))
    for part, source in (("gmf_", g), ("mlp_", m)):
        for table in ("user_embedding.weight", "item_embedding.weight"):
            np.testing.assert_array_equal(own[part + table].numpy(), source[table].numpy())
    for key in [k for k in m if k.startswith("mlp.")]:
        np.testing.assert_array_equal(own[key].numpy(), m[key].numpy())
    np.testing.assert_allclose(own["predict_layer.weight"].numpy(), np.concatenate(
        [0.3 * g["predict_layer.weight"].numpy(), 0.7 * m["predict_layer.weight"].numpy()]), rtol=1e-6)
    np.testing.assert_allclose(own["predict_layer.bias"].numpy(), 0.3 * g["predict_layer.bias"].numpy()
                               + 0.7 * m["predict_layer.bias"].numpy(), rtol=1e-6)
    # through the CLI, with SGD as in the paper
    exp = tmp_path / "exp"
    argv = ["train", "--protocol", "loo", "--model", "neumf", "--data_dir", str(loo_dir), "--exp_dir", str(exp),
            "--epochs", "1", "--batch_size", "64", "--mlp_layers", "16,8,4", "--optimizer", "sgd", "--lr", "0.001",
            "--pretrain_gmf", str(gmf), "--pretrain_mlp", str(mlp), *QUIET]
    assert cli.main(argv) == 0
    assert "NeuMF starts from GMF" in capsys.readouterr().out
    summary = json.loads((exp / "tiny_loo" / "NeuMF-pretrain_0.001_64_8" / "summary.json").read_text())
    assert summary["test"]["HR@10"] > 0.6


@pytest.mark.parametrize("extra, needle", [
    (["--pretrain_gmf", "{gmf}"], "needs both 'pretrain_gmf' and 'pretrain_mlp'"),
    (["--pretrain_gmf", "{mlp}", "--pretrain_mlp", "{mlp}"], "a mlp run, but --pretrain_gmf needs a gmf run"),
    (["--pretrain_gmf", "{gmf}", "--pretrain_mlp", "{mlp}", "--embedding_dim", "4"],
     "embedding_dim 8, but this NeuMF has 4"),
    (["--pretrain_gmf", "{gmf}", "--pretrain_mlp", "{mlp}", "--mlp_layers", "16,4"], "mlp_layers '16,8,4'"),
    (["--pretrain_gmf", "{gmf}", "--pretrain_mlp", "{mlp}", "--model", "gmf"], "model gmf takes no pretraining"),
    (["--model", "srgnn"], "model srgnn needs --protocol notebook or paper"),
    (["--protocol", "notebook"], "use --protocol loo"),
    (["--loss", "sampled_softmax", "--num_negatives", "3"], "drop --loss sampled_softmax"),
    (["--num_negatives", "0"], "set --num_negatives >= 1"),
    (["--mlp_layers", "15,8"], "'mlp_layers' must be comma-separated"),
])
def test_bad_ncf_options_are_one_line_errors(trained, loo_dir, tmp_path, capsys, extra, needle):
    extra = [e.format(gmf=trained["gmf"], mlp=trained["mlp"]) for e in extra]
    argv = ["train", "--protocol", "loo", "--model", "neumf", "--data_dir", str(loo_dir), "--mlp_layers", "16,8,4",
            "--exp_dir", str(tmp_path / "exp"), *QUIET, *extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err
    assert not (tmp_path / "exp").exists()


def test_the_protocol_defaults_are_the_papers():
    cfg = load_config(None, {"protocol": "loo"})
    assert (cfg.model, cfg.embedding_dim, cfg.mlp_layers, cfg.num_negatives, cfg.batch_size, cfg.lr, cfg.topN) == (
        "neumf", 8, "64,32,16,8", 4, 256, 1e-3, 10)
    assert cfg.tower_sizes() == (64, 32, 16, 8)


def test_sgd_is_built_by_either_kernels():
    for kernels in (Kernels(), HostKernels(1)):
        param = paddle.create_parameter([3], "float32", default_initializer=paddle.nn.initializer.Constant(1.0))
        optimizer = kernels.optimizer([param], 0.5, 0.0, "sgd")
        assert isinstance(optimizer, paddle.optimizer.SGD)
        (param * paddle.to_tensor([1.0, 2.0, 3.0])).sum().backward()
        optimizer.step()
        np.testing.assert_allclose(param.numpy(), [0.5, 0.0, -0.5])  # p - lr * g


def test_fused_adam_equals_per_parameter_adam():
    """NCF's gradients are dense, so the trainer asks for Paddle's fused (multi-tensor) Adam:
    the same updates as one Adam op per parameter, L2 term included."""
    from srgnn_paddle.data import PairBatch
    from srgnn_paddle.kernels import has_sparse_gradients

    weights = []
    for dense in (False, True):
        paddle.seed(1)
        model = build_model(Config(model="neumf", n_items=30, n_users=9, mlp_layers="8,4"))
        assert not has_sparse_gradients(model)
        optimizer = Kernels().optimizer(model.parameters(), 0.01, 1e-3, "adam", dense_gradients=dense)
        rng = np.random.default_rng(0)
        for _ in range(5):
            batch = PairBatch(rng.integers(0, 9, 16), rng.integers(1, 30, 16), rng.integers(0, 2, 16).astype("float32"))
            model.calculate_loss(batch).backward()
            optimizer.step()
            optimizer.clear_grad()
        weights.append({k: v.numpy().copy() for k, v in model.state_dict().items()})
    for key, value in weights[0].items():
        np.testing.assert_allclose(weights[1][key], value, rtol=1e-5, atol=1e-7, err_msg=key)


@pytest.mark.slow
def test_an_interrupted_ncf_run_resumes_as_if_uninterrupted(loo_dir, tmp_path, monkeypatch):
    """Ctrl-C in epoch 2, then --resume: the log is the uninterrupted run's (the epoch's
    negatives, shuffle and the fused Adam's state all come back)."""
    from srgnn_paddle.training import Trainer

    base = ["train", "--protocol", "loo", "--model", "neumf", "--data_dir", str(loo_dir), "--batch_size", "64",
            "--lr", "0.01", "--mlp_layers", "16,8,4", "--epochs", "3", "--patience", "5", *QUIET]
    assert cli.main(base + ["--exp_dir", str(tmp_path / "a")]) == 0
    original = Trainer.train_epoch

    def interrupted(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, epoch)

    argv = base + ["--exp_dir", str(tmp_path / "b")]
    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_epoch", interrupted)
        assert cli.main(argv) == 130
    assert cli.main(argv + ["--resume"]) == 0
    a, b = (pd.read_csv(tmp_path / x / "tiny_loo" / "NeuMF_0.01_64_8" / "log.csv").drop(columns="seconds")
            for x in ("a", "b"))
    pd.testing.assert_frame_equal(a, b)
