"""Training-step time and peak memory as the catalogue grows; Faiss flat vs IVF search.

    PYTHONPATH=. python benchmarks/bench_scale.py [--items 15406,100000,1000000] [--steps 5]
        [--num_negatives 1024] [--queries 2000] [--nprobe 8,32] [--cpu_threads N] [--json]

Training: the notebook's model size (batch 256, D 16, max_length 20, step 2, Adam) on random
right-padded histories over a catalogue of ``n`` items, with the full softmax (every item
scored) and with sampled softmax (``--num_negatives`` shared uniform negatives, log-q
corrected). Each (catalogue, loss) pair runs in its own child process so that its peak
resident memory (``ru_maxrss``) is its own; the step time is the median of ``--steps``
steps after one warm-up step.

Search: ``n`` item vectors drawn from a mixture of 1,000 Gaussian clusters in 16-D
(standard-normal centres plus ``--cluster_noise`` x standard-normal noise, L2-normalised: a
stand-in for trained embeddings, which are clustered; the smaller the noise, the easier for
IVF), ``--queries`` user vectors from the same mixture, top 50
by inner product with ``IndexFlatIP`` and ``IndexIVFFlat`` (default ``nlist``, several
``nprobe``). Reported: build and search seconds, and the recall overlap
``|IVF top-50 ∩ flat top-50| / 50`` averaged over the queries.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np

TOP_N = 50


def train_step_stats(n_items: int, loss_kind: str, steps: int, num_negatives: int, cpu_threads: int,
                     seed: int = 0) -> Dict[str, Any]:
    """Median step milliseconds and peak RSS (MiB) of this process for one configuration."""
    from srgnn_paddle.config import Config
    from srgnn_paddle.kernels import select_kernels
    from srgnn_paddle.models import SRGNN
    from srgnn_paddle.runtime import seed_everything, select_device

    select_device("cpu")
    cfg = Config(n_items=n_items, device="cpu", cpu_threads=cpu_threads)
    seed_everything(seed)
    model = SRGNN(cfg)
    with select_kernels("host", "cpu", cpu_threads) as kernels, kernels.attach(model):
        return _time_steps(cfg, model, kernels, n_items, loss_kind, num_negatives, steps, seed)


def _time_steps(cfg, model, kernels, n_items: int, loss_kind: str, num_negatives: int, steps: int,
                seed: int) -> Dict[str, Any]:
    import paddle

    from srgnn_paddle.data import Batch
    from srgnn_paddle.data.graph import build_packed_graph
    from srgnn_paddle.training import NegativeSampler, sampled_softmax_loss

    optimizer = kernels.optimizer(model.parameters(), cfg.lr, cfg.weight_decay)
    sampler = NegativeSampler(n_items, "uniform", None, num_negatives, seed) if loss_kind == "sampled" else None
    rng = np.random.default_rng(seed)
    times = []
    for step in range(steps + 1):
        hist = rng.integers(1, n_items, size=(cfg.batch_size, cfg.max_length))
        lengths = rng.integers(4, cfg.max_length + 1, size=cfg.batch_size)
        hist[np.arange(cfg.max_length)[None, :] >= lengths[:, None]] = 0
        target = paddle.to_tensor(rng.integers(1, n_items, size=cfg.batch_size))
        start = time.perf_counter()
        batch = Batch(hist, (hist > 0).astype(np.float32), target, build_packed_graph(hist))
        if sampler is None:
            loss = model.calculate_loss(batch, kernels.cross_entropy)
        else:
            loss = sampled_softmax_loss(model.encode(batch), model.item_embeddings(), target, sampler.draw(1, step),
                                        sampler.log_q)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        float(loss)
        if step:
            times.append(time.perf_counter() - start)
    return {"items": n_items, "loss": loss_kind, "step_ms": 1000.0 * float(np.median(times)),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def clustered_vectors(n: int, dim: int, rng: np.random.Generator, centers: np.ndarray,
                      noise: float) -> np.ndarray:
    """``[n, dim]`` float32 L2-normalised points around random ``centers``."""
    x = centers[rng.integers(0, len(centers), size=n)] + noise * rng.standard_normal((n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def search_stats(n_items: int, queries: int, nprobes: List[int], noise: float, seed: int = 0) -> List[Dict[str, Any]]:
    """Flat vs IVF build/search seconds and top-50 overlap on clustered vectors."""
    from srgnn_paddle.evaluation.retrieval import build_index

    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((1000, 16)).astype(np.float32)
    items = clustered_vectors(n_items, 16, rng, centers, noise)
    users = clustered_vectors(queries, 16, rng, centers, noise)
    start = time.perf_counter()
    flat = build_index(items, "flat", use_gpu=False)
    flat_build = time.perf_counter() - start
    start = time.perf_counter()
    _, exact = flat.search(users, TOP_N)
    rows = [{"items": n_items, "index": "flat", "nlist": 0, "nprobe": 0, "build_s": flat_build,
             "search_s": time.perf_counter() - start, "overlap@50": 1.0}]
    start = time.perf_counter()
    ivf = build_index(items, "ivf", nprobe=1, use_gpu=False)
    ivf_build = time.perf_counter() - start
    for nprobe in nprobes:
        ivf.nprobe = min(nprobe, ivf.nlist)
        start = time.perf_counter()
        _, approx = ivf.search(users, TOP_N)
        seconds = time.perf_counter() - start
        overlap = np.mean([len(np.intersect1d(a, e)) / TOP_N for a, e in zip(approx, exact)])
        rows.append({"items": n_items, "index": "ivf", "nlist": int(ivf.nlist), "nprobe": int(ivf.nprobe),
                     "build_s": ivf_build, "search_s": seconds, "overlap@50": float(overlap)})
    return rows


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="15406,100000,1000000", help="catalogue sizes, comma-separated")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per configuration")
    parser.add_argument("--max_steps", type=int, default=None, help="alias of --steps")
    parser.add_argument("--num_negatives", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--nprobe", default="8,32", help="IVF nprobe values, comma-separated")
    parser.add_argument("--cpu_threads", type=int, default=0,
                        help="cores for the CPU host math (0 = every core, as in training)")
    parser.add_argument("--cluster_noise", type=float, default=1.0, help="spread of the clusters (see above)")
    parser.add_argument("--skip_train", action="store_true")
    parser.add_argument("--skip_search", action="store_true")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: "ITEMS,LOSS"
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    args.cpu_threads = args.cpu_threads or os.cpu_count() or 1
    steps = args.max_steps if args.max_steps is not None else args.steps

    if args.one:
        n_items, loss_kind = args.one.split(",")
        print(json.dumps(train_step_stats(int(n_items), loss_kind, steps, args.num_negatives, args.cpu_threads)))
        return {}

    sizes = [int(s) for s in args.items.split(",") if s]
    train_rows = []
    for n_items in [] if args.skip_train else sizes:
        for loss_kind in ("full", "sampled"):
            cmd = [sys.executable, __file__, "--one", f"{n_items},{loss_kind}", "--steps", str(steps),
                   "--num_negatives", str(args.num_negatives), "--cpu_threads", str(args.cpu_threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            train_rows.append(row)
            print(f"train step, {n_items:>8} items, {loss_kind:>7} softmax: {row['step_ms']:8.1f} ms, "
                  f"peak RSS {row['peak_rss_mb']:7.0f} MiB")
    search_rows: List[Dict[str, Any]] = []
    if not args.skip_search:
        import faiss

        faiss.omp_set_num_threads(args.cpu_threads)
        nprobes = [int(s) for s in args.nprobe.split(",") if s]
        for n_items in sizes:
            for row in search_stats(n_items, args.queries, nprobes, args.cluster_noise):
                search_rows.append(row)
                print(f"search {args.queries} users, {n_items:>8} items, {row['index']:>4} nlist {row['nlist']:>5} "
                      f"nprobe {row['nprobe']:>3}: build {row['build_s']:6.2f} s, search {row['search_s']:6.3f} s, "
                      f"overlap@50 {row['overlap@50']:.3f}")
    result = {"cpu_threads": args.cpu_threads, "batch_size": 256, "embedding_dim": 16, "steps": steps,
              "num_negatives": args.num_negatives, "cluster_noise": args.cluster_noise, "train": train_rows, "search": search_rows}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
