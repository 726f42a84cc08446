"""Stage 4, training: the loop (:class:`Trainer`), early stopping, checkpoints and the losses
beside the models' own full softmax."""
from srgnn_paddle.training.checkpoints import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    LOG_FILE,
    MODEL_FILE,
    RANKS_FILE,
    REFIT_DIR,
    RESULT_FILES,
    SUMMARY_FILE,
    load_state,
    save_state,
)
from srgnn_paddle.training.early_stopping import EarlyStopping
from srgnn_paddle.training.losses import NegativeSampler, sampled_softmax_loss
from srgnn_paddle.training.trainer import Objective, RunState, Trainer, TrainerOptions, plain

__all__ = [
    "CHECKPOINT_FILE", "CONFIG_FILE", "LOG_FILE", "MODEL_FILE", "RANKS_FILE", "REFIT_DIR", "RESULT_FILES", "SUMMARY_FILE", "load_state",
    "save_state", "EarlyStopping", "NegativeSampler", "sampled_softmax_loss", "Objective", "RunState", "Trainer", "TrainerOptions", "plain",
]
