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
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import yaml

from srgnn_paddle.data.global_graph import TOP_K as GLOBAL_TOP_K
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_write_text
from srgnn_paddle.protocols import PROTOCOLS as _REGISTRY
from srgnn_paddle.protocols import get_protocol

#: The registered protocols' names (:data:`srgnn_paddle.protocols.PROTOCOLS`).
PROTOCOLS = tuple(_REGISTRY)
INITS = ("notebook", "uniform")
DEVICES = ("auto", "cpu", "gpu")
KERNEL_CHOICES = ("auto", "paddle", "host")
LOSSES = ("softmax", "sampled_softmax")
NEGATIVE_SAMPLERS = ("uniform", "popularity")
INDEXES = ("flat", "ivf")
SELECT_ON = ("valid", "test")
TARGETS = ("last", "all")
VALID_SPLITS = ("pairs", "sessions")
OPTIMIZERS = ("adam", "sgd")


def _option(default: Any, help: str, choices: Optional[Sequence[str]] = None) -> Any:
    """A config field with its ``--help`` text and allowed values (one source for YAML
    validation and the command line)."""
    return field(default=default, metadata={"help": help, "choices": tuple(choices) if choices else None})


@dataclass
class Config:
    """All hyper-parameters of a run. Field defaults are the notebook's configuration
    (``configs/notebook.yaml``, ``docs/protocols.md``); each field's metadata holds its help
    text and, for strings, its allowed values."""

    # what is trained
    model: str = _option("srgnn", "the model to train (see 'Models' in the README)")
    dataset: str = _option("", "name of the run's dataset folder under --exp_dir; default: the data folder's "
                               "name (or 'dataset' in its meta.json)")
    protocol: str = _option("notebook", "notebook: per-user recall@N with Faiss; paper: next-item P@20/MRR@20 "
                                        "over the full catalogue; loo: leave-one-out HR@K/NDCG@K of (user, item) "
                                        "models (GMF, MLP, NeuMF), sampled and full-catalogue (docs/protocols.md)")
    n_items: int = _option(0, "rows of the item table (ids 1..n_items-1, 0 = padding); 0 = from the data")
    # model
    embedding_dim: int = _option(16, "embedding size D")
    step: int = _option(2, "SR-GNN: propagation steps of the gated graph cell")
    init: str = _option("notebook", "parameter initialisation: notebook (Paddle's defaults) or uniform "
                                    "(+-1/sqrt(D), the paper's)", INITS)
    nonhybrid: bool = _option(False, "SR-GNN: session vector = attention readout only (the paper's non-hybrid variant)")
    score_padding: bool = _option(True, "train the softmax over row 0 too (the notebook); --no-score_padding scores "
                                        "items 1..n-1 only (the paper)")
    # data
    max_length: int = _option(20, "keep at most this many most recent items of a history")
    valid_portion: float = _option(0.1, "paper protocol: share of the training pairs held out for validation "
                                              "(not used when the data folder has valid.txt)")
    valid_split: str = _option("pairs", "paper protocol, without valid.txt: which pairs validation holds out: pairs "
                                        "(a seeded share of the pairs, as the official code: other prefixes of a "
                                        "held-out pair's session stay in training) or sessions (the most recent whole "
                                        "sessions, as many as hold valid_portion of the pairs: none of their pairs "
                                        "is trained on)", VALID_SPLITS)
    num_workers: int = _option(0, "threads that build batches ahead of the training step (0 = none)")
    # optimisation
    lr: float = _option(1e-4, "learning rate (of Adam, or of SGD with optimizer sgd)")
    weight_decay: float = _option(0.0, "L2 penalty added to the gradient (coupled, as torch's Adam weight_decay)")
    lr_dc_step: int = _option(0, "multiply lr by lr_dc every lr_dc_step epochs; 0 = constant lr")
    lr_dc: float = _option(0.1, "learning-rate decay factor (see lr_dc_step)")
    epochs: int = _option(100, "maximum number of epochs")
    batch_size: int = _option(256, "training batch size (per rank when data-parallel)")
    patience: int = _option(5, "stop when the validation score has not improved for this many epochs")
    seed: int = _option(2024, "seed of the initialisation, shuffling and sampling")
    loss: str = _option("softmax", "softmax: full catalogue; sampled_softmax: num_negatives shared negatives "
                                   "with the log-q correction", LOSSES)
    num_negatives: int = _option(0, "sampled_softmax: negatives drawn per step; loo: negatives per positive, "
                                    "redrawn every epoch")
    negative_sampler: str = _option("uniform", "sampled_softmax: how negatives are drawn", NEGATIVE_SAMPLERS)
    # evaluation
    topN: int = _option(50, "notebook protocol: items retrieved per user (recall@N, ndcg@N, hitrate@N); "
                            "paper: the K of P@K / MRR@K the epochs are selected on; loo: the K of HR@K and "
                            "NDCG@K")
    eval_batch_size: int = _option(1024, "evaluation batch size")
    index: str = _option("flat", "Faiss index for recall: flat (exact) or ivf (approximate)", INDEXES)
    ivf_nlist: int = _option(0, "ivf: number of clusters; 0 = about 4*sqrt(n_items)")
    ivf_nprobe: int = _option(8, "ivf: clusters searched per query")
    select_on: str = _option("valid", "paper protocol: pick the epoch on valid (honest) or test (the official "
                                      "script's habit; test is then scored every epoch)", SELECT_ON)
    # runtime
    device: str = _option("auto", "auto: GPU when Paddle is compiled with CUDA and sees one, else CPU", DEVICES)
    kernels: str = _option("auto", "compute kernels: paddle (plain Paddle, what GPUs run), host (numpy on the CPU "
                                   "for the softmax, dense GEMMs, Adam and ranking: faster there), auto (host on "
                                   "the CPU, paddle elsewhere)", KERNEL_CHOICES)
    cpu_threads: int = _option(0, "host threads for kernels 'host'; 0 = every core")
    # session models: GRU4Rec, NARM, STAMP, GRUwATT, GGNNwATT and the training targets
    targets: str = _option("last", "last: one target per training sample (the paper's prefix pairs, the notebook's "
                                   "drawn position); all: every position of a training sequence predicts its next "
                                   "item, in one forward pass with a mask (the course report's augmentation; paper "
                                   "protocol: one sample per training session)", TARGETS)
    hidden_size: int = _option(0, "GRU4Rec, NARM, GRUwATT: size of the GRU state; 0 = embedding_dim")
    dropout: float = _option(0.0, "GRU4Rec, GRUwATT, GGNNwATT, NISER+: dropout on the item embeddings; SASRec: on "
                                  "the embeddings and in its attention blocks; GC-SAN: in its attention blocks; "
                                  "LESSR: the feature dropout before every layer (NARM has its published 0.25 / 0.5, "
                                  "STAMP and SR-GNN none)")
    session_max_length: int = _option(0, "paper protocol: keep the last N items of every prefix (0 = all, the "
                                         "paper's); with targets all, longer training sessions are cut into "
                                         "pieces of N positions")
    # SR-GNN's successors (NISER+, GC-SAN, TAGNN, GCE-GNN, SGNN-HN, LESSR, SASRec): 0 = the model's paper value
    num_layers: int = _option(0, "GC-SAN, SASRec: self-attention blocks; LESSR: EOPA / SGAT layers; GCE-GNN: hops "
                                 "of the global aggregation; 0 = the model's paper value")
    num_heads: int = _option(0, "GC-SAN, SASRec: attention heads (embedding_dim must be a multiple); 0 = the "
                                "model's paper value")
    scale: float = _option(0.0, "NISER+, SGNN-HN: the temperature multiplying the cosine of the normalised session "
                                "and item vectors; 0 = the model's paper value")
    # GCE-GNN (Wang et al., SIGIR 2020): the official main.py's flags (hops: num_layers)
    dropout_gcn: float = _option(0.0, "GCE-GNN: dropout on the input of every global aggregation (the official "
                                      "--dropout_gcn: DIGINETICA 0.2, Tmall 0.6, Nowplaying 0)")
    dropout_local: float = _option(0.0, "GCE-GNN: dropout on the session-level item vectors (--dropout_local: "
                                        "Tmall 0.5, else 0)")
    dropout_global: float = _option(0.5, "GCE-GNN: dropout on the global-level item vectors (--dropout_global: "
                                         "0.5 on every dataset)")
    n_sample: int = _option(0, f"GCE-GNN: global-graph neighbours aggregated per item and hop, drawn from its "
                               f"top {GLOBAL_TOP_K}; 0 = {GLOBAL_TOP_K} (the official --n_sample)")
    # NISER+, GC-SAN, SASRec
    max_positions: int = _option(0, "NISER+, SASRec: rows of the learned position embeddings (positions counted from a "
                                    "session's first item, later ones share the last row); 0 = 50, SASRec's official "
                                    "maxlen")
    gcsan_weight: float = _option(0.6, "GC-SAN: session vector = w * the self-attention's last position + (1 - w) * "
                                       "the last item's graph node (the paper's omega, in [0, 1])")
    # TAGNN: its target-aware scores
    score_budget_mb: int = _option(1024, "TAGNN: the most memory (MiB) a batch's target attention may take (about "
                                         "24 bytes x the batch's history entries x items); the catalogue is scored "
                                         "in chunks of items that fit, in training too; 0 = one chunk")
    # outputs
    tsne: bool = _option(True, "draw tsne.png of the item embeddings after training")
    tsne_max_items: int = _option(5000, "t-SNE on a seeded sample of this many items; 0 = all")
    # VisualDL curves
    visualdl: bool = _option(False, "also write loss, lr and every validation metric per epoch with VisualDL's "
                                    "LogWriter into <run_dir>/visualdl/ (needs: pip install srgnn-paddle[vdl])")
    # session tools: the count baselines' options and refit
    itemknn_lambda: float = _option(0.0, "itemknn: similarity = co-occurrences / (sqrt(n_i * n_j) + lambda); 0 = "
                                         "the plain cosine (the SR-GNN paper's words), 20 = GRU4Rec's baseline code")
    sknn_neighbors: int = _option(100, "sknn: the k training sessions most similar to the session vote for "
                                       "their items")
    sknn_sample_size: int = _option(500, "sknn: candidate neighbours are the most recent training sessions that "
                                         "share an item with the session, at most this many; 0 = all")
    # counted baselines of Ludewig & Jannach 2018 (sequential rules, vector-multiplication session kNN)
    sr_steps: int = _option(10, "sr: a rule a -> b for every b at most this many steps after a in a training "
                                "session")
    sr_weighting: str = _option("div", "sr: a rule's weight by the distance d from a to b: div 1/d, linear "
                                       "max(1 - 0.1 d, 0), same 1, log 1/log10(d + 1.7), quadratic 1/d^2",
                                ("div", "linear", "same", "log", "quadratic"))
    vsknn_neighbors: int = _option(100, "vsknn: the k training sessions most similar to the session vote for "
                                        "their items")
    vsknn_sample_size: int = _option(500, "vsknn: candidate neighbours are the most recent training sessions that "
                                          "share an item with the session, at most this many; 0 = all")
    vsknn_weighting: str = _option("linear", "vsknn: weight of the item at position p of a session of length L: "
                                             "linear p/L, same 1, div 1/(L - p + 1), log 1/log10(L - p + 2.7), "
                                             "quadratic (p/L)^2",
                                   ("linear", "same", "div", "log", "quadratic"))
    vsknn_idf: bool = _option(False, "vsknn: also weight each item of the session by its IDF, log(training "
                                     "sessions / training sessions holding it)")
    # STAN (Garg et al., SIGIR 2019) and VSTAN (Ludewig et al., 2021); time = a session's index in the training file
    stan_neighbors: int = _option(100, "stan, vstan: the k training sessions most similar to the session vote for "
                                       "their items")
    stan_sample_size: int = _option(0, "stan, vstan: candidate neighbours are the most recent training sessions "
                                       "that share an item with the session, at most this many; 0 = all")
    stan_lambda1: float = _option(1.02, "stan, vstan: the session's item at position p of l weighs "
                                        "exp((p - l) / lambda1)")
    stan_lambda2: float = _option(10000.0, "stan, vstan: a neighbour's similarity decays as exp(-(t_now - t) / "
                                           "lambda2), t a training session's index in the training file (the "
                                           "published pickles have no timestamps), t_now the number of training "
                                           "sessions; 0 = no recency decay")
    stan_lambda3: float = _option(2.05, "stan, vstan: a neighbour's item votes with exp(-|p_item - p_match| / "
                                        "lambda3), positions in the neighbour, p_match that of the session's most "
                                        "recent item it shares")
    vstan_lambda4: float = _option(2.0, "vstan: a neighbour's vote also decays as exp(-(l - p_match) / lambda4), "
                                        "p_match the position in the session (length l) of its most recent item "
                                        "the neighbour shares; 0 = off")
    vstan_idf: bool = _option(True, "vstan: weight each item of the session by its IDF, log(training sessions / "
                                    "training sessions holding it)")
    refit: bool = _option(False, "after validation selection, train again on training + validation for the "
                                 "selected number of epochs and score the test set once more (log.csv phase "
                                 "test_refit, summary.json test_refit; the model is kept in <run>/refit/)")
    # neural collaborative filtering: the loo protocol, GMF / MLP / NeuMF
    n_users: int = _option(0, "loo: rows of the user table (user ids 0..n_users-1); 0 = from the data")
    mlp_layers: str = _option("64,32,16,8", "MLP / NeuMF: the tower's sizes, comma-separated; the first is the "
                                            "concatenated user + item embedding (so each is half of it), the "
                                            "last the MLP's predictive factors")
    optimizer: str = _option("adam", "adam, or sgd (plain mini-batch SGD: the paper's choice for NeuMF after "
                                     "pretraining)", OPTIMIZERS)
    pretrain_gmf: str = _option("", "NeuMF: the run folder of a trained GMF whose weights start the GMF part "
                                    "(with --pretrain_mlp)")
    pretrain_mlp: str = _option("", "NeuMF: the run folder of a trained MLP whose weights start the MLP part "
                                    "(with --pretrain_gmf)")
    pretrain_alpha: float = _option(0.5, "NeuMF pretraining: output weights = [alpha * GMF's, (1 - alpha) * MLP's]")
    valid_full_ranking: bool = _option(False, "loo: also rank the full catalogue on the validation split every "
                                              "epoch (the test split always is); slow for MLP / NeuMF")

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
        for key, choices in field_choices().items():
            if getattr(self, key) not in choices:
                raise SrgnnError(
                    f"{source}: '{key}' must be one of {', '.join(choices)}, got {getattr(self, key)!r}"
                )
        positive = ("embedding_dim", "step", "max_length", "epochs", "batch_size", "topN",
                    "eval_batch_size", "sknn_neighbors")
        for key in positive:
            if getattr(self, key) < 1:
                raise SrgnnError(f"{source}: '{key}' must be >= 1, got {getattr(self, key)}")
        for key in ("patience", "n_items", "n_users", "num_workers", "lr_dc_step", "num_negatives",
                    "ivf_nlist", "ivf_nprobe", "cpu_threads", "tsne_max_items", "sknn_sample_size", "hidden_size",
                    "session_max_length", "num_layers", "num_heads", "score_budget_mb"):
            if getattr(self, key) < 0:
                raise SrgnnError(f"{source}: '{key}' must be >= 0, got {getattr(self, key)}")
        if not self.lr > 0:
            raise SrgnnError(f"{source}: 'lr' must be > 0, got {self.lr}")
        if self.scale < 0:
            raise SrgnnError(f"{source}: 'scale' must be >= 0, got {self.scale}")
        if self.max_positions < 0:
            raise SrgnnError(f"{source}: 'max_positions' must be >= 0, got {self.max_positions}")
        if not 0.0 <= self.gcsan_weight <= 1.0:
            raise SrgnnError(f"{source}: 'gcsan_weight' must be in [0, 1], got {self.gcsan_weight}")
        if self.itemknn_lambda < 0:
            raise SrgnnError(f"{source}: 'itemknn_lambda' must be >= 0, got {self.itemknn_lambda}")
        for key in ("sr_steps", "vsknn_neighbors"):  # the counted baselines of Ludewig & Jannach 2018
            if getattr(self, key) < 1:
                raise SrgnnError(f"{source}: '{key}' must be >= 1, got {getattr(self, key)}")
        for key in ("vsknn_sample_size", "stan_sample_size", "stan_lambda2", "vstan_lambda4"):
            if getattr(self, key) < 0:
                raise SrgnnError(f"{source}: '{key}' must be >= 0, got {getattr(self, key)}")
        if self.stan_neighbors < 1:
            raise SrgnnError(f"{source}: 'stan_neighbors' must be >= 1, got {self.stan_neighbors}")
        for key in ("stan_lambda1", "stan_lambda3"):
            if not getattr(self, key) > 0:
                raise SrgnnError(f"{source}: '{key}' must be > 0, got {getattr(self, key)}")
        if not 0.0 <= self.valid_portion < 1.0:
            raise SrgnnError(f"{source}: 'valid_portion' must be in [0, 1), got {self.valid_portion}")
        if not 0.0 <= self.dropout < 1.0:
            raise SrgnnError(f"{source}: 'dropout' must be in [0, 1), got {self.dropout}")
        for key in ("dropout_gcn", "dropout_local", "dropout_global"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise SrgnnError(f"{source}: '{key}' must be in [0, 1), got {getattr(self, key)}")
        if not 0 <= self.n_sample <= GLOBAL_TOP_K:
            raise SrgnnError(f"{source}: 'n_sample' must be in 0..{GLOBAL_TOP_K} (the neighbours the global graph "
                             f"keeps per item), got {self.n_sample}")
        if self.loss == "sampled_softmax" and self.num_negatives < 1:
            raise SrgnnError(f"{source}: loss 'sampled_softmax' needs 'num_negatives' >= 1")
        self.tower_sizes(source)
        if bool(self.pretrain_gmf) != bool(self.pretrain_mlp):
            raise SrgnnError(f"{source}: NeuMF pretraining needs both 'pretrain_gmf' and 'pretrain_mlp' "
                             f"(the run folders of a trained GMF and a trained MLP)")
        if not 0.0 <= self.pretrain_alpha <= 1.0:
            raise SrgnnError(f"{source}: 'pretrain_alpha' must be in [0, 1], got {self.pretrain_alpha}")

    def tower_sizes(self, source: str = "config") -> Tuple[int, ...]:
        """``mlp_layers`` as integers (``"64,32,16,8"`` -> ``(64, 32, 16, 8)``); SrgnnError unless
        there are at least two positive sizes and the first is even."""
        try:
            sizes = tuple(int(part) for part in self.mlp_layers.split(","))
        except ValueError:
            sizes = ()
        if len(sizes) < 2 or min(sizes) < 1 or sizes[0] % 2:
            raise SrgnnError(f"{source}: 'mlp_layers' must be comma-separated positive sizes, at least two, the "
                             f"first even (user + item embedding), e.g. 64,32,16,8; got {self.mlp_layers!r}")
        return sizes

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict of every field (what is saved with a run)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "Config":
        """A validated copy with some fields changed."""
        return Config.from_dict({**self.to_dict(), **changes})

    # ------------------------------------------------------------------ derived names
    def dataset_folder(self) -> str:
        """The notebook's dataset folder name: ``<dataset>_softmax``; other protocols use
        their own suffix (paper runs: ``_paper``, leave-one-out runs: ``_loo``)."""
        return f"{self.dataset}_{get_protocol(self.protocol).folder_suffix}"


def field_choices() -> Dict[str, Tuple[str, ...]]:
    """``{field: allowed values}`` of every field with a fixed set of values; ``protocol``'s
    are the registered protocols. Model names are checked where models are built
    (:func:`srgnn_paddle.models.model_class`), so the config never imports the models."""
    choices = {f.name: f.metadata["choices"] for f in fields(Config) if f.metadata.get("choices")}
    choices["protocol"] = tuple(_REGISTRY)
    return choices


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


#: The SR-GNN paper's official defaults (``configs/paper_*.yaml``), owned by the paper
#: protocol (:class:`srgnn_paddle.protocols.paper.PaperProtocol`).
PAPER_DEFAULTS: Dict[str, Any] = dict(get_protocol("paper").defaults)

#: The NCF paper's settings, owned by the loo protocol
#: (:class:`srgnn_paddle.protocols.loo.LeaveOneOutProtocol`).
LOO_DEFAULTS: Dict[str, Any] = dict(get_protocol("loo").defaults)

#: The defaults of each registered protocol that differ from the notebook's (:class:`Config`'s
#: own), as they were at import; :func:`load_config` asks the registry each time.
PROTOCOL_DEFAULTS: Dict[str, Dict[str, Any]] = {name: dict(p.defaults) for name, p in _REGISTRY.items() if p.defaults}


def read_yaml_file(path: Path, kind: str, flag: str) -> Any:
    """The parsed YAML of ``path`` (``None`` for an empty file); SrgnnError naming the file
    when it is missing (``kind`` file, pass it to ``flag``) or not valid YAML."""
    if not path.is_file():
        raise SrgnnError(f"{path}: {kind} file not found; pass an existing YAML file to {flag}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SrgnnError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix the file") from None


def load_config(path: Union[str, Path, None] = None, overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Load a YAML config file (if given), then apply ``overrides`` (e.g. command-line flags).

    Keys set by neither take the notebook's defaults, or those of the protocol named by
    ``protocol`` (from the file or the flags; :attr:`srgnn_paddle.protocols.Protocol.defaults`):
    with ``protocol: paper`` the paper's official ones (:data:`PAPER_DEFAULTS`), so
    ``train --protocol paper`` alone is the official configuration; with ``protocol: loo``
    the NCF paper's (:data:`LOO_DEFAULTS`: NeuMF, 8 factors, towers 64-32-16-8, 4 negatives).
    """
    data: Dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        data = read_yaml_file(p, "config", "--config")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SrgnnError(f"{p}: must hold a mapping of key: value pairs")
    protocol = (overrides or {}).get("protocol", data.get("protocol"))
    defaults = dict(_REGISTRY[protocol].defaults) if isinstance(protocol, str) and protocol in _REGISTRY else {}
    cfg = Config(**defaults)
    if path is not None:
        cfg.update(data, source=str(path))
    if overrides:
        cfg.update(overrides, source="command line")
    return cfg


def save_config(cfg: Config, path: Union[str, Path]) -> None:
    """Write the resolved config as YAML, atomically."""
    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
