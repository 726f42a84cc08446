"""Stage 7, serving: a trained run exported for inference, a Python recommender over the export
and an HTTP service around it.

* :func:`export_run` (``srgnn-paddle export``): the session encoder as a static inference
  model (Paddle, optionally ONNX), the item table and its Faiss index, the item map and a
  manifest with the SHA-256 of every file;
* :class:`SessionRecommender` (``SessionRecommender.load(DIR).recommend(sessions, k)``);
* :func:`srgnn_paddle.serving.app.create_app` / ``srgnn-paddle serve``: the FastAPI service
  with micro-batching (the optional extra ``srgnn-paddle[serve]``).

Nothing here is imported by the training code; importing this package loads neither
FastAPI nor ONNX.
"""
from srgnn_paddle.serving.export import export_run
from srgnn_paddle.serving.manifest import EXPORT_FORMATS, MANIFEST_FILE, verify_export
from srgnn_paddle.serving.recommender import Recommendation, SessionRecommender

__all__ = ["EXPORT_FORMATS", "export_run", "MANIFEST_FILE", "verify_export", "Recommendation", "SessionRecommender"]
