"""Run configuration: YAML loading, strict keys/types/choices, the notebook's values (spec §7)."""
from __future__ import annotations

from pathlib import Path

import pytest

from srgnn_paddle.config import Config, load_config, save_config
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.runs import run_name

pytestmark = pytest.mark.cli

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(tmp_path, text):
    p = tmp_path / "run.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_load_yaml_values(tmp_path):
    p = write(tmp_path, "lr: 0.003\nbatch_size: 32\ninit: uniform\nnonhybrid: true\nvalid_portion: 0.2\n")
    cfg = load_config(p)
    assert cfg.lr == 0.003 and cfg.batch_size == 32 and cfg.init == "uniform"
    assert cfg.nonhybrid is True and cfg.valid_portion == 0.2
    assert cfg.embedding_dim == Config().embedding_dim  # untouched keys keep their defaults


def test_overrides_apply_after_the_file(tmp_path):
    p = write(tmp_path, "lr: 0.003\nbatch_size: 32\n")
    cfg = load_config(p, overrides={"batch_size": 8})
    assert cfg.batch_size == 8 and cfg.lr == 0.003
    assert load_config(None, {"step": 1}).step == 1


def test_int_accepted_for_float(tmp_path):
    cfg = load_config(write(tmp_path, "lr: 1\n"))
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)


def test_empty_yaml_gives_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == Config()


def test_unknown_key(tmp_path):
    p = write(tmp_path, "lr: 0.001\nembeding_dim: 32\n")
    with pytest.raises(SrgnnError) as err:
        load_config(p)
    assert "embeding_dim" in str(err.value) and str(p) in str(err.value)
    assert "embedding_dim" in str(err.value)  # the valid keys are listed


@pytest.mark.parametrize(
    "text, key",
    [
        ("embedding_dim: '16'\n", "embedding_dim"),
        ("batch_size: 12.5\n", "batch_size"),
        ("nonhybrid: 1\n", "nonhybrid"),
        ("step: true\n", "step"),
        ("lr: fast\n", "lr"),
        ("dataset: 5\n", "dataset"),
    ],
)
def test_wrong_type(tmp_path, text, key):
    with pytest.raises(SrgnnError, match=f"'{key}' must be of type"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    "text, key",
    [
        ("init: kaiming\n", "init"),
        ("protocol: session\n", "protocol"),
        ("index: hnsw\n", "index"),
        ("device: tpu\n", "device"),
        ("loss: bpr\n", "loss"),
    ],
)
def test_bad_choice(tmp_path, text, key):
    with pytest.raises(SrgnnError, match=f"'{key}' must be one of"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    "text, key",
    [("batch_size: 0\n", "batch_size"), ("lr: 0\n", "lr"), ("patience: -1\n", "patience"),
     ("valid_portion: 1.0\n", "valid_portion")],
)
def test_out_of_range(tmp_path, text, key):
    with pytest.raises(SrgnnError, match=key):
        load_config(write(tmp_path, text))


def test_bad_files(tmp_path):
    with pytest.raises(SrgnnError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(SrgnnError, match="not valid YAML"):
        load_config(write(tmp_path, "lr: [0.1\n"))
    with pytest.raises(SrgnnError, match="mapping"):
        load_config(write(tmp_path, "- lr\n- 0.1\n"))


def test_notebook_yaml_is_spec_section_7():
    cfg = load_config(CONFIGS / "notebook.yaml")
    assert cfg.lr == 1e-4
    assert cfg.epochs == 100
    assert cfg.batch_size == 256
    assert cfg.embedding_dim == 16
    assert cfg.max_length == 20
    assert cfg.step == 2
    assert cfg.patience == 5
    assert cfg.topN == 50
    assert cfg.protocol == "notebook" and cfg.init == "notebook" and cfg.score_padding is True
    assert cfg.nonhybrid is False and cfg.loss == "softmax"
    # the notebook's output folder exp/<dataset>_softmax/SRGNN_<lr>_<batch_size>_<embedding_dim>
    assert cfg.dataset_folder() == f"{cfg.dataset}_softmax"
    assert run_name(cfg) == "SRGNN_0.0001_256_16"


def test_defaults_are_the_notebook_values():
    cfg = Config()
    assert (cfg.lr, cfg.epochs, cfg.batch_size, cfg.embedding_dim, cfg.max_length, cfg.step,
            cfg.patience, cfg.topN) == (1e-4, 100, 256, 16, 20, 2, 5, 50)


def test_paper_configs_load():
    for name in ("paper_diginetica.yaml", "paper_yoochoose.yaml"):
        cfg = load_config(CONFIGS / name)
        assert cfg.protocol == "paper"
        assert cfg.dataset_folder().endswith("_paper")


def test_save_and_reload_round_trip(tmp_path):
    cfg = Config().replace(lr=0.01, init="uniform", dataset="tiny")
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


def test_replace_validates():
    with pytest.raises(SrgnnError):
        Config().replace(init="xavier")
    with pytest.raises(SrgnnError):
        Config.from_dict({"nope": 1})
