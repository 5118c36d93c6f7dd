"""The training engine: config, trainer, checkpoints, metrics, progress, plots."""

from .checkpoint import Checkpoint, CheckpointError
from .trainer import FitResult, Objective, TrainConfig, Trainer

__all__ = ["Checkpoint", "CheckpointError", "FitResult", "Objective", "TrainConfig", "Trainer"]
