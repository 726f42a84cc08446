"""Stage 7, serving: a trained run exported for inference, a Python recommender over the export
and an HTTP service around it.

* :func:`export_run` (``srgnn-paddle export``): the session encoder as a static inference
  model (Paddle, optionally ONNX), the item table and its Faiss index, the item map and a
  manifest with the SHA-256 of every file;
* :class:`SessionRecommender` (``SessionRecommender.load(DIR).recommend(sessions, k)``);
* :func:`srgnn_paddle.serving.app.create_app` / ``srgnn-paddle serve``: the ASGI service
  on uvicorn with micro-batching (the optional extra ``srgnn-paddle[serve]``).

Nothing here is imported by the training code; importing this package loads neither
uvicorn nor ONNX.
"""
from __future__ import annotations

from srgnn_paddle.lazy import lazy_exports

#: public name -> the module that defines it (loaded on first use, so that the command line
#: declares ``export`` / ``serve`` without importing Paddle)
_EXPORTS = {
    "export_run": "srgnn_paddle.serving.export",
    "EXPORT_FORMATS": "srgnn_paddle.serving.manifest",
    "MANIFEST_FILE": "srgnn_paddle.serving.manifest",
    "verify_export": "srgnn_paddle.serving.manifest",
    "Recommendation": "srgnn_paddle.serving.recommender",
    "SessionRecommender": "srgnn_paddle.serving.recommender",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
