"""The command line explains itself and names runs by the data they used; skipped users
are reported; raw ids in the paper pickles are refused before any allocation."""
from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from srgnn_paddle import cli
from srgnn_paddle.config import Config, field_choices
from srgnn_paddle.synthetic import generate_synthetic

pytestmark = pytest.mark.cli

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--epochs", "1", "--quiet", "--no-tsne", "--batch_size", "64"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "tiny"
    generate_synthetic(path, seed=2, n_users=150, n_items=80, n_categories=4)
    return path


def test_train_help_explains_every_config_flag(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for flag, words in {
        "--protocol {notebook,paper,loo}": "P@20/MRR@20 over the full catalogue",
        "--loss {softmax,sampled_softmax}": "full catalogue",
        "--init {notebook,uniform}": "the paper's",
        "--index {flat,ivf}": "Faiss index for recall",
        "--kernels {auto,paddle,host}": "(default: 'auto'; 'paddle' with --protocol loo)",
        "--model STR": "(default: 'srgnn'; 'neumf' with --protocol loo)",
        "--lr FLOAT": "(default: 0.0001; 0.001 with --protocol paper; 0.001 with --protocol loo)",
        "--optimizer {adam,sgd}": "(default: 'adam')",
    }.items():
        assert flag in text, flag
        assert words in text.rsplit(flag, 1)[1][:400], (flag, words)  # the help entry, not the usage line
    for name, choices in field_choices().items():  # YAML validation and --help share one source
        with pytest.raises(Exception, match="must be one of"):
            Config.from_dict({name: "no-such-value"})
        assert all(c in text for c in choices)


def test_a_config_files_dataset_does_not_name_a_run_on_other_data(tiny, tmp_path):
    exp = tmp_path / "exp"
    argv = ["train", "--config", str(REPO_ROOT / "configs" / "notebook.yaml"), "--data_dir", str(tiny),
            "--exp_dir", str(exp), *QUICK]
    assert cli.main(argv) == 0
    assert (exp / "tiny_softmax" / "SRGNN_0.0001_64_16" / "summary.json").is_file()
    assert not (exp / "ml-20m_softmax").exists()
    assert cli.main(argv + ["--dataset", "mine"]) == 0  # the command line's --dataset wins
    assert (exp / "mine_softmax" / "SRGNN_0.0001_64_16" / "summary.json").is_file()


def test_users_too_short_for_the_sampler_are_counted_in_one_line(tiny, tmp_path, capsys):
    data = tmp_path / "tiny"
    data.mkdir()
    for name in ("valid_enc.csv", "test_enc.csv", "items.csv", "meta.json"):
        (data / name).write_bytes((tiny / name).read_bytes())
    train = pd.read_csv(tiny / "train_enc.csv")
    short = pd.DataFrame({"user_id": [9001, 9001, 9002], "item_id": [1, 2, 3], "timestamp": [1, 2, 1]})
    pd.concat([train, short]).to_csv(data / "train_enc.csv", index=False)
    n_users = train["user_id"].nunique() + 2
    assert cli.main(["train", "--data_dir", str(data), "--exp_dir", str(tmp_path / "exp"), *QUICK]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "train_enc.csv" in line and "fewer than 5" in line]
    assert len(lines) == 1, err
    assert f"2 of {n_users} users" in lines[0]


def test_raw_ids_in_session_pickles_are_refused_before_allocation(tmp_path, capsys):
    data = tmp_path / "raw"
    data.mkdir()
    train = [[1, 2, 3], [2, 3], [3, 4, 2_000_000_000]]
    (data / "all_train_seq.txt").write_bytes(pickle.dumps(train))
    (data / "test.txt").write_bytes(pickle.dumps(([[1, 2], [3]], [3, 4])))
    exp = tmp_path / "exp"
    assert cli.main(["train", "--protocol", "paper", "--data_dir", str(data), "--exp_dir", str(exp), *QUICK]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert f"{data / 'all_train_seq.txt'}: sequence 2: item id 2000000000 would size the item table" in errors[0]
    assert "over the limit of 100,000,000 rows" in errors[0]
    assert "srgnn-paddle prepare" in errors[0]
    assert not exp.exists()
