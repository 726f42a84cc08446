"""srgnn-paddle: SR-GNN (Wu et al., AAAI 2019) and its neighbours in PaddlePaddle (2.6 and 3.x).

The pipeline's stages are sub-packages: :mod:`~srgnn_paddle.data`,
:mod:`~srgnn_paddle.prepare`, :mod:`~srgnn_paddle.models`, :mod:`~srgnn_paddle.training`,
:mod:`~srgnn_paddle.evaluation` (and :mod:`~srgnn_paddle.kernels`, the CPU fast paths).
The names below are the notebook's public building blocks (spec ``notebook.md`` §2-6),
with their notebook call forms.
"""
import warnings

# Paddle warns about a missing C++ compiler cache on every import; it is irrelevant here.
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)

from srgnn_paddle.compat import require_paddle  # noqa: E402

require_paddle()  # an unsupported Paddle stops here with one `error:` line, before any module uses it

from srgnn_paddle.config import Config, load_config  # noqa: E402  (after the filter above)
from srgnn_paddle.data import SeqnenceDataset, SequenceDataset, SessionDataset, augment_prefixes, build_session_graph, make_loader  # noqa: E402
from srgnn_paddle.errors import SrgnnError  # noqa: E402
from srgnn_paddle.evaluation import evaluate, evaluate_model, get_predict  # noqa: E402
from srgnn_paddle.models import GNN, MODELS, SRGNN, Recommender, build_model  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Config", "load_config", "SequenceDataset", "SeqnenceDataset", "SessionDataset", "make_loader",
    "SrgnnError", "build_session_graph", "evaluate", "GNN", "SRGNN", "evaluate_model", "get_predict",
    "augment_prefixes", "MODELS", "Recommender", "build_model",
]
