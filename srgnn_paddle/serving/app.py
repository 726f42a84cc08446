"""The HTTP service (``srgnn-paddle serve``): a FastAPI application on uvicorn (the optional
extra ``serve``; uvloop and httptools, which ``uvicorn[standard]`` brings, when installed,
else asyncio and h11).

Endpoints (JSON in and out; errors are ``{"error": "<one line>"}`` with a 4xx status):

* ``POST /recommend`` ``{"session": [id, ...], "k": 20}`` ->
  ``{"items": [...], "scores": [...], "unknown": [...], "fallback": false}``;
* ``POST /recommend/batch`` ``[{"session": ..., "k": ...}, ...]`` -> a list of those answers;
* ``GET /health``, ``GET /metadata`` (the model, sizes, limits), ``GET /stats`` (requests
  served and the mean seconds of each stage of a request: parse, queue, graph, encoder,
  search, serialise); ``GET /docs`` and ``GET /openapi.json`` describe them.

FastAPI (Starlette) gives the routing, the 404 / 405 answers, the lifespan and the
OpenAPI page; the endpoints themselves are plain ASGI callables (:class:`Service`), and the
bearer-token check is a plain ASGI middleware: the body is read against its limit, parsed
with :func:`json.loads` and each field checked by :func:`check_request`, with no request
model or dependency solving on the request path (a profile of a version with pydantic
models and an HTTP middleware under 32 clients spent about a third of the server's CPU
there).

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
from contextlib import asynccontextmanager
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


#: path -> (methods, the Service method answering it, a line for the OpenAPI page)
ROUTES = {
    "/recommend": (("POST",), "recommend", "the top-k items of one session"),
    "/recommend/batch": (("POST",), "recommend_batch", "the top-k items of each session of a list"),
    "/health": (("GET", "HEAD"), "health", "liveness: the model and its item count"),
    "/metadata": (("GET", "HEAD"), "metadata", "the export's manifest, the limits and the batching"),
    "/stats": (("GET", "HEAD"), "stats_endpoint", "requests served and the mean milliseconds of each stage"),
}


class Service:
    """The service's state (the recommender, its micro-batcher, the counters) and its
    endpoints as plain ASGI callables (:func:`create_app` routes them)."""

    def __init__(self, recommender: SessionRecommender, settings: Optional[ServiceSettings] = None) -> None:
        self.recommender = recommender
        self.settings = settings or ServiceSettings()
        self.max_k = min(self.settings.max_k, recommender.n_items - 1)
        self.stats = Stats()
        self.batcher = MicroBatcher(recommender, self.settings, self.stats)

    @asynccontextmanager
    async def lifespan(self, app):
        """Starts the micro-batcher with the server and stops it with the server."""
        await self.batcher.start()
        try:
            yield
        finally:
            await self.batcher.stop()

    async def recommend(self, scope, receive, send) -> None:
        await self._post(scope, receive, send, batch=False)

    async def recommend_batch(self, scope, receive, send) -> None:
        await self._post(scope, receive, send, batch=True)

    async def health(self, scope, receive, send) -> None:
        await _send_json(send, {"status": "ok", "model": self.recommender.manifest["model"],
                                "n_items": self.recommender.n_items}, head=scope["method"] == "HEAD")

    async def metadata(self, scope, receive, send) -> None:
        s = self.settings
        limits = {"max_k": self.max_k, "max_session_length": s.max_session_length,
                  "max_body_bytes": s.max_body_bytes, "max_batch_requests": s.max_batch_requests}
        batching = {"enabled": s.batching, "max_batch": s.max_batch, "max_wait_ms": s.max_wait_ms,
                    "queue_size": s.queue_size}
        body = {**self.recommender.metadata(), "limits": limits, "batching": batching,
                "endpoints": [f"{methods[0]} {route}" for route, (methods, _, _) in ROUTES.items()]}
        await _send_json(send, body, head=scope["method"] == "HEAD")

    async def stats_endpoint(self, scope, receive, send) -> None:
        await _send_json(send, self.stats.to_dict(), head=scope["method"] == "HEAD")

    async def _post(self, scope, receive, send, batch: bool) -> None:
        started = time.perf_counter()
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value.decode("latin-1")
        try:
            payload = await self._read_json(receive, length)
            if payload is None:
                return  # the client went away
            results, parsed = await self._recommend(payload, batch)
            answered = time.perf_counter()
            await _send_json(send, results)
            self.stats.requests += 1
            self.stats.seconds["parse"] += parsed - started
            self.stats.seconds["serialise"] += time.perf_counter() - answered
        except RequestError as exc:
            await _send_json(send, {"error": exc.message}, exc.status,
                             [(b"retry-after", b"1")] if exc.status == 503 else None)
        except Exception as exc:  # noqa: BLE001  (a failure of ours, not the client's: one line, the service goes on)
            await _send_json(send, {"error": f"internal error: {type(exc).__name__}: {_first_line(exc)}"}, 500)

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
            raise RequestError(400, f"malformed JSON: {_first_line(exc)}") from None

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


class BearerToken:
    """Plain ASGI middleware: every HTTP request without ``Authorization: Bearer <token>``
    is answered 401 before routing."""

    def __init__(self, app, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            header = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
            if not hmac.compare_digest(header, self.expected):
                await _send_json(send, {"error": "missing or wrong bearer token: send 'Authorization: Bearer <token>'"},
                                 401, [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


async def _send_json(send, body: Any, status: int = 200, headers: Optional[List[Tuple[bytes, bytes]]] = None,
                     head: bool = False) -> None:
    data = json.dumps(body, allow_nan=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": b"" if head else data})


def create_app(recommender: SessionRecommender, settings: Optional[ServiceSettings] = None):
    """The FastAPI application serving ``recommender`` (see the module docstring); its
    :class:`Service` is ``app.state.service``."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    service = Service(recommender, settings)
    app = FastAPI(title="srgnn-paddle", summary=f"top-k items for sessions ({recommender.manifest['model']})",
                  lifespan=service.lifespan, redoc_url=None)
    for path, (methods, name, _) in ROUTES.items():
        app.router.routes.append(Route(path, _AsgiEndpoint(getattr(service, name)), methods=list(methods), name=name))

    async def http_error(request, exc: HTTPException):  # Starlette's 404 / 405, in the service's own form
        if exc.status_code == 404:
            message = f"no such endpoint {request.url.path}; see GET /metadata or /docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return JSONResponse({"error": message}, exc.status_code, headers=exc.headers)

    app.add_exception_handler(HTTPException, http_error)
    app.openapi = lambda: _openapi(app)
    if service.settings.token is not None:
        app.add_middleware(BearerToken, token=service.settings.token)
    app.state.service = service
    return app


class _AsgiEndpoint:
    """A :class:`Service` method as an ASGI application (Starlette routes a plain function
    or method through its request / response wrapper; a callable object it calls as ASGI)."""

    def __init__(self, handler) -> None:
        self.handler = handler

    async def __call__(self, scope, receive, send) -> None:
        await self.handler(scope, receive, send)


def _openapi(app) -> Dict[str, Any]:
    """The OpenAPI description of :data:`ROUTES` (the endpoints are plain ASGI, so FastAPI
    cannot derive it from their signatures)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    request = {"type": "object", "required": ["session"], "additionalProperties": False,
               "properties": {"session": {"type": "array", "minItems": 1,
                                          "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
                              "k": {"type": "integer", "minimum": 1, "default": 20}}}
    answer = {"type": "object", "properties": {"items": {"type": "array", "items": {}},
                                               "scores": {"type": "array", "items": {"type": "number"}},
                                               "unknown": {"type": "array", "items": {}},
                                               "fallback": {"type": "boolean"}}}
    error = {"description": "bad input, one line", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "string"}}}}}}
    bodies = {"/recommend": (request, answer),
              "/recommend/batch": ({"type": "array", "items": request}, {"type": "array", "items": answer})}
    paths: Dict[str, Any] = {}
    for path, (methods, _, summary) in ROUTES.items():
        operation: Dict[str, Any] = {"summary": summary, "responses": {"200": {"description": "OK"}}}
        if path in bodies:
            body, out = bodies[path]
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
            operation["responses"]["200"]["content"] = {"application/json": {"schema": out}}
            operation["responses"].update({"400": error, "413": error, "422": error})
        paths[path] = {methods[0].lower(): operation}
    app.openapi_schema = {"openapi": "3.1.0", "info": {"title": app.title, "version": app.version,
                                                      "summary": app.summary}, "paths": paths}
    return app.openapi_schema


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


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
