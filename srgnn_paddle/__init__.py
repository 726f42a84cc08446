"""srgnn-paddle: SR-GNN (Wu et al., AAAI 2019) in PaddlePaddle 3."""
from srgnn_paddle.config import Config, load_config
from srgnn_paddle.errors import SrgnnError

__version__ = "0.1.0"
