"""The ``export`` and ``serve`` sub-commands (registered by :mod:`srgnn_paddle.cli`); argparse
only at import, the heavy modules when a command runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.serving.manifest import EXPORT_FORMATS


def add_export(sub: argparse._SubParsersAction):
    """Declare ``export``; returns its command function."""
    p = sub.add_parser("export", help="a trained run as an inference folder: encoder, Faiss index, item map, manifest",
                       description="Export a run's best weights for serving: the session encoder as a static Paddle "
                                   "inference model (and/or ONNX), the item table and its Faiss index, the original "
                                   "item ids, the popularity fallback and a manifest with the SHA-256 of every file.")
    p.add_argument("--run_dir", required=True, help="a run folder written by 'train'")
    p.add_argument("--out", required=True, help="the export folder to create (refused if it exists, see --overwrite)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="paddle",
                   help="paddle: Paddle Inference (default); onnx: ONNX (needs srgnn-paddle[onnx]); both")
    p.add_argument("--data_dir", default=None,
                   help="the run's data folder, for item_map.csv and the popularity counts "
                        "(default: the one recorded in its summary.json)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    return _cmd_export


def _cmd_export(args: argparse.Namespace) -> int:
    from srgnn_paddle.serving.export import export_run

    export_run(Path(args.run_dir), Path(args.out), args.format, Path(args.data_dir) if args.data_dir else None,
               overwrite=args.overwrite, log=print)
    return 0


def add_serve(sub: argparse._SubParsersAction):
    """Declare ``serve``; returns its command function."""
    from srgnn_paddle.serving.settings import ServiceSettings

    d = ServiceSettings()
    p = sub.add_parser("serve", help="an HTTP JSON service over an export folder (needs srgnn-paddle[serve])",
                       description="Serve an export folder over HTTP (FastAPI on uvicorn): POST /recommend, "
                                   "POST /recommend/batch, GET /health, GET /metadata, GET /stats. Concurrent "
                                   "requests are micro-batched into one predictor call.")
    p.add_argument("--export_dir", required=True, help="a folder written by 'export'")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' on every request (else 401)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu", help="predictor device (default cpu)")
    p.add_argument("--backend", choices=("auto", "paddle", "onnx"), default="auto",
                   help="encoder runtime: Paddle Inference or ONNX Runtime (default: paddle when exported)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads of the predictor and Faiss (default 1)")
    p.add_argument("--no-batching", dest="batching", action="store_false",
                   help="one predictor call per request (default: micro-batch concurrent requests)")
    p.add_argument("--max_batch", type=int, default=d.max_batch, help=f"most sessions in a micro-batch ({d.max_batch})")
    p.add_argument("--max_wait_ms", type=float, default=d.max_wait_ms,
                   help=f"how long a micro-batch waits for more requests ({d.max_wait_ms} ms)")
    p.add_argument("--queue_size", type=int, default=d.queue_size,
                   help=f"requests waiting at most; more get 503 ({d.queue_size})")
    p.add_argument("--max_k", type=int, default=d.max_k, help=f"largest k ({d.max_k}, at most the items - 1)")
    p.add_argument("--max_session_length", type=int, default=d.max_session_length,
                   help=f"most item ids in a session ({d.max_session_length})")
    p.add_argument("--max_body_bytes", type=int, default=d.max_body_bytes,
                   help=f"largest request body ({d.max_body_bytes} bytes)")
    p.add_argument("--max_batch_requests", type=int, default=d.max_batch_requests,
                   help=f"most sessions in one /recommend/batch body ({d.max_batch_requests})")
    return _cmd_serve


def _cmd_serve(args: argparse.Namespace) -> int:
    from srgnn_paddle.serving.backends import require_extra

    require_extra("serve", "srgnn-paddle serve", ["fastapi", "uvicorn"])
    from srgnn_paddle.serving.app import ServiceSettings, serve

    for name in ("port", "threads", "max_batch", "queue_size", "max_k", "max_session_length", "max_body_bytes",
                 "max_batch_requests"):
        low = 0 if name == "port" else 1
        if getattr(args, name) < low or (name == "port" and args.port > 65535):
            raise SrgnnError(f"--{name} must be {'0..65535' if name == 'port' else '>= 1'}, got {getattr(args, name)}")
    if args.max_wait_ms < 0:
        raise SrgnnError(f"--max_wait_ms must be >= 0, got {args.max_wait_ms}")
    if args.token is not None and not args.token.strip():
        raise SrgnnError("--token is empty; give a secret or leave --token out")
    if args.threads:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        # exact search through BLAS from 16 queries on (faiss's default threshold is far higher):
        # 256 DIGINETICA queries took 21 instead of 151 ms on one thread
        faiss.cvar.distance_compute_blas_threshold = 16
    settings = ServiceSettings(max_k=args.max_k, max_session_length=args.max_session_length,
                               max_body_bytes=args.max_body_bytes, max_batch_requests=args.max_batch_requests,
                               batching=args.batching, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                               queue_size=args.queue_size, token=args.token)
    serve(Path(args.export_dir), args.host, args.port, settings, device=args.device, backend=args.backend,
          threads=args.threads, log=lambda line: print(line, file=sys.stderr, flush=True))
    return 0
