"""Serving SR-GNN on DIGINETICA: eager vs Paddle Inference vs ONNX Runtime per batch, and the
HTTP service under a closed-loop load on localhost.

    PYTHONPATH=. python3 benchmarks/bench_serve.py --data_dir ../shared/data/diginetica \\
        --out benchmarks/results/bench_serve.txt [--run_dir RUN] [--json]

1. The model: ``--run_dir`` (a trained run), else an SR-GNN at the paper configuration
   (``configs/paper_diginetica.yaml``: D 100, one propagation step, uniform init, seed 2024)
   with its initial weights, written as a run folder under ``--work`` (latency does not
   depend on the weights). Exported with ``--format both`` (Paddle + ONNX).
2. Per-batch latency (median of repeats; batch 1, 32, 256 of real DIGINETICA test prefixes,
   k = 20): the session encoder alone (eager ``model.encode`` with plain Paddle kernels,
   Paddle Inference, ONNX Runtime, all on one thread), then the whole top-K: eager
   ``full_scores`` + top-k over the 43,097 items vs ``SessionRecommender.recommend``
   (graph + predictor + Faiss flat search) with each runtime.
3. The service (``srgnn-paddle serve``, one thread) in a child process on a free
   127.0.0.1 port, with and without micro-batching: ``--clients`` concurrent closed-loop
   clients (``--client raw``: HTTP/1.1 over asyncio streams, keep-alive, the default; or
   ``httpx``) send ``--requests`` ``POST /recommend`` (one session, k = 20) after a warm-up; throughput, p50/p95/p99 latency, errors (non-200 or transport errors), and the
   server's split of a request's time (``GET /stats``: parse, queue, graph, encoder,
   search, serialise). Then the same with ``POST /recommend/batch`` of ``--batch_sessions``
   sessions per request.

Client and server share the machine's cores; the report names the client, the server's
event loop and HTTP parser, and the 1-minute load average before each HTTP run (other
work on the machine takes cores from both). It ends with the serving targets, met or not. Bounded: a fixed number of requests, every
request with a timeout; about 2-3 minutes on 2 idle cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

K = 20
BATCHES = (1, 32, 256)


def time_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``repeats`` calls after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def untrained_run(data_dir: Path, work: Path) -> Path:
    """A run folder holding an SR-GNN at the paper's DIGINETICA configuration with its
    initial weights (config.yaml, model.pdparams, summary.json naming the data)."""
    import paddle

    from srgnn_paddle.config import load_config, save_config
    from srgnn_paddle.data import load_session_pickles
    from srgnn_paddle.models import build_model
    from srgnn_paddle.runtime import seed_everything

    run = work / "run_untrained"
    if (run / "model.pdparams").is_file():
        return run
    cfg = load_config(REPO_ROOT / "configs" / "paper_diginetica.yaml")
    cfg = cfg.replace(n_items=load_session_pickles(data_dir).n_items)
    seed_everything(cfg.seed)
    model = build_model(cfg)
    run.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run / "config.yaml")
    paddle.save(model.state_dict(), str(run / "model.pdparams"))
    (run / "summary.json").write_text(json.dumps({"data_dir": str(data_dir.resolve()), "note": "untrained"}))
    return run


def test_sessions(data_dir: Path, n: int, seed: int = 0) -> List[List[int]]:
    """``n`` seeded DIGINETICA test prefixes (the ids are the published encoded ones)."""
    from srgnn_paddle.data import load_session_pickles

    seqs, _ = load_session_pickles(data_dir).test
    rows = np.random.default_rng(seed).choice(len(seqs), size=n, replace=False)
    return [list(map(int, seqs[r])) for r in rows]


def latency(run_dir: Path, export_dir: Path, sessions: List[List[int]], repeats: int) -> Dict[str, Any]:
    import paddle

    from srgnn_paddle.data import Batch
    from srgnn_paddle.evaluation.retrieval import top_items
    from srgnn_paddle.runs import load_model, load_run
    from srgnn_paddle.runtime import single_threaded_math
    from srgnn_paddle.serving import SessionRecommender
    from srgnn_paddle.serving.encoder import encoder_inputs, pad_histories

    cfg, _ = load_run(run_dir)
    model = load_model(cfg, run_dir)
    model.eval()
    backends = {name: SessionRecommender.load(export_dir, backend=name, threads=1) for name in ("paddle", "onnx")}
    out: Dict[str, Any] = {}
    with single_threaded_math(), paddle.no_grad():
        for b in BATCHES:
            rows = sessions[:b]
            history = pad_histories(rows)
            feeds = encoder_inputs("packed", history)
            dense = encoder_inputs("dense", history)
            batch = Batch(history, (history > 0).astype("float32"), None)
            reps = repeats if b < 256 else max(3, repeats // 4)
            row = {
                "encoder_eager_ms": time_ms(lambda: model.encode(batch).numpy(), reps),
                "encoder_paddle_inference_ms": time_ms(lambda: backends["paddle"].predictor(feeds), reps),
                "encoder_onnxruntime_ms": time_ms(lambda: backends["onnx"].predictor(dense), reps),
                "topk_eager_ms": time_ms(lambda: top_items(model.full_scores(batch).numpy(), K), reps),
                "topk_paddle_inference_faiss_ms": time_ms(lambda: backends["paddle"].recommend(rows, K), reps),
                "topk_onnxruntime_faiss_ms": time_ms(lambda: backends["onnx"].recommend(rows, K), reps),
            }
            row["encoder_speedup_paddle_inference_vs_eager"] = row["encoder_eager_ms"] / row["encoder_paddle_inference_ms"]
            row["topk_speedup_paddle_inference_vs_eager"] = row["topk_eager_ms"] / row["topk_paddle_inference_faiss_ms"]
            out[f"batch_{b}"] = row
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(export_dir: Path, batching: bool, log: Path) -> tuple:
    import httpx

    port = free_port()
    args = [sys.executable, "-m", "srgnn_paddle", "serve", "--export_dir", str(export_dir), "--port", str(port),
            "--threads", "1"] + ([] if batching else ["--no-batching"])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    handle = open(log, "w")
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited; see {log}")
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return proc, url, handle
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the service did not answer /health within 2 minutes")


async def closed_loop(url: str, bodies: List[bytes], path: str, clients: int, timeout: float,
                      client: str = "raw") -> Dict[str, Any]:
    """``clients`` closed-loop clients, each sending its next body when the previous answer
    arrived, over its own keep-alive connection: ``raw`` HTTP/1.1 on asyncio streams (a few
    tens of microseconds of client CPU a request, so the server gets the cores), or ``httpx``'s
    AsyncClient (about a millisecond a request, which on 2 shared cores is CPU the server loses)."""
    if client == "httpx":
        return await _httpx_closed_loop(url, bodies, path, clients, timeout)
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: ").encode()
    latencies: List[float] = []
    errors: Dict[str, int] = {}
    cursor = iter(range(len(bodies)))

    def count(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def exchange(reader, writer, body: bytes) -> tuple:
        """(status, body, whether the server closes) of one request."""
        writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status, length, close = int(lines[0].split(b" ", 2)[1]), None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if length is None:
            raise ValueError("an answer without Content-Length")
        return status, await reader.readexactly(length), close

    async def worker() -> None:
        reader = writer = None
        for i in cursor:
            start = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, int(port))
                status, answer, close = await asyncio.wait_for(exchange(reader, writer, bodies[i]), timeout)
                if status != 200:
                    count(str(status))
                elif not answer.startswith((b'{"items"', b'[{"items"')):
                    count("unexpected body")
                if close:
                    writer.close()
                    reader = writer = None
            except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                count(type(exc).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
            latencies.append(time.perf_counter() - start)
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return _summary(latencies, errors, len(bodies), time.perf_counter() - started)


async def _httpx_closed_loop(url: str, bodies: List[bytes], path: str, clients: int, timeout: float) -> Dict[str, Any]:
    import httpx

    latencies: List[float] = []
    errors: Dict[str, int] = {}
    cursor = iter(range(len(bodies)))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        async def worker():
            for i in cursor:
                start = time.perf_counter()
                try:
                    got = await client.post(path, content=bodies[i], headers={"content-type": "application/json"})
                    if got.status_code != 200:
                        errors[str(got.status_code)] = errors.get(str(got.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return _summary(latencies, errors, len(bodies), wall)


def _summary(latencies: List[float], errors: Dict[str, int], n: int, wall: float) -> Dict[str, Any]:
    lat = np.asarray(latencies) * 1000.0
    return {"requests": n, "wall_s": wall, "requests_per_s": n / wall,
            "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
            "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max()),
            "errors": int(sum(errors.values())), "error_kinds": errors}


def load_test(export_dir: Path, sessions: List[List[int]], clients: int, n_requests: int, batch_sessions: int,
              work: Path, client: str = "raw") -> Dict[str, Any]:
    import httpx

    single = [json.dumps({"session": sessions[i % len(sessions)], "k": K}).encode() for i in range(n_requests)]
    n_batch = max(1, n_requests // batch_sessions)
    batched = [json.dumps([{"session": sessions[(i * batch_sessions + j) % len(sessions)], "k": K}
                           for j in range(batch_sessions)]).encode() for i in range(n_batch)]
    out: Dict[str, Any] = {}
    for batching in (True, False):
        name = "micro_batching_on" if batching else "micro_batching_off"
        proc, url, handle = start_service(export_dir, batching, work / f"serve_{name}.log")
        try:
            started_line = (work / f"serve_{name}.log").read_text().strip().splitlines()
            stack = started_line[-1].rsplit("; ", 1)[-1].rstrip(")") if started_line else "?"
            asyncio.run(closed_loop(url, single[:200], "/recommend", clients, 30.0, client))  # warm-up
            before = httpx.get(url + "/stats").json()
            load = os.getloadavg()[0]
            one = asyncio.run(closed_loop(url, single, "/recommend", clients, 30.0, client))
            one["load_average_before"] = load
            stats = httpx.get(url + "/stats").json()
            one["recommendations_per_s"] = one["requests_per_s"]
            one["server_mean_ms_per_request"] = _stats_delta(before, stats)
            many = asyncio.run(closed_loop(url, batched, "/recommend/batch", clients, 60.0, client))
            many["sessions_per_request"] = batch_sessions
            many["recommendations_per_s"] = many["requests_per_s"] * batch_sessions
            out[name] = {"recommend": one, "recommend_batch": many, "server_stack": stack}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            handle.close()
    return out


def _stats_delta(before: Dict[str, Any], after: Dict[str, Any]) -> Dict[str, Any]:
    n = after["requests"] - before["requests"]
    b0, b1 = before["mean_ms_per_request"], after["mean_ms_per_request"]
    split = {k: (b1[k] * after["requests"] - b0[k] * before["requests"]) / max(1, n) for k in b1}
    batches = after["batches"] - before["batches"]
    return {**split, "requests": n, "batches": batches,
            "mean_sessions_per_batch": (after["sessions"] - before["sessions"]) / max(1, batches)}


def report(result: Dict[str, Any]) -> str:
    lines = [f"bench_serve: {result['model']}; {result['machine']}; "
             f"load average {result['load_average_at_start']:.2f} at start",
             f"export (--format both): {result['export_s']:.1f} s; k = {K}; sessions: DIGINETICA test prefixes",
             "", "per-batch latency, ms (median; one thread each)",
             f"{'batch':>6} {'enc eager':>10} {'enc PaddleInf':>14} {'enc ORT':>8} {'topK eager':>11} "
             f"{'topK PI+Faiss':>14} {'topK ORT+Faiss':>15} {'PI/eager enc':>13} {'PI/eager topK':>14}"]
    for b in BATCHES:
        r = result["latency"][f"batch_{b}"]
        lines.append(f"{b:>6} {r['encoder_eager_ms']:>10.2f} {r['encoder_paddle_inference_ms']:>14.2f} "
                     f"{r['encoder_onnxruntime_ms']:>8.2f} {r['topk_eager_ms']:>11.2f} "
                     f"{r['topk_paddle_inference_faiss_ms']:>14.2f} {r['topk_onnxruntime_faiss_ms']:>15.2f} "
                     f"{r['encoder_speedup_paddle_inference_vs_eager']:>12.2f}x "
                     f"{r['topk_speedup_paddle_inference_vs_eager']:>13.2f}x")
    stacks = sorted({runs["server_stack"] for runs in result["http"].values()})
    lines += ["", f"HTTP service, {result['clients']} closed-loop clients on localhost ({result['client']} client), "
                  f"k = {K}; server: uvicorn, {', '.join(stacks)}",
              f"{'mode':<20} {'endpoint':<17} {'requests':>8} {'rec/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'p99 ms':>7} {'errors':>6}"]
    for mode, runs in result["http"].items():
        for endpoint in ("recommend", "recommend_batch"):
            r = runs[endpoint]
            lines.append(f"{mode:<20} {endpoint:<17} {r['requests']:>8} {r['recommendations_per_s']:>8.0f} "
                         f"{r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['errors']:>6}"
                         + (f"  (load average {r['load_average_before']:.2f} before)" if "load_average_before" in r else ""))
    lines += ["", "server's split of a POST /recommend, mean ms per request (graph/encoder/search: per batch, "
                  "shared by its requests)"]
    for mode, runs in result["http"].items():
        s = runs["recommend"]["server_mean_ms_per_request"]
        lines.append(f"{mode:<20} " + " ".join(f"{k} {s[k]:.2f}" for k in
                                               ("parse", "queue", "graph", "encoder", "search", "serialise"))
                     + f"; {s['mean_sessions_per_batch']:.1f} sessions per batch")
    on = result["http"]["micro_batching_on"]["recommend"]
    speedup = result["latency"]["batch_1"]["encoder_speedup_paddle_inference_vs_eager"]
    lines += ["", "targets",
              f"  /recommend >= 1,000 rec/s, p99 <= 50 ms, 0 errors: {on['recommendations_per_s']:.0f} rec/s, "
              f"p99 {on['p99_ms']:.1f} ms, {on['errors']} errors: "
              + ("met" if on["recommendations_per_s"] >= 1000 and on["p99_ms"] <= 50 and on["errors"] == 0 else "MISSED"),
              f"  Paddle Inference encoder >= 2x eager at batch 1: {speedup:.2f}x: " + ("met" if speedup >= 2 else "MISSED")]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    # the clients' httpx logs every request at INFO where Paddle configured the root logger:
    # 32 clients' log lines would be timed as part of the service's latency
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=str(REPO_ROOT.parent / "shared" / "data" / "diginetica"),
                        help="the published DIGINETICA pickles (all_train_seq.txt, test.txt)")
    parser.add_argument("--run_dir", default=None, help="a trained SR-GNN run (default: initial weights, see above)")
    parser.add_argument("--work", default="/tmp/bench_serve", help="scratch folder (run, export, server logs)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per latency cell")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="load client: raw asyncio HTTP/1.1 (light on CPU, default) or httpx")
    parser.add_argument("--requests", type=int, default=3000, help="requests per HTTP measurement")
    parser.add_argument("--batch_sessions", type=int, default=16, help="sessions per /recommend/batch request")
    parser.add_argument("--out", default=None, help="also write the report and its JSON to this file")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)

    from srgnn_paddle.serving import export_run

    data_dir, work = Path(args.data_dir), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    run_dir = Path(args.run_dir) if args.run_dir else untrained_run(data_dir, work)
    export_dir = work / "export"
    start = time.perf_counter()
    manifest = export_run(run_dir, export_dir, "both", overwrite=True, log=lambda line: None)
    export_s = time.perf_counter() - start
    sessions = test_sessions(data_dir, 2048)
    import faiss
    import paddle

    faiss.omp_set_num_threads(1)
    faiss.cvar.distance_compute_blas_threshold = 16  # as 'serve' sets it
    result: Dict[str, Any] = {
        "model": f"{manifest['model']} n_items {manifest['n_items']} D {manifest['embedding_dim']} "
                 f"({'trained run ' + str(run_dir) if args.run_dir else 'paper configuration, initial weights'})",
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Paddle {paddle.__version__}, "
                   f"faiss {faiss.__version__}, onnxruntime {manifest['versions'].get('onnxruntime')}",
        "export_s": export_s, "clients": args.clients, "client": args.client,
        "load_average_at_start": os.getloadavg()[0],
    }
    result["latency"] = latency(run_dir, export_dir, sessions, args.repeats)
    result["http"] = load_test(export_dir, sessions, args.clients, args.requests, args.batch_sessions, work,
                               args.client)
    text = report(result)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(f"$ {' '.join(sys.argv)}\n{text}\n{json.dumps(result)}\n")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
