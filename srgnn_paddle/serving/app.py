"""The HTTP service (``srgnn-paddle serve``): a plain ASGI application on uvicorn (the
optional extra ``serve``; uvloop and httptools, which ``uvicorn[standard]`` brings, when
installed, else asyncio and h11).

Endpoints (JSON in and out; errors are ``{"error": "<one line>"}`` with a 4xx status):

* ``POST /recommend`` ``{"session": [id, ...], "k": 20}`` ->
  ``{"items": [...], "scores": [...], "unknown": [...], "fallback": false}``;
* ``POST /recommend/batch`` ``[{"session": ..., "k": ...}, ...]`` -> a list of those answers;
* ``GET /health``, ``GET /metadata`` (the model, sizes, limits), ``GET /stats`` (requests
  served and the mean seconds of each stage of a request: parse, queue, graph, encoder,
  search, serialise).

Requests that arrive together are micro-batched (:class:`MicroBatcher`): one predictor
call and one Faiss search for every session waiting, up to ``max_batch`` sessions, the
first waiting at most ``max_wait_ms`` for company; the queue holds at most ``queue_size``
requests (a full queue answers 503, the one 5xx, with ``Retry-After``). Every input is
checked before it is queued, so a bad request cannot fail a batch.
"""

import asyncio
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from srgnn_paddle.serving.recommender import STAGES, SessionRecommender
from srgnn_paddle.serving.settings import ServiceSettings

#: every stage of a request whose seconds ``/stats`` reports
REQUEST_STAGES = ("parse", "queue", *STAGES, "serialise")




class RequestError(Exception):
    """A bad request: HTTP ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Job:
    sessions: List[List[Any]]
    ks: List[int]
    future: asyncio.Future
    queued_at: float = 0.0


@dataclass
class Stats:
    """Requests answered and the seconds spent in each stage, summed."""

    requests: int = 0
    sessions: int = 0
    batches: int = 0
    seconds: Dict[str, float] = field(default_factory=lambda: dict.fromkeys(REQUEST_STAGES, 0.0))

    def to_dict(self) -> Dict[str, Any]:
        per = max(1, self.requests)
        return {"requests": self.requests, "sessions": self.sessions, "batches": self.batches,
                "mean_sessions_per_batch": self.sessions / max(1, self.batches),
                "mean_ms_per_request": {k: 1000.0 * v / per for k, v in self.seconds.items()},
                "note": "graph, encoder and search are per batch, shared by its requests"}


class MicroBatcher:
    """Queues checked requests and answers them in batches on one worker thread (the
    predictor and the index are used by that thread only)."""

    def __init__(self, recommender: SessionRecommender, settings: ServiceSettings, stats: Stats) -> None:
        self.recommender = recommender
        self.settings = settings
        self.stats = stats
        self.queue: Optional[asyncio.Queue] = None
        self.task: Optional[asyncio.Task] = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="srgnn-serve")

    async def start(self) -> None:
        self.queue = asyncio.Queue(self.settings.queue_size)
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, sessions: List[List[Any]], ks: List[int]) -> List[Dict[str, Any]]:
        """The answers of checked sessions (one ``k`` each), once their batch has run."""
        if self.queue is None:  # a server that sent no ASGI lifespan startup
            await self.start()
        loop = asyncio.get_running_loop()
        job = _Job(sessions, ks, loop.create_future(), time.perf_counter())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise RequestError(503, f"the service is busy ({self.settings.queue_size} requests waiting); "
                                    f"retry shortly") from None
        return await job.future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        limit = self.settings.max_batch if self.settings.batching else 1
        while True:
            jobs = [await self.queue.get()]
            size = len(jobs[0].sessions)
            deadline = loop.time() + self.settings.max_wait_ms / 1000.0
            while self.settings.batching and size < limit:
                try:
                    job = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    wait = deadline - loop.time()
                    if wait <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self.queue.get(), wait)
                    except asyncio.TimeoutError:
                        break
                jobs.append(job)
                size += len(job.sessions)
            try:
                answers = await loop.run_in_executor(self.executor, self._run, jobs)
            except Exception as exc:  # noqa: BLE001  (an internal failure answers each request, the loop goes on)
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            for job, answer in zip(jobs, answers):
                if not job.future.done():
                    job.future.set_result(answer)

    def _run(self, jobs: List[_Job]) -> List[List[Dict[str, Any]]]:
        started = time.perf_counter()
        sessions = [s for job in jobs for s in job.sessions]
        ks = [k for job in jobs for k in job.ks]
        timings: Dict[str, float] = {}
        results = self.recommender.recommend(sessions, max(ks), timings)
        answers, at = [], 0
        for job in jobs:
            part = []
            for k in job.ks:
                r = results[at]
                part.append({"items": r.items[:k], "scores": r.scores[:k], "unknown": r.unknown,
                             "fallback": r.fallback})
                at += 1
            answers.append(part)
        stats = self.stats
        stats.batches += 1
        stats.sessions += len(sessions)
        for job in jobs:
            stats.seconds["queue"] += started - job.queued_at
        for stage in STAGES:  # a batch's stages are shared by its requests: counted once per request
            stats.seconds[stage] += timings.get(stage, 0.0) * len(jobs)
        return answers


def _check_token(settings: ServiceSettings, header: Optional[str]) -> None:
    if settings.token is None:
        return
    expected = f"Bearer {settings.token}"
    if header is None or not hmac.compare_digest(header.encode(), expected.encode()):
        raise RequestError(401, "missing or wrong bearer token: send 'Authorization: Bearer <token>'")


def check_request(payload: Any, settings: ServiceSettings, max_k: int, where: str = "body") -> Tuple[List[Any], int]:
    """``(session, k)`` of one request object, or RequestError 422 naming the field."""
    if not isinstance(payload, dict):
        raise RequestError(422, f"{where} must be a JSON object like {{\"session\": [1, 2, 3], \"k\": 20}}, "
                                f"got {type(payload).__name__}")
    extra = sorted(set(payload) - {"session", "k"})
    if extra:
        raise RequestError(422, f"{where}: unknown field {extra[0]!r}; the fields are 'session' and 'k'")
    if "session" not in payload:
        raise RequestError(422, f"{where}: field 'session' (a list of item ids) is missing")
    session = payload["session"]
    if not isinstance(session, list):
        raise RequestError(422, f"{where}.session must be a list of item ids, got {type(session).__name__}")
    if not session:
        raise RequestError(422, f"{where}.session is empty; send at least one item id")
    if len(session) > settings.max_session_length:
        raise RequestError(422, f"{where}.session has {len(session)} items, over the limit of "
                                f"{settings.max_session_length}")
    for i, item in enumerate(session):
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise RequestError(422, f"{where}.session[{i}] is {type(item).__name__}; item ids are integers or strings")
        if isinstance(item, str) and not 0 < len(item) <= 256:
            raise RequestError(422, f"{where}.session[{i}]: string ids have 1..256 characters")
    k = payload.get("k", 20)
    if isinstance(k, bool) or not isinstance(k, int):
        raise RequestError(422, f"{where}.k must be an integer, got {type(k).__name__}")
    if not 1 <= k <= max_k:
        raise RequestError(422, f"{where}.k must be between 1 and {max_k}, got {k}")
    return session, k


ROUTES = {"/recommend": ("POST",), "/recommend/batch": ("POST",), "/health": ("GET", "HEAD"),
          "/metadata": ("GET", "HEAD"), "/stats": ("GET", "HEAD")}


class ServiceApp:
    """The service as a plain ASGI application (uvicorn runs it; see the module docstring).

    No web framework on the request path: the token is checked, the route looked up, the
    body read against its limit and parsed with :func:`json.loads`, each field checked by
    :func:`check_request`; a profile of the FastAPI version under 32 clients spent about a
    third of the server's CPU in its middleware and routing. The micro-batcher starts with
    the ASGI lifespan (or at the first request, for a server without one).
    """

    def __init__(self, recommender: SessionRecommender, settings: Optional[ServiceSettings] = None) -> None:
        self.recommender = recommender
        self.settings = settings or ServiceSettings()
        self.max_k = min(self.settings.max_k, recommender.n_items - 1)
        self.stats = Stats()
        self.batcher = MicroBatcher(recommender, self.settings, self.stats)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.batcher.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.batcher.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope, receive, send) -> None:
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        headers = {}
        for name, value in scope["headers"]:
            if name in (b"authorization", b"content-length"):
                headers[name] = value.decode("latin-1")
        try:
            _check_token(self.settings, headers.get(b"authorization"))
            allowed = ROUTES.get(path)
            if allowed is None:
                raise RequestError(404, f"no such endpoint {path}; see GET /metadata")
            if method not in allowed:
                raise RequestError(405, f"{method} is not allowed on {path}")
            if method == "POST":
                payload = await self._read_json(receive, headers.get(b"content-length"))
                if payload is None:
                    return  # the client went away
                results, parsed = await self._recommend(payload, path == "/recommend/batch")
                answered = time.perf_counter()
                await _send_json(send, results)
                self.stats.requests += 1
                self.stats.seconds["parse"] += parsed - started
                self.stats.seconds["serialise"] += time.perf_counter() - answered
                return
            body = {"/health": self._health, "/metadata": self._metadata, "/stats": self.stats.to_dict}[path]()
            await _send_json(send, body, head=method == "HEAD")
        except RequestError as exc:
            headers_out = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else []
            if exc.status == 503:
                headers_out = [(b"retry-after", b"1")]
            if exc.status == 405:
                headers_out = [(b"allow", ", ".join(ROUTES[path]).encode())]
            await _send_json(send, {"error": exc.message}, exc.status, headers_out)
        except Exception as exc:  # noqa: BLE001  (a failure of ours, not the client's: one line, the service goes on)
            reason = str(exc).splitlines()[0] if str(exc) else ""
            await _send_json(send, {"error": f"internal error: {type(exc).__name__}: {reason}"}, 500)

    async def _read_json(self, receive, length: Optional[str]) -> Any:
        """The parsed body (RequestError 413 over the limit, 400 when not JSON); None when the
        client disconnected before sending it."""
        limit = self.settings.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise RequestError(413, f"the body is over the limit of {limit} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"the body is over the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        try:
            return json.loads(chunks[0] if len(chunks) == 1 else b"".join(chunks), parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RequestError(400, f"malformed JSON: {reason}") from None

    async def _recommend(self, payload: Any, batch: bool) -> Tuple[Any, float]:
        """The answer of a parsed body and when its check ended."""
        settings = self.settings
        if batch:
            if not isinstance(payload, list):
                raise RequestError(422, "the body of /recommend/batch must be a JSON list of "
                                        "{\"session\": [...], \"k\": 20} objects")
            if not 1 <= len(payload) <= settings.max_batch_requests:
                raise RequestError(422, f"the batch has {len(payload)} requests; send 1..{settings.max_batch_requests}")
            checked = [check_request(p, settings, self.max_k, f"body[{i}]") for i, p in enumerate(payload)]
        else:
            checked = [check_request(payload, settings, self.max_k)]
        parsed = time.perf_counter()
        results = await self.batcher.submit([s for s, _ in checked], [k for _, k in checked])
        return (results if batch else results[0]), parsed

    def _health(self) -> Dict[str, Any]:
        return {"status": "ok", "model": self.recommender.manifest["model"], "n_items": self.recommender.n_items}

    def _metadata(self) -> Dict[str, Any]:
        s = self.settings
        limits = {"max_k": self.max_k, "max_session_length": s.max_session_length,
                  "max_body_bytes": s.max_body_bytes, "max_batch_requests": s.max_batch_requests}
        batching = {"enabled": s.batching, "max_batch": s.max_batch, "max_wait_ms": s.max_wait_ms,
                    "queue_size": s.queue_size}
        return {**self.recommender.metadata(), "limits": limits, "batching": batching,
                "endpoints": [f"{methods[0]} {route}" for route, methods in ROUTES.items()]}


async def _send_json(send, body: Any, status: int = 200, headers: Optional[List[Tuple[bytes, bytes]]] = None,
                     head: bool = False) -> None:
    data = json.dumps(body, allow_nan=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": b"" if head else data})


def create_app(recommender: SessionRecommender, settings: Optional[ServiceSettings] = None) -> ServiceApp:
    """The ASGI application serving ``recommender`` (see :class:`ServiceApp`)."""
    return ServiceApp(recommender, settings)


def _refuse_constant(name: str) -> float:
    """NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve(export_dir, host: str = "127.0.0.1", port: int = 8080, settings: Optional[ServiceSettings] = None,
          device: str = "cpu", backend: str = "auto", threads: int = 1, log=print) -> None:
    """Load the export (refused when its hashes do not match) and serve it until interrupted."""
    import uvicorn

    settings = settings or ServiceSettings()
    if host not in LOCAL_HOSTS and settings.token is None:
        log(f"warning: serving on {host} without --token: anyone who can reach this address can query the model; "
            f"pass --token or serve on 127.0.0.1")
    recommender = SessionRecommender.load(export_dir, device=device, backend=backend, threads=threads)
    app = create_app(recommender, settings)
    loop, http = event_loop_and_parser()
    log(f"serving {recommender.manifest['model']} ({recommender.n_items - 1} items, {recommender.backend}) on "
        f"http://{host}:{port} (micro-batching {'on' if settings.batching else 'off'}; {loop} + {http})")
    uvicorn.run(app, host=host, port=port, loop=loop, http=http, log_level="warning", access_log=False,
                server_header=False, lifespan="on", timeout_graceful_shutdown=2,
                h11_max_incomplete_event_size=64 * 1024)


def event_loop_and_parser() -> Tuple[str, str]:
    """uvicorn's event loop and HTTP parser: ``uvloop`` and ``httptools`` when installed
    (``uvicorn[standard]``), else the standard ``asyncio`` and the pure-Python ``h11``."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    return loop, http
