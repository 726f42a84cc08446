""":class:`SessionRecommender`: top-K next items for live sessions from an export folder.

``SessionRecommender.load(DIR)`` checks the manifest's hashes, opens the encoder with
Paddle Inference (or ONNX Runtime) and the Faiss index; ``recommend(sessions, k)`` maps the
original ids to the model's, drops and reports unknown ones, keeps each session's latest
``max_length`` items (as training did), builds the batch's graphs in numpy, encodes the
whole batch in one predictor call and searches the index once. A session with no known item
gets the training popularity ranking, flagged ``fallback``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.serving.backends import OnnxPredictor, PaddlePredictor
from srgnn_paddle.serving.encoder import GlobalGraph, encoder_inputs, pad_histories
from srgnn_paddle.serving.manifest import verify_export

#: the stages of :meth:`SessionRecommender.recommend` whose seconds ``timings`` collects
STAGES = ("graph", "encoder", "search")


@dataclass
class Recommendation:
    """One session's answer: original item ids, best first, and their scores (cosine or
    inner product; the training counts for a fallback), the session's ids unknown to the
    model (dropped), and whether the popularity ranking stood in (no known item)."""

    items: List[Any]
    scores: List[float]
    unknown: List[Any] = field(default_factory=list)
    fallback: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return {"items": self.items, "scores": self.scores, "unknown": self.unknown, "fallback": self.fallback}


def item_key(item: Any) -> str:
    """The lookup key of an original id: integers and their decimal strings are one id."""
    return str(item).strip() if isinstance(item, str) else str(int(item))


class SessionRecommender:
    """An exported model ready to answer; build it with :meth:`load`.

    Attributes:
        manifest: the export's ``manifest.json``.
        n_items, max_length, scoring: from the manifest (``max_length`` 0 = whole sessions).
        backend: ``paddle`` or ``onnx``.
    """

    def __init__(self, manifest: Dict[str, Any], predictor, layout: str, index, originals: List[Any],
                 popularity: np.ndarray, global_graph: Optional[GlobalGraph] = None) -> None:
        self.manifest = manifest
        self.n_items = int(manifest["n_items"])
        self.max_length = int(manifest["max_length"])
        self.scoring = manifest["scoring"]
        self.predictor = predictor
        self.backend = predictor.backend
        self.layout = layout
        self.global_graph = global_graph  # GCE-GNN's: what its pre-processing samples from
        self.index = index
        self.originals = originals
        self.codes = {item_key(original): code for code, original in enumerate(originals) if original is not None}
        order = np.argsort(-popularity[1:], kind="stable") + 1  # most popular first, item 0 never
        self.popular = order
        self.popular_scores = popularity[order].astype(np.float64)

    @classmethod
    def load(cls, export_dir, device: str = "cpu", backend: str = "auto", threads: int = 1) -> "SessionRecommender":
        """Open an export folder (refused when a file does not match the manifest's hash).

        Args:
            export_dir: a folder written by ``srgnn-paddle export``.
            device: ``cpu`` or ``gpu`` (Paddle Inference on GPU 0; ``auto``: GPU when usable).
            backend: ``paddle``, ``onnx`` or ``auto`` (Paddle when exported, else ONNX).
            threads: CPU threads of the predictor.
        """
        import faiss

        from srgnn_paddle.runtime import gpu_available

        folder = Path(export_dir)
        manifest = verify_export(folder)
        encoders = manifest["encoders"]
        if backend == "auto":
            backend = "paddle" if "paddle" in encoders else "onnx"
        if backend not in encoders:
            raise SrgnnError(f"{folder}: has no {backend} encoder (it has {', '.join(encoders)}); "
                             f"export it with --format {backend} or both")
        if device == "auto":
            device = "gpu" if gpu_available() else "cpu"
        if device == "gpu" and not gpu_available():
            raise SrgnnError("--device gpu: Paddle has no usable GPU here; use --device cpu")
        entry = encoders[backend]
        names = [spec["name"] for spec in entry["inputs"]]
        if backend == "paddle":
            predictor = PaddlePredictor(folder / entry["files"][0], folder / entry["files"][1], names, device, threads)
        else:
            predictor = OnnxPredictor(folder / entry["files"][0], names, threads)
        index = faiss.read_index(str(folder / manifest["index"]["file"]))
        if manifest["index"].get("nprobe"):
            index.nprobe = int(manifest["index"]["nprobe"])
        originals = json.loads((folder / manifest["item_ids"]).read_text(encoding="utf-8"))
        popularity = np.load(folder / manifest["popularity"], allow_pickle=False)
        n_items = int(manifest["n_items"])
        if len(originals) != n_items or len(popularity) != n_items or index.ntotal != n_items - 1:
            raise SrgnnError(f"{folder}: the item map, popularity and index do not all cover the manifest's "
                             f"{n_items} items; export the run again")
        global_graph = None
        if "global_graph" in manifest:
            spec = manifest["global_graph"]
            global_graph = GlobalGraph(np.load(folder / spec["neighbors"], allow_pickle=False),
                                       np.load(folder / spec["weights"], allow_pickle=False),
                                       int(spec["hops"]), int(spec["n_sample"]))
            if len(global_graph.neighbors) != n_items or global_graph.weights.shape != global_graph.neighbors.shape:
                raise SrgnnError(f"{folder}: the global graph does not cover the manifest's {n_items} items; "
                                 f"export the run again")
        return cls(manifest, predictor, entry["layout"], index, originals, popularity, global_graph)

    def encode_session(self, session: Sequence[Any]) -> tuple:
        """``(codes, unknown)``: the model's ids of a session's known items, in order, cut to the
        latest ``max_length``, and the original ids it does not know."""
        codes, unknown = [], []
        for item in session:
            code = self.codes.get(item_key(item), 0) if isinstance(item, (int, str, np.integer)) else 0
            if code:
                codes.append(code)
            else:
                unknown.append(item)
        if self.max_length and len(codes) > self.max_length:
            codes = codes[-self.max_length:]
        return codes, unknown

    def session_vectors(self, histories: List[List[int]]) -> np.ndarray:
        """``[B, D]`` float32 session vectors of encoded sessions (each >= 1 item)."""
        return self.predictor(encoder_inputs(self.layout, pad_histories(histories), self.global_graph))

    def recommend(self, sessions: Sequence[Sequence[Any]], k: int = 20,
                  timings: Optional[Dict[str, float]] = None) -> List[Recommendation]:
        """The ``k`` best next items of every session (lists of original ids), in one batch.

        Args:
            sessions: ``B`` sessions, each a non-empty list of original item ids (ints or strings).
            k: items per session, ``1..n_items-1``.
            timings: when given, the seconds of each stage of :data:`STAGES` are added to it.
        Returns:
            ``B`` :class:`Recommendation`, in the order of ``sessions``.
        """
        if not 1 <= int(k) < self.n_items:
            raise SrgnnError(f"k must be between 1 and {self.n_items - 1} (the export's items), got {k}")
        k = int(k)
        start = time.perf_counter()
        encoded = []
        for row, session in enumerate(sessions):
            if len(session) == 0:
                raise SrgnnError(f"session {row} is empty; a session needs at least one item id")
            encoded.append(self.encode_session(session))
        known = [row for row, (codes, _) in enumerate(encoded) if codes]
        results: List[Optional[Recommendation]] = [None] * len(encoded)
        if known:
            feeds = encoder_inputs(self.layout, pad_histories([encoded[row][0] for row in known]), self.global_graph)
            encoded_at = time.perf_counter()
            vectors = np.ascontiguousarray(self.predictor(feeds), dtype=np.float32)
            searched_at = time.perf_counter()
            if self.scoring == "cosine":
                vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            scores, rows = self.index.search(vectors, k)
            done = time.perf_counter()
            if timings is not None:
                for stage, seconds in zip(STAGES, (encoded_at - start, searched_at - encoded_at, done - searched_at)):
                    timings[stage] = timings.get(stage, 0.0) + seconds
            originals = self.originals
            for row, ids, values in zip(known, rows.tolist(), scores.tolist()):
                results[row] = Recommendation([originals[i + 1] for i in ids if i >= 0],
                                              [float(v) for i, v in zip(ids, values) if i >= 0], encoded[row][1])
        top = [self.originals[i] for i in self.popular[:k].tolist()]
        top_scores = self.popular_scores[:k].tolist()
        for row, (codes, unknown) in enumerate(encoded):
            if not codes:
                results[row] = Recommendation(list(top), list(top_scores), unknown, fallback=True)
        return results  # type: ignore[return-value]

    def metadata(self) -> Dict[str, Any]:
        """What a client may want to know: the model, sizes, scoring, limits and versions."""
        m = self.manifest
        return {"model": m["model"], "display_name": m["display_name"], "n_items": self.n_items,
                "embedding_dim": m["embedding_dim"], "scoring": self.scoring, "max_length": self.max_length,
                "index": {key: m["index"][key] for key in ("kind", "nlist", "nprobe")}, "backend": self.backend,
                "layout": self.layout, "created_utc": m["created_utc"], "versions": m["versions"]}
