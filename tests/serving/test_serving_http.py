"""``srgnn-paddle serve`` in a child process on a free localhost port, queried with httpx:
the answers equal the Python recommender's, every bad input gets its 4xx and a one-line
message and the service keeps answering, the bearer token, concurrent requests
micro-batched, a tampered export refused at start, the warning for a non-local host."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from srgnn_paddle import cli
from srgnn_paddle.serving import SessionRecommender
from srgnn_paddle.synthetic import generate_synthetic

pytestmark = [pytest.mark.cli, pytest.mark.slow]

httpx = pytest.importorskip("httpx", reason="the serve extra is not installed: pip install srgnn-paddle[serve]")
pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install srgnn-paddle[serve]")
pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install srgnn-paddle[serve]")

REPO_ROOT = Path(__file__).resolve().parents[2]
LIMITS = ["--max_k", "30", "--max_session_length", "40", "--max_body_bytes", "4000", "--max_batch_requests", "8"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(export_dir: Path, *extra: str):
    """The service in a child process; returns (process, base url) once /health answers."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "srgnn_paddle", "serve", "--export_dir", str(export_dir),
                             "--port", str(port), *extra], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {extra[extra.index('--token') + 1]}"} if "--token" in extra else {}
    for _ in range(240):  # at most about 2 minutes on a loaded machine
        if proc.poll() is not None:
            raise AssertionError(f"the service exited: {proc.stderr.read()}")
        try:
            if httpx.get(url + "/health", headers=headers, timeout=1.0).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("the service did not answer /health")


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("serve")
    data = root / "tiny"
    generate_synthetic(data, seed=2, n_users=150, n_items=80, n_categories=4)
    assert cli.main(["train", "--data_dir", str(data), "--exp_dir", str(root / "exp"), "--epochs", "1", "--quiet",
                     "--no-tsne", "--batch_size", "64"]) == 0
    (run,) = (root / "exp").rglob("config.yaml")
    out = root / "export"
    assert cli.main(["export", "--run_dir", str(run.parent), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def service(export_dir):
    proc, url = _start(export_dir, *LIMITS)
    with httpx.Client(base_url=url, timeout=30.0) as client:
        yield client
    _stop(proc)


def test_answers_equal_the_python_recommender(service, export_dir):
    recommender = SessionRecommender.load(export_dir)
    sessions = [[3, 5, 3, 7], [9], list(range(1, 40)), [11, 999999, "x"], ["nope"]]
    expected = recommender.recommend(sessions, 12)
    for session, want in zip(sessions, expected):
        got = service.post("/recommend", json={"session": session, "k": 12})
        assert got.status_code == 200 and got.headers["content-type"] == "application/json"
        body = got.json()
        assert body["items"] == want.items and body["unknown"] == want.unknown and body["fallback"] == want.fallback
        np.testing.assert_allclose(body["scores"], want.scores, rtol=1e-5)
    batch = service.post("/recommend/batch", json=[{"session": s, "k": k} for s, k in zip(sessions, (1, 2, 3, 4, 5))])
    assert batch.status_code == 200
    assert [b["items"] for b in batch.json()] == [w.items[:k] for w, k in zip(expected, (1, 2, 3, 4, 5))]
    default_k = service.post("/recommend", json={"session": [3]}).json()
    assert len(default_k["items"]) == 20
    health, meta = service.get("/health").json(), service.get("/metadata").json()
    assert health["status"] == "ok" and meta["model"] == "srgnn" and meta["limits"]["max_k"] == 30
    assert meta["scoring"] == "cosine" and meta["batching"]["enabled"] is True


BAD = [
    # (what, request kwargs, status, words of the message)
    ("malformed JSON", {"content": b'{"session": [1, 2'}, 400, "malformed JSON"),
    ("not UTF-8", {"content": b"\xff\xfe{"}, 400, "malformed JSON"),
    ("NaN", {"content": b'{"session": [1], "k": NaN}'}, 400, "malformed JSON"),
    ("a list body", {"json": [1, 2]}, 422, "JSON object"),
    ("no session", {"json": {"k": 3}}, 422, "'session'"),
    ("unknown field", {"json": {"session": [1], "kk": 3}}, 422, "unknown field 'kk'"),
    ("session not a list", {"json": {"session": "1 2 3"}}, 422, "must be a list"),
    ("float id", {"json": {"session": [1, 2.5]}}, 422, "session[1] is float"),
    ("null id", {"json": {"session": [None]}}, 422, "session[0] is NoneType"),
    ("bool id", {"json": {"session": [True]}}, 422, "session[0] is bool"),
    ("nested id", {"json": {"session": [[1]]}}, 422, "session[0] is list"),
    ("empty string id", {"json": {"session": [""]}}, 422, "1..256 characters"),
    ("k a string", {"json": {"session": [1], "k": "5"}}, 422, "k must be an integer"),
    ("k a float", {"json": {"session": [1], "k": 5.0}}, 422, "k must be an integer"),
    ("k zero", {"json": {"session": [1], "k": 0}}, 422, "between 1 and 30"),
    ("k negative", {"json": {"session": [1], "k": -3}}, 422, "between 1 and 30"),
    ("k over the limit", {"json": {"session": [1], "k": 31}}, 422, "between 1 and 30"),
    ("empty session", {"json": {"session": []}}, 422, "session is empty"),
    ("overlong session", {"json": {"session": list(range(1, 42))}}, 422, "over the limit of 40"),
    ("body over the limit", {"content": b'{"session": [' + b"1, " * 2000 + b'1]}'}, 413, "over the limit of 4000"),
]


@pytest.mark.parametrize("what,request_kwargs,status,words", BAD, ids=[b[0] for b in BAD])
def test_every_bad_input_gets_its_4xx_and_the_service_keeps_answering(service, what, request_kwargs, status, words):
    got = service.post("/recommend", **request_kwargs)
    assert got.status_code == status, got.text
    message = got.json()["error"]
    assert words in message and "\n" not in message
    assert service.post("/recommend", json={"session": [3, 4], "k": 2}).status_code == 200


def test_bad_batches_chunked_bodies_and_wrong_routes_are_4xx(service):
    cases = [
        (service.post("/recommend/batch", json={"session": [1]}), 422, "JSON list"),
        (service.post("/recommend/batch", json=[]), 422, "send 1..8"),
        (service.post("/recommend/batch", json=[{"session": [1]}] * 9), 422, "send 1..8"),
        (service.post("/recommend/batch", json=[{"session": [1]}, {"session": [1], "k": 0}]), 422, "body[1].k"),
        # no Content-Length: the body is counted as it arrives
        (service.post("/recommend", content=iter([b'{"session": [', b"1, " * 2000, b"1]}"])), 413, "over the limit"),
        (service.get("/recommend"), 405, "not allowed"),
        (service.post("/nowhere", json={}), 404, "no such endpoint"),
    ]
    for got, status, words in cases:
        assert got.status_code == status and words in got.json()["error"], got.text
    assert service.get("/health").status_code == 200


def test_concurrent_requests_are_micro_batched_and_all_answered(service, export_dir):
    recommender = SessionRecommender.load(export_dir)
    rng = np.random.default_rng(0)
    sessions = [[int(i) for i in rng.integers(1, 80, size=rng.integers(1, 15))] for _ in range(96)]
    expected = [r.items for r in recommender.recommend(sessions, 10)]
    before = service.get("/stats").json()
    answers = [None] * len(sessions)

    def client(rows):
        with httpx.Client(base_url=str(service.base_url), timeout=60.0) as c:
            for row in rows:
                got = c.post("/recommend", json={"session": sessions[row], "k": 10})
                answers[row] = (got.status_code, got.json()["items"])

    threads = [threading.Thread(target=client, args=(range(i, len(sessions), 16),)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [a[0] for a in answers] == [200] * len(sessions)
    assert [a[1] for a in answers] == expected
    after = service.get("/stats").json()
    assert after["requests"] - before["requests"] == len(sessions)
    assert after["batches"] - before["batches"] <= len(sessions)
    assert set(after["mean_ms_per_request"]) == {"parse", "queue", "graph", "encoder", "search", "serialise"}


def test_with_a_token_every_request_needs_the_bearer(export_dir):
    proc, url = _start(export_dir, "--token", "s3cret", "--no-batching")
    try:
        body = {"session": [1, 2]}
        assert httpx.get(url + "/health").status_code == 401
        assert httpx.get(url + "/metadata").status_code == 401
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"},
                        {"Authorization": "Basic czNjcmV0"}):
            got = httpx.post(url + "/recommend", json=body, headers=headers)
            assert got.status_code == 401 and "bearer token" in got.json()["error"]
            assert got.headers["www-authenticate"] == "Bearer"
        good = {"Authorization": "Bearer s3cret"}
        assert httpx.post(url + "/recommend", json=body, headers=good).status_code == 200
        assert httpx.get(url + "/metadata", headers=good).json()["batching"]["enabled"] is False
    finally:
        _stop(proc)


def test_a_tampered_export_is_refused_at_start_and_a_public_host_warned(export_dir, tmp_path):
    tampered = tmp_path / "export"
    tampered.mkdir()
    for f in export_dir.iterdir():
        (tampered / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((tampered / "manifest.json").read_text())
    ids = json.loads((tampered / "item_ids.json").read_text())
    ids[1], ids[2] = ids[2], ids[1]  # a swapped item map: answers would name the wrong items
    (tampered / "item_ids.json").write_text(json.dumps(ids))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # --host 0.0.0.0 is never bound: the export is refused first
    done = subprocess.run([sys.executable, "-m", "srgnn_paddle", "serve", "--export_dir", str(tampered), "--host",
                           "0.0.0.0", "--port", str(_free_port())], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    lines = [line for line in done.stderr.splitlines() if line.startswith(("error:", "warning:"))]
    assert done.returncode == 2 and len(lines) == 2, done.stderr
    assert lines[0].startswith("warning: serving on 0.0.0.0 without --token")
    assert lines[1].startswith("error: ") and "item_ids.json: SHA-256 does not match" in lines[1]
    assert manifest["files"]["item_ids.json"]["sha256"] != ""


def test_the_asgi_app_answers_in_process_without_a_lifespan(export_dir):
    """create_app's FastAPI application under a server that sends no lifespan (httpx's ASGI
    transport): the micro-batcher starts at the first request; HEAD, 404 and 405 (with its
    Allow header) in the service's JSON form, the token checked before routing, the OpenAPI
    description of every endpoint."""
    import asyncio

    from srgnn_paddle.serving.app import ServiceSettings, create_app, event_loop_and_parser

    recommender = SessionRecommender.load(export_dir)
    app = create_app(recommender, ServiceSettings(max_k=30, token="t"))
    want = recommender.recommend([[3, 5, 7]], 4)[0]
    auth = {"Authorization": "Bearer t"}

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            answers = await asyncio.gather(*(client.post("/recommend", json={"session": [3, 5, 7], "k": 4},
                                                         headers=auth) for _ in range(8)))
            head = await client.head("/health", headers=auth)
            wrong = await client.delete("/recommend", headers=auth)
            unauthorised = await client.post("/recommend", json={"session": [3]})
            unauthorised_404 = await client.get("/nowhere")
            missing = await client.get("/nowhere", headers=auth)
            openapi = await client.get("/openapi.json", headers=auth)
            await service.batcher.stop()
            return answers, head, wrong, unauthorised, unauthorised_404, missing, openapi

    service = app.state.service
    answers, head, wrong, unauthorised, unauthorised_404, missing, openapi = asyncio.run(run())
    assert all(a.status_code == 200 and a.json()["items"] == want.items for a in answers)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST" and "DELETE is not allowed" in wrong.json()["error"]
    assert unauthorised.status_code == 401 and unauthorised.headers["www-authenticate"] == "Bearer"
    assert unauthorised_404.status_code == 401
    assert missing.status_code == 404 and missing.json() == {"error": "no such endpoint /nowhere; see GET /metadata or /docs"}
    paths = openapi.json()["paths"]
    assert set(paths) == {"/recommend", "/recommend/batch", "/health", "/metadata", "/stats"}
    assert paths["/recommend"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] == ["session"]
    assert service.stats.requests == 8 and service.stats.batches <= 8
    assert set(event_loop_and_parser()) <= {"uvloop", "asyncio", "httptools", "h11"}


def test_without_uvloop_and_httptools_the_service_runs_on_asyncio_and_h11(export_dir):
    """The fallback stack (uvicorn without its [standard] extras) answers the same, its 4xx too."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    script = ("import sys; sys.modules['uvloop'] = sys.modules['httptools'] = None; "
              "from srgnn_paddle import cli; sys.exit(cli.main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", script, "serve", "--export_dir", str(export_dir), "--port",
                             str(port), *LIMITS], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        want = SessionRecommender.load(export_dir).recommend([[3, 5, 7]], 5)[0]
        assert httpx.post(url + "/recommend", json={"session": [3, 5, 7], "k": 5}).json()["items"] == want.items
        bad = httpx.post(url + "/recommend", content=b'{"session": [1, 2')
        assert bad.status_code == 400 and "malformed JSON" in bad.json()["error"]
        chunked = httpx.post(url + "/recommend", content=iter([b'{"session": [', b"1, " * 2000, b"1]}"]))
        assert chunked.status_code == 413 and "over the limit" in chunked.json()["error"]
    finally:
        _stop(proc)
    assert "asyncio + h11" in proc.stderr.read()
