"""Per-batch cost of building SR-GNN session graphs: vectorised vs the notebook's loop.

    PYTHONPATH=. python benchmarks/bench_graph.py [--batch 256] [--length 20] [--repeats 20] [--json]

Times :func:`srgnn_paddle.data.graph.build_session_graph` (the notebook's dense layout),
:func:`srgnn_paddle.data.graph.build_packed_graph` (the loaders' default) and the notebook's
per-session loop (:func:`notebook_reference.notebook_session_graph`, spec
``notebook.md`` §3) on the same random right-padded ``[batch, length]`` histories, after
checking that the dense builder agrees with the loop.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Callable, Dict, List, Optional

import numpy as np

from srgnn_paddle.data.graph import build_packed_graph, build_session_graph
from notebook_reference import notebook_session_graph


def random_histories(batch: int, length: int, n_items: int, seed: int) -> np.ndarray:
    """``[batch, length]`` int64 histories with 5..length real items, right-padded with 0."""
    rng = np.random.default_rng(seed)
    hist = rng.integers(1, n_items, size=(batch, length))
    lengths = rng.integers(5, length + 1, size=batch)
    hist[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return hist.astype(np.int64)


def time_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--n_items", type=int, default=15406)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)

    hist = random_histories(args.batch, args.length, args.n_items, args.seed)
    fast, slow = build_session_graph(hist), notebook_session_graph(hist)
    for got, want in zip(fast, slow):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    result = {
        "batch": args.batch,
        "length": args.length,
        "vectorised_ms_per_batch": time_ms(lambda: build_session_graph(hist), args.repeats),
        "packed_ms_per_batch": time_ms(lambda: build_packed_graph(hist), args.repeats),
        "notebook_loop_ms_per_batch": time_ms(lambda: notebook_session_graph(hist), args.repeats),
    }
    result["speedup"] = result["notebook_loop_ms_per_batch"] / result["vectorised_ms_per_batch"]
    print(f"graph building, batch {args.batch} x {args.length} (median of {args.repeats}):")
    print(f"  vectorised (build_session_graph): {result['vectorised_ms_per_batch']:.2f} ms/batch")
    print(f"  packed (build_packed_graph):      {result['packed_ms_per_batch']:.2f} ms/batch")
    print(f"  notebook per-session loop:        {result['notebook_loop_ms_per_batch']:.2f} ms/batch")
    print(f"  speed-up: {result['speedup']:.1f}x")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
