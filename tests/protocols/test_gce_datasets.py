"""Tmall and Nowplaying as the GCE-GNN authors published them (``all_train_seq.txt`` and
``test.txt``, no ``train.txt``): the paper protocol rebuilds the training pairs with the
prefix augmentation. The counts are checked on ../shared/data (skipped when absent); the
configs on their own."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import load_config
from srgnn_paddle.data.sessions import augment_prefixes, load_session_pickles
from srgnn_paddle.runs import load_data

REPO_ROOT = Path(__file__).resolve().parents[2]

#: dataset -> (training sessions, training pairs, test pairs, largest item id)
PUBLISHED = {
    "tmall": (65_286, 351_268, 25_898, 40_727),
    "nowplaying": (128_077, 825_304, 89_824, 60_416),
}
#: dataset -> (train, valid) pairs of the seeded pair split and of the session split (valid_portion 0.1)
SPLITS = {
    "tmall": {"pairs": (316_141, 35_127), "sessions": (316_138, 35_130)},
    "nowplaying": {"pairs": (742_774, 82_530), "sessions": (742_771, 82_533)},
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_paper_configs_are_the_official_defaults_on_the_dataset(name):
    from_file = load_config(REPO_ROOT / "configs" / f"paper_{name}.yaml")
    assert from_file.dataset == name
    assert load_config(None, {"protocol": "paper", "dataset": name}) == from_file
    assert load_config(REPO_ROOT / "configs" / "paper_diginetica.yaml").replace(dataset=name) == from_file


def _folder(shared_data: Path, name: str) -> Path:
    folder = shared_data / name
    if not (folder / "all_train_seq.txt").is_file() or not (folder / "test.txt").is_file():
        pytest.skip(f"{folder} has no all_train_seq.txt / test.txt")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_counts(shared_data, name):
    folder = _folder(shared_data, name)
    assert not (folder / "train.txt").exists()  # the pairs are rebuilt here
    sessions, pairs, test_pairs, last_item = PUBLISHED[name]
    data = load_session_pickles(folder)
    assert len(data.train_sessions) == sessions
    assert data.train == augment_prefixes(data.train_sessions) and len(data.train[1]) == pairs
    assert len(data.test[0]) == len(data.test[1]) == test_pairs
    flat = np.concatenate([np.asarray(s) for s in data.train_sessions])
    assert flat.min() == 1 and flat.max() == last_item and len(np.unique(flat)) == last_item
    assert data.n_items == last_item + 1
    test_items = np.concatenate([np.asarray(s) for s in data.test[0]] + [np.asarray(data.test[1])])
    assert test_items.min() >= 1 and test_items.max() <= last_item
    # items are numbered by first appearance in the file: the file is in the order the
    # preprocessing numbered the sessions in, its date order
    _, first = np.unique(flat, return_index=True)
    assert np.array_equal(flat[np.sort(first)], np.arange(1, last_item + 1))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_both_validation_splits_on_the_published_folders(shared_data, name):
    folder = _folder(shared_data, name)
    for split, (n_train, n_valid) in SPLITS[name].items():
        cfg = load_config(REPO_ROOT / "configs" / f"paper_{name}.yaml", {"valid_split": split, "refit": True})
        data = load_data(cfg, folder)
        assert (len(data.train), len(data.valid), len(data.test)) == (n_train, n_valid, PUBLISHED[name][2])
        assert data.n_items == PUBLISHED[name][3] + 1 and len(data.train_all) == PUBLISHED[name][1]
        groups = data.train.base.session_groups()
        leaked = set(groups[data.train.indices]) & set(groups[data.valid.indices])
        assert bool(leaked) == (split == "pairs")


@pytest.mark.slow
@pytest.mark.cli
def test_train_protocol_paper_on_tmall(shared_data, tmp_path, capsys):
    folder = _folder(shared_data, "tmall")
    exp = tmp_path / "exp"
    assert cli.main(["train", "--protocol", "paper", "--data_dir", str(folder), "--model", "pop", "--exp_dir",
                     str(exp), "--quiet", "--no-tsne"]) == 0
    out = capsys.readouterr().out
    assert "316141 training samples, 35127 validation, 40728 items" in out
    assert (exp / "tmall_paper" / "POP" / "summary.json").is_file()
