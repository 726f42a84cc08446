"""The HTTP service's limits and batching, apart from the service itself so that the command
line declares ``serve`` without importing Paddle, uvicorn or Faiss."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class ServiceSettings:
    """The service's limits and batching.

    max_k: largest ``k`` (capped at the export's items - 1).
    max_session_length: most item ids in one session (longer: 422; the model reads the
        latest ``max_length`` of them, as in training).
    max_body_bytes: largest request body (larger: 413).
    max_batch_requests: most sessions in one ``/recommend/batch`` body.
    batching: micro-batch concurrent requests; off: one predictor call per request.
    max_batch: most sessions in one micro-batch.
    max_wait_ms: how long the first request of a micro-batch waits for others.
    queue_size: requests waiting at most (more: 503).
    token: when set, every request needs ``Authorization: Bearer <token>`` (else 401).
    """

    max_k: int = 1000
    max_session_length: int = 1000
    max_body_bytes: int = 1 << 20
    max_batch_requests: int = 1024
    batching: bool = True
    max_batch: int = 256
    max_wait_ms: float = 2.0
    queue_size: int = 4096
    token: Optional[str] = None
