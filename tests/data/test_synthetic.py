"""Tests of the embedded synthetic dataset (srgnn_paddle.synthetic)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
import pytest

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.data.interactions import SPLIT_FILES as SPLITS
from srgnn_paddle.synthetic import ITEMS_FILE, META_FILE, ensure_synthetic, generate_synthetic

SPLIT_FILES = tuple(SPLITS.values())

ALL_FILES = (*SPLIT_FILES, ITEMS_FILE, META_FILE)
SMALL = {"n_users": 600, "n_items": 300, "n_categories": 10}


@pytest.fixture(scope="module")
def default_data(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Dict]:
    """The default dataset (seed 2024), generated once for the module."""
    out = tmp_path_factory.mktemp("synth") / "synthetic"
    meta = generate_synthetic(out)
    return out, meta


def _read_splits(path: Path) -> Dict[str, pd.DataFrame]:
    return {name: pd.read_csv(path / name) for name in SPLIT_FILES}


def _sequences(df: pd.DataFrame) -> Dict[int, np.ndarray]:
    df = df.sort_values(["user_id", "timestamp"], kind="stable")
    return {int(u): g["item_id"].to_numpy() for u, g in df.groupby("user_id", sort=True)}


# ---------------------------------------------------------------- files and schema
def test_files_schema_and_dtypes(default_data: Tuple[Path, Dict]) -> None:
    path, meta = default_data
    for name in ALL_FILES:
        assert (path / name).is_file(), name
    n_items = meta["n_items"]
    for name, df in _read_splits(path).items():
        assert list(df.columns) == ["user_id", "item_id", "timestamp"], name
        for col in df.columns:
            assert pd.api.types.is_integer_dtype(df[col]), (name, col)
        assert df["item_id"].min() >= 1 and df["item_id"].max() < n_items, name
    items = pd.read_csv(path / ITEMS_FILE)
    assert list(items.columns) == ["item_id", "category"]
    assert items["item_id"].tolist() == list(range(1, n_items))
    assert pd.api.types.is_integer_dtype(items["category"])
    assert items["category"].nunique() == meta["parameters"]["n_categories"]


def test_meta_matches_files(default_data: Tuple[Path, Dict]) -> None:
    path, meta = default_data
    on_disk = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    assert on_disk == meta
    assert meta["generator"].startswith("srgnn_paddle.synthetic")
    assert meta["seed"] == 2024
    splits = _read_splits(path)
    for key, name in zip(("train", "valid", "test"), SPLIT_FILES):
        assert meta["interactions"][key] == len(splits[name])
        assert meta["users"][key] == splits[name]["user_id"].nunique()
    # n_items is max id + 1, and the largest id occurs in training
    assert splits["train_enc.csv"]["item_id"].max() + 1 == meta["n_items"]
    assert max(df["item_id"].max() for df in splits.values()) + 1 == meta["n_items"]


def test_users_disjoint_and_split_8_1_1(default_data: Tuple[Path, Dict]) -> None:
    path, meta = default_data
    users = [set(df["user_id"]) for df in _read_splits(path).values()]
    assert not users[0] & users[1] and not users[0] & users[2] and not users[1] & users[2]
    n = meta["parameters"]["n_users"]
    assert [len(u) for u in users] == [int(0.8 * n), int(0.1 * n), n - int(0.8 * n) - int(0.1 * n)]


def test_lengths_and_timestamps(default_data: Tuple[Path, Dict]) -> None:
    path, meta = default_data
    for name, df in _read_splits(path).items():
        # rows are stored ordered by user then time
        assert df.equals(df.sort_values(["user_id", "timestamp"], kind="stable")), name
        sizes = df.groupby("user_id").size()
        assert sizes.min() >= 5 and sizes.min() >= meta["parameters"]["min_length"], name
        assert sizes.max() <= meta["parameters"]["max_length"], name
        same_user = df["user_id"].to_numpy()[1:] == df["user_id"].to_numpy()[:-1]
        assert (np.diff(df["timestamp"].to_numpy())[same_user] > 0).all(), name
    sizes = pd.concat(_read_splits(path).values()).groupby("user_id").size()
    assert sizes.nunique() > 20  # lengths vary
    assert (sizes.min(), sizes.max()) == (meta["user_length_min"], meta["user_length_max"])
    assert abs(sizes.mean() - meta["user_length_mean"]) < 1e-3


# ---------------------------------------------------------------- determinism
def test_same_seed_same_bytes_different_seed_differs(tmp_path: Path) -> None:
    a = generate_synthetic(tmp_path / "a", seed=7, **SMALL)
    b = generate_synthetic(tmp_path / "b", seed=7, **SMALL)
    c = generate_synthetic(tmp_path / "c", seed=8, **SMALL)
    assert a == b
    for name in ALL_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "train_enc.csv").read_bytes() != (tmp_path / "c" / "train_enc.csv").read_bytes()
    assert c["seed"] == 8


def test_default_dataset_is_reproducible(default_data: Tuple[Path, Dict], tmp_path: Path) -> None:
    path, _ = default_data
    generate_synthetic(tmp_path / "again")
    for name in ALL_FILES:
        assert (path / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


# ---------------------------------------------------------------- ensure / overwrite
def test_ensure_synthetic_generates_once(tmp_path: Path) -> None:
    target = tmp_path / "data" / "synthetic"
    assert ensure_synthetic(target) == target
    assert all((target / f).is_file() for f in ALL_FILES)
    # make the existing data recognisable: ensure_synthetic must not rewrite it
    marker = "user_id,item_id,timestamp\n1,1,1\n"
    for f in SPLIT_FILES:
        (target / f).write_text(marker, encoding="utf-8")
    assert ensure_synthetic(target) == target
    assert all((target / f).read_text(encoding="utf-8") == marker for f in SPLIT_FILES)


def test_ensure_synthetic_refuses_partial_folder(tmp_path: Path) -> None:
    target = tmp_path / "partial"
    target.mkdir()
    (target / "train_enc.csv").write_text("user_id,item_id,timestamp\n", encoding="utf-8")
    with pytest.raises(SrgnnError, match="valid_enc.csv"):
        ensure_synthetic(target)
    assert sorted(p.name for p in target.iterdir()) == ["train_enc.csv"]


def test_generate_refuses_non_empty_folder_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out"
    generate_synthetic(target, seed=1, **SMALL)
    with pytest.raises(SrgnnError, match="not empty"):
        generate_synthetic(target, seed=2, **SMALL)
    meta = generate_synthetic(target, seed=2, overwrite=True, **SMALL)
    assert json.loads((target / META_FILE).read_text(encoding="utf-8"))["seed"] == 2 == meta["seed"]
    # no temporary folders are left beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_generation_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srgnn_paddle.synthetic as synthetic

    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("disk full")

    # fails inside the atomic block, after the CSV files were written to the temporary folder
    monkeypatch.setattr(synthetic.json, "dumps", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_synthetic(tmp_path / "out", **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_bad_parameters_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(SrgnnError, match="min_length"):
        generate_synthetic(tmp_path / "x", min_length=3, **SMALL)
    with pytest.raises(SrgnnError, match="unknown option"):
        generate_synthetic(tmp_path / "x", no_such_option=1, **SMALL)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- structure
def _recall_at(top: set, gt: np.ndarray) -> float:
    """The notebook's recall: gt entries found in the top list (duplicates counted) / len(gt)."""
    return sum(int(x) in top for x in gt) / len(gt)


def _markov_and_popularity_recall(path: Path, n_items: int, n: int = 50) -> Tuple[float, float]:
    """Recall@n on validation users (notebook protocol) of first-order Markov vs popularity."""
    train = _sequences(pd.read_csv(path / "train_enc.csv"))
    counts = np.zeros((n_items, n_items), dtype=np.int64)
    pop = np.zeros(n_items, dtype=np.float64)
    for seq in train.values():
        np.add.at(counts, (seq[:-1], seq[1:]), 1)
        np.add.at(pop, seq, 1.0)
    # popularity breaks ties and pads the Markov list; it stays below one transition count
    pop_score = pop / (pop.max() + 1.0)
    pop_score[0] = -1.0  # never recommend the padding id
    pop_top = set(np.argsort(-pop_score, kind="stable")[:n].tolist())
    markov: List[float] = []
    popular: List[float] = []
    for seq in _sequences(pd.read_csv(path / "valid_enc.csv")).values():
        k = int(0.8 * len(seq))
        history, gt = seq[:k][-20:], seq[k:]
        score = counts[history[-1]] + pop_score
        top = set(np.argsort(-score, kind="stable")[:n].tolist())
        markov.append(_recall_at(top, gt))
        popular.append(_recall_at(pop_top, gt))
    return float(np.mean(markov)), float(np.mean(popular))


def test_markov_beats_popularity(default_data: Tuple[Path, Dict]) -> None:
    path, meta = default_data
    markov, popular = _markov_and_popularity_recall(path, meta["n_items"])
    assert popular > 0.02  # popularity is a real baseline, not zero
    assert markov >= 1.5 * popular, (markov, popular)


def test_random_data_does_not_pass_structure_check(default_data: Tuple[Path, Dict], tmp_path: Path) -> None:
    """Control: after shuffling the item column (popularity kept, order lost) Markov has no edge."""
    path, meta = default_data
    rng = np.random.default_rng(0)
    out = tmp_path / "shuffled"
    out.mkdir()
    for name in ("train_enc.csv", "valid_enc.csv"):
        df = pd.read_csv(path / name)
        df["item_id"] = rng.permutation(df["item_id"].to_numpy())
        df.to_csv(out / name, index=False)
    markov, popular = _markov_and_popularity_recall(out, meta["n_items"])
    assert markov < 1.2 * popular, (markov, popular)


@pytest.mark.slow
def test_within_category_transitions_dominate(default_data: Tuple[Path, Dict]) -> None:
    path, meta = default_data
    category = pd.read_csv(path / ITEMS_FILE).set_index("item_id")["category"]
    same, total = 0, 0
    for seq in _sequences(pd.read_csv(path / "train_enc.csv")).values():
        cats = category.loc[seq].to_numpy()
        same += int((cats[1:] == cats[:-1]).sum())
        total += len(seq) - 1
    share = same / total
    assert share > 0.6, share
    # chance level with 20 categories is far lower
    assert share > 3 * (1.0 / meta["parameters"]["n_categories"])
    assert abs(share - meta["within_category_transition_share"]) < 0.02


def test_popularity_is_skewed(default_data: Tuple[Path, Dict]) -> None:
    path, meta = default_data
    items = pd.concat(_read_splits(path).values())["item_id"]
    counts = np.sort(items.value_counts().to_numpy())[::-1]
    top = int(np.ceil(0.1 * (meta["n_items"] - 1)))
    assert counts[:top].sum() / counts.sum() > 0.30
    # but the catalogue is used: almost every item occurs
    assert items.nunique() >= 0.95 * (meta["n_items"] - 1)
