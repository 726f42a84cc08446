"""``srgnn-paddle export``: a trained run as a folder a service can load without the training code.

The folder holds the session encoder as a static inference model (``encoder.json`` or
``encoder.pdmodel`` with ``encoder.pdiparams``; ``encoder.onnx`` with ``--format onnx``),
the scored item table (``items.npy``), a Faiss index over items ``1..n_items-1``
(``index.faiss``, flat or IVF as the run retrieved), the original id of every item
(``item_ids.json``), the training popularity counts (``popularity.npy``, the fallback of a
session with no known item) and ``manifest.json`` (model, config, sizes, scoring, the
graph pre-processing, versions and the SHA-256 of every file).

Which runs export: every trained inner-product session and sequence model (SR-GNN, GRU4Rec,
NARM, STAMP, GRUwATT, GGNNwATT, NISER+, GC-SAN, SGNN-HN, SASRec, LESSR, GCE-GNN; GCE-GNN's
folder also holds its global item graph, ``global_neighbors.npy`` / ``global_weights.npy``,
which its recorded pre-processing samples from). ``--format onnx`` not for those whose graphs
need segment sums (``index_add``, which paddle2onnx cannot convert): GGNNwATT, NISER+, GC-SAN
and SGNN-HN, which read only the packed graph, LESSR and GCE-GNN. Not exported, with the reason
in the error: TAGNN (its session vector depends on the candidate item, so there is no
item-independent query to search with), the NCF family (GMF, MLP, NeuMF score (known user,
item) pairs, not sessions; MLP and NeuMF also have no item vectors to search), and the count
baselines (POP, S-POP, item-KNN, SKNN, SR, V-SKNN, STAN, VSTAN: their scores are counts over
the training sessions, not an encoder and an item table; POP is the exported folders' popularity fallback).
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_directory
from srgnn_paddle.serving.backends import OnnxPredictor, PaddlePredictor, require_extra
from srgnn_paddle.serving.encoder import (BUILDERS, MODEL_LAYOUTS, eager_vectors, encoder_inputs, global_graph_of,
                                          input_specs, layouts_for, save_static)
from srgnn_paddle.serving.manifest import EXPORT_FORMATS, FORMAT, FORMAT_VERSION, MANIFEST_FILE, file_entries

ONNX_OPSET = 13
#: largest difference allowed between the exported encoder's vectors and the eager model's
TOLERANCE = 1e-4


def serving_max_length(cfg) -> int:
    """How many of a session's latest items the model reads, as in training: the notebook
    protocol's ``max_length``, the paper protocol's ``session_max_length`` (0 = all)."""
    return int(cfg.max_length if cfg.protocol == "notebook" else cfg.session_max_length)


def serving_scoring(cfg) -> str:
    """``cosine`` (the notebook protocol's Faiss recall over L2-normalised vectors) or
    ``inner_product`` (the paper protocol's full-catalogue scores)."""
    return "cosine" if cfg.protocol == "notebook" else "inner_product"


def check_exportable(model_class) -> None:
    """SrgnnError saying why a model class cannot be served as session encoder + item search."""
    name = model_class.name
    if model_class.batch_layout == "pairs":
        raise SrgnnError(f"model {name} scores (known user, item) pairs of the leave-one-out protocol, not "
                         f"sessions; export serves the trained session models (srgnn, sasrec, ...: batch layout "
                         f"session_graph or sequence)")
    if not model_class.trainable:
        raise SrgnnError(f"model {name} is a count baseline (its scores are counts over the training sessions, not "
                         f"an encoder and an item table); export serves trained session models, and every export "
                         f"falls back to the popularity ranking for sessions without a known item")
    if not model_class.inner_product:
        raise SrgnnError(f"model {name} does not score by inner product with an item table; it cannot be served "
                         f"by a Faiss search")
    if model_class.batch_layout not in MODEL_LAYOUTS:
        raise SrgnnError(f"model {name} reads a graph of its own (batch layout {model_class.batch_layout!r}) that "
                         f"the export does not record as a pre-processing step; export serves the batch layouts "
                         f"{', '.join(MODEL_LAYOUTS)}")


def probe_histories(n_items: int, seed: int = 0) -> np.ndarray:
    """Seeded padded histories ``[8, 12]`` of 1..12 items (repeats included) to check an export with."""
    rng = np.random.default_rng(seed)
    lengths = [1, 2, 3, 5, 8, 12, 4, 7]
    history = np.zeros((len(lengths), max(lengths)), dtype=np.int64)
    for row, length in enumerate(lengths):
        items = rng.integers(1, n_items, size=length)
        if length > 3:
            items[length // 2] = items[0]  # a repeated item: a cycle in the session graph
        history[row, :length] = items
    return history


def export_run(run_dir: Path, out: Path, fmt: str = "paddle", data_dir: Optional[Path] = None,
               overwrite: bool = False, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Export a finished run's best weights to ``out`` (see the module docstring); returns the
    manifest. Nothing is written under ``out`` unless every step succeeds."""
    import faiss
    import paddle

    from srgnn_paddle.data.interactions import read_item_map
    from srgnn_paddle.evaluation.retrieval import build_index, l2_normalize
    from srgnn_paddle.models import model_class
    from srgnn_paddle.runs import load_data, load_model, load_run, run_data_dir
    from srgnn_paddle.runtime import select_device

    if fmt not in EXPORT_FORMATS:
        raise SrgnnError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    if fmt in ("onnx", "both"):
        require_extra("onnx", "--format onnx")
    run_dir, out = Path(run_dir), Path(out)
    if out.exists() and not overwrite:
        raise SrgnnError(f"{out} already exists; choose another --out or add --overwrite")
    cfg, summary = load_run(run_dir)
    check_exportable(model_class(cfg.model))
    data_dir = run_data_dir(run_dir, summary, data_dir)
    select_device("cpu")
    model = load_model(cfg, run_dir)
    model.eval()
    data = load_data(cfg, data_dir)
    originals = _original_ids(read_item_map(data_dir), cfg.n_items, data_dir)
    scoring = serving_scoring(cfg)
    table = model.item_embeddings().numpy().astype(np.float32)
    vectors = l2_normalize(table) if scoring == "cosine" else table
    probe = probe_histories(cfg.n_items)
    layout = layouts_for(model)[0]
    graph = global_graph_of(model) if layout == "gcegnn" else None
    reference = eager_vectors(model, layout, probe, graph)
    encoders: Dict[str, Any] = {}
    with atomic_directory(out, overwrite=overwrite) as tmp:
        if fmt in ("paddle", "both"):
            save_static(model, layout, str(tmp / "encoder"), graph)
            model_file = "encoder.json" if (tmp / "encoder.json").is_file() else "encoder.pdmodel"
            predictor = PaddlePredictor(tmp / model_file, tmp / "encoder.pdiparams", _names(layout, graph))
            diff = _check(predictor(encoder_inputs(layout, probe, graph)), reference, "Paddle")
            single = predictor(encoder_inputs(layout, probe[:1, :1], graph))  # a batch without any transition
            _check(single, reference[:1], "Paddle")
            encoders["paddle"] = _encoder_entry(layout, graph, [model_file, "encoder.pdiparams"], diff)
        if fmt in ("onnx", "both"):
            encoders["onnx"] = _export_onnx(model, tmp, probe, reference)
        for name in list(tmp.glob("*.pdiparams.info")):  # a Paddle 2.6 side file nothing reads
            name.unlink()
        index = build_index(vectors[1:], cfg.index, nlist=cfg.ivf_nlist, nprobe=cfg.ivf_nprobe, use_gpu=False)
        faiss.write_index(index, str(tmp / "index.faiss"))
        np.save(tmp / "items.npy", vectors, allow_pickle=False)
        np.save(tmp / "popularity.npy", np.asarray(data.item_counts, dtype=np.int64), allow_pickle=False)
        if graph is not None:  # GCE-GNN: the global item graph its pre-processing samples from
            np.save(tmp / "global_neighbors.npy", graph.neighbors, allow_pickle=False)
            np.save(tmp / "global_weights.npy", graph.weights, allow_pickle=False)
        (tmp / "item_ids.json").write_text(json.dumps(originals), encoding="utf-8")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": cfg.model,
            "display_name": model_class(cfg.model).display_name,
            "run_dir": str(run_dir.resolve()),
            "data_dir": str(Path(data_dir).resolve()),
            "config": dataclasses.asdict(cfg),
            "n_items": int(cfg.n_items),
            "embedding_dim": int(table.shape[1]),
            "scoring": scoring,
            "max_length": serving_max_length(cfg),
            "index": {"file": "index.faiss", "kind": cfg.index, "nlist": int(getattr(index, "nlist", 0)),
                      "nprobe": int(getattr(index, "nprobe", 0)), "rows": "items 1..n_items-1, id = row + 1"},
            "item_table": "items.npy",
            "item_ids": "item_ids.json",
            "popularity": "popularity.npy",
            **({"global_graph": {"neighbors": "global_neighbors.npy", "weights": "global_weights.npy",
                                 "hops": graph.hops, "n_sample": graph.n_sample}} if graph is not None else {}),
            "encoders": encoders,
            "versions": _versions(paddle.__version__, faiss.__version__, encoders),
            "files": file_entries(tmp),
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    log(f"exported {cfg.model} ({cfg.n_items - 1} items, D {table.shape[1]}, {scoring}, "
        f"{' + '.join(encoders)}) to {out}")
    return manifest


def _names(layout: str, graph=None) -> List[str]:
    return [name for name, _, _ in input_specs(layout, graph)]


def _encoder_entry(layout: str, graph, files: List[str], diff: float) -> Dict[str, Any]:
    specs = input_specs(layout, graph)
    return {"files": files, "layout": layout, "inputs": [{"name": n, "shape": s, "dtype": d} for n, s, d in specs],
            "graph_builder": BUILDERS[layout], "max_abs_diff_vs_eager": diff}


def _check(got: np.ndarray, reference: np.ndarray, what: str) -> float:
    """The largest difference between an exported encoder's vectors and the eager model's;
    SrgnnError when it exceeds :data:`TOLERANCE` (relative to the vectors' scale)."""
    diff = float(np.abs(got - reference).max())
    scale = max(1.0, float(np.abs(reference).max()))
    if got.shape != reference.shape or not diff <= TOLERANCE * scale:
        raise SrgnnError(f"the {what} encoder's session vectors differ from the eager model's by {diff:.3g}; "
                         f"this model cannot be exported to {what}")
    return diff


def _export_onnx(model, tmp: Path, probe: np.ndarray, reference: np.ndarray) -> Dict[str, Any]:
    """``encoder.onnx`` through paddle2onnx (in a child process: it aborts the process on an
    unsupported operator), checked with onnxruntime against the eager model. A session-graph
    model goes through the dense layout: paddle2onnx has no converter for the packed graph's
    ``index_add``."""
    layout = layouts_for(model)[-1]
    own = {"lessr": "its EOP multigraph and shortcut graph", "gcegnn": "its typed session graph and global graph"}
    if layout in own or (layout == "dense" and not _reads_dense_graphs(model, probe, reference)):
        graph = own.get(layout, "only the packed session graph")
        raise SrgnnError(f"model {model.name} reads {graph}, whose segment sums (index_add) paddle2onnx cannot "
                         f"convert; export it with --format paddle")
    with tempfile.TemporaryDirectory(prefix="srgnn-onnx-") as work:
        prefix = Path(work) / "encoder"
        save_static(model, layout, str(prefix))
        model_file = prefix.with_suffix(".json") if prefix.with_suffix(".json").is_file() else prefix.with_suffix(".pdmodel")
        code = ("import sys, paddle2onnx; paddle2onnx.export(sys.argv[1], sys.argv[2], sys.argv[3], "
                f"opset_version={ONNX_OPSET}, enable_optimize=False)")
        env = {**os.environ, "POLYGRAPHY_AUTOINSTALL_DEPS": "0"}
        done = subprocess.run([sys.executable, "-c", code, str(model_file), str(prefix.with_suffix(".pdiparams")),
                               str(tmp / "encoder.onnx")], capture_output=True, text=True, env=env)
    if done.returncode != 0 or not (tmp / "encoder.onnx").is_file():
        import paddle2onnx

        said = [line.strip() for line in (done.stdout + done.stderr).splitlines()
                if "ERROR" in line or "not supported" in line or "Error" in line]
        reason = said[0] if said else f"exit status {done.returncode}"
        raise SrgnnError(f"paddle2onnx {paddle2onnx.__version__} could not convert the {model.name} encoder "
                         f"({reason}); export it with --format paddle")
    onnx = OnnxPredictor(tmp / "encoder.onnx", _names(layout))
    got = onnx(encoder_inputs(layout, probe))
    _check(onnx(encoder_inputs(layout, probe[:1, :1])), reference[:1], "ONNX")  # a batch without any transition
    entry = _encoder_entry(layout, None, ["encoder.onnx"], _check(got, reference, "ONNX"))
    entry["opset"] = ONNX_OPSET
    return entry


def _reads_dense_graphs(model, probe: np.ndarray, reference: np.ndarray) -> bool:
    """Whether ``model.encode`` gives the packed graph's vectors from the dense graph too."""
    try:
        return float(np.abs(eager_vectors(model, "dense", probe) - reference).max()) <= TOLERANCE
    except (AttributeError, TypeError, ValueError):  # an encoder that reads only the packed layout's fields
        return False


def _original_ids(frame, n_items: int, data_dir: Path) -> List[Any]:
    """The original id of every encoded id ``0..n_items-1`` (entry 0, the padding, None),
    from the data folder's ``item_map.csv`` (ids as they are when it has none)."""
    if frame is None:
        return [None] + list(range(1, n_items))
    originals: List[Any] = [None] * n_items
    for original, code in zip(frame["original_item_id"].tolist(), frame["item_id"].tolist()):
        if not 1 <= code < n_items:
            raise SrgnnError(f"{data_dir}/item_map.csv: item_id {code} is outside 1..{n_items - 1}, the run's "
                             f"items; pass the data folder the run was trained on (--data_dir)")
        originals[code] = original
    return originals


def _versions(paddle_version: str, faiss_version: str, encoders: Dict[str, Any]) -> Dict[str, str]:
    import srgnn_paddle

    versions = {"srgnn_paddle": srgnn_paddle.__version__, "paddle": paddle_version, "faiss": faiss_version,
                "numpy": np.__version__, "python": platform.python_version()}
    if "onnx" in encoders:
        import onnxruntime
        import paddle2onnx

        versions.update(paddle2onnx=paddle2onnx.__version__, onnxruntime=onnxruntime.__version__)
    return versions
