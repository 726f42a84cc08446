"""Run configuration: one flat dataclass, loaded from YAML and/or command-line flags.

Defaults are the notebook's configuration (``configs/notebook.yaml`` spells them out);
``configs/paper_*.yaml`` hold the SR-GNN paper's official defaults. Unknown keys and values
of the wrong type are errors, so a typo in a YAML file never silently falls back to a
default.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import yaml

from srgnn_paddle.errors import SrgnnError

PROTOCOLS = ("notebook", "paper")
INITS = ("notebook", "uniform")
DEVICES = ("auto", "cpu", "gpu")
LOSSES = ("softmax", "sampled_softmax")
NEGATIVE_SAMPLERS = ("uniform", "popularity")
INDEXES = ("flat", "ivf")
SELECT_ON = ("valid", "test")

_CHOICES = {
    "protocol": PROTOCOLS,
    "init": INITS,
    "device": DEVICES,
    "loss": LOSSES,
    "negative_sampler": NEGATIVE_SAMPLERS,
    "index": INDEXES,
    "select_on": SELECT_ON,
}


@dataclass
class Config:
    """All hyper-parameters of a run. Field defaults are the notebook's (spec §7)."""

    # what is trained
    dataset: str = ""  # run folder name; empty = the data folder's name
    protocol: str = "notebook"  # notebook: user recall@50 with Faiss; paper: session P@20/MRR@20
    n_items: int = 0  # 0 = derive from the data (max id + 1)
    # model
    embedding_dim: int = 16
    step: int = 2
    init: str = "notebook"  # notebook (Paddle defaults) | uniform (+-1/sqrt(D), the paper's)
    nonhybrid: bool = False  # paper's non-hybrid variant: user vector = attention readout only
    score_padding: bool = True  # score against row 0 too (notebook); the paper scores 1..n
    # data
    max_length: int = 20
    valid_portion: float = 0.1  # paper protocol: share of training sequences held out
    num_workers: int = 0
    # optimisation
    lr: float = 1e-4
    weight_decay: float = 0.0
    lr_dc_step: int = 0  # multiply lr by lr_dc every lr_dc_step epochs; 0 = constant lr
    lr_dc: float = 0.1
    epochs: int = 100
    batch_size: int = 256
    patience: int = 5
    seed: int = 2024
    loss: str = "softmax"
    num_negatives: int = 0  # sampled softmax only
    negative_sampler: str = "uniform"
    # evaluation
    topN: int = 50
    eval_batch_size: int = 1024
    index: str = "flat"  # Faiss index for recall: flat (exact) | ivf (approximate)
    ivf_nlist: int = 0  # 0 = about 4*sqrt(n_items)
    ivf_nprobe: int = 8
    select_on: str = "valid"  # paper protocol: valid (honest) | test (the official script's habit)
    # runtime
    device: str = "auto"
    cpu_threads: int = 0  # cores for the CPU host math (softmax, Adam, scoring); 0 = all (runtime.set_cpu_threads)
    # outputs
    tsne: bool = True  # draw tsne.png of the item embeddings after training
    tsne_max_items: int = 5000  # t-SNE on a seeded sample of this many items; 0 = all

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "Config":
        """Build a config from a mapping; unknown keys and wrong types raise SrgnnError."""
        cfg = cls()
        cfg.update(values, source=source)
        return cfg

    def update(self, values: Mapping[str, Any], source: str = "config") -> "Config":
        """Set the given fields in place after checking names, types and choices."""
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise SrgnnError(
                    f"{source}: unknown key '{key}'; valid keys are: {', '.join(sorted(known))}"
                )
            setattr(self, key, _coerce(key, value, type(getattr(Config(), key)), source))
        self.validate(source)
        return self

    def validate(self, source: str = "config") -> None:
        """Check ranges and choices; raise SrgnnError naming the offending key."""
        for key, choices in _CHOICES.items():
            if getattr(self, key) not in choices:
                raise SrgnnError(
                    f"{source}: '{key}' must be one of {', '.join(choices)}, got {getattr(self, key)!r}"
                )
        positive = ("embedding_dim", "step", "max_length", "epochs", "batch_size", "topN",
                    "eval_batch_size")
        for key in positive:
            if getattr(self, key) < 1:
                raise SrgnnError(f"{source}: '{key}' must be >= 1, got {getattr(self, key)}")
        for key in ("patience", "n_items", "num_workers", "lr_dc_step", "num_negatives",
                    "ivf_nlist", "ivf_nprobe", "cpu_threads", "tsne_max_items"):
            if getattr(self, key) < 0:
                raise SrgnnError(f"{source}: '{key}' must be >= 0, got {getattr(self, key)}")
        if not self.lr > 0:
            raise SrgnnError(f"{source}: 'lr' must be > 0, got {self.lr}")
        if not 0.0 <= self.valid_portion < 1.0:
            raise SrgnnError(f"{source}: 'valid_portion' must be in [0, 1), got {self.valid_portion}")
        if self.loss == "sampled_softmax" and self.num_negatives < 1:
            raise SrgnnError(f"{source}: loss 'sampled_softmax' needs 'num_negatives' >= 1")

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict of every field (what is saved with a run)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "Config":
        """A validated copy with some fields changed."""
        return Config.from_dict({**self.to_dict(), **changes})

    # ------------------------------------------------------------------ derived names
    def run_name(self) -> str:
        """The notebook's run folder name: ``SRGNN_<lr>_<batch_size>_<embedding_dim>``."""
        return f"SRGNN_{self.lr}_{self.batch_size}_{self.embedding_dim}"

    def dataset_folder(self) -> str:
        """The notebook's dataset folder name: ``<dataset>_softmax`` (paper runs: ``_paper``)."""
        suffix = "softmax" if self.protocol == "notebook" else "paper"
        return f"{self.dataset}_{suffix}"


def _coerce(key: str, value: Any, kind: type, source: str) -> Any:
    """Check that ``value`` fits the field's type; ints are accepted where floats are."""
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    raise SrgnnError(
        f"{source}: '{key}' must be of type {kind.__name__}, got {value!r} ({type(value).__name__})"
    )


#: The official SR-GNN defaults (``configs/paper_*.yaml``): the starting point of every
#: key a ``protocol: paper`` run does not set itself.
PAPER_DEFAULTS: Dict[str, Any] = {
    "embedding_dim": 100, "batch_size": 100, "lr": 1e-3, "weight_decay": 1e-5, "lr_dc_step": 3,
    "lr_dc": 0.1, "step": 1, "init": "uniform", "score_padding": False, "epochs": 30, "patience": 10,
    "valid_portion": 0.1, "topN": 20,
}


def load_config(path: Union[str, Path, None] = None, overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Load a YAML config file (if given), then apply ``overrides`` (e.g. command-line flags).

    Keys set by neither take the notebook's defaults, or with ``protocol: paper`` (from the
    file or the flags) the paper's official ones (:data:`PAPER_DEFAULTS`), so
    ``train --protocol paper`` alone is the official configuration.
    """
    data: Dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SrgnnError(f"{p}: config file not found; pass an existing YAML file to --config")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SrgnnError(f"{p}: not valid YAML ({str(exc).splitlines()[0]}); fix the file") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SrgnnError(f"{p}: must hold a mapping of key: value pairs")
    protocol = (overrides or {}).get("protocol", data.get("protocol"))
    cfg = Config(**PAPER_DEFAULTS) if protocol == "paper" else Config()
    if path is not None:
        cfg.update(data, source=str(path))
    if overrides:
        cfg.update(overrides, source="command line")
    return cfg


def save_config(cfg: Config, path: Union[str, Path]) -> None:
    """Write the resolved config as YAML, atomically."""
    from srgnn_paddle.fileio import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
