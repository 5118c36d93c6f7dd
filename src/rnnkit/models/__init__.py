"""Models built from rnnkit.nn."""
from .lm import CELLS, LMConfig, RNNLanguageModel, detach_state

__all__ = ["CELLS", "LMConfig", "RNNLanguageModel", "detach_state"]
