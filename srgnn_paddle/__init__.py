"""srgnn-paddle: SR-GNN (Wu et al., AAAI 2019) in PaddlePaddle 3.

The names below are the notebook's public building blocks (spec ``notebook.md`` §2-6).
"""
import warnings

# Paddle warns about a missing C++ compiler cache on every import; it is irrelevant here.
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)

from srgnn_paddle.config import Config, load_config  # noqa: E402  (after the filter above)
from srgnn_paddle.data import SeqnenceDataset, SequenceDataset, SessionDataset, make_loader
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.graph import build_session_graph
from srgnn_paddle.metrics import evaluate
from srgnn_paddle.model import GNN, SRGNN
from srgnn_paddle.retrieval import evaluate_model, get_predict
from srgnn_paddle.sessions import augment_prefixes

__version__ = "0.1.0"

__all__ = [
    "Config", "load_config", "SequenceDataset", "SeqnenceDataset", "SessionDataset", "make_loader",
    "SrgnnError", "build_session_graph", "evaluate", "GNN", "SRGNN", "evaluate_model", "get_predict",
    "augment_prefixes",
]
