"""Recurrent cells and layers built from the equations, parameter-compatible with ``torch.nn``."""

from .attention import Attention
from .build import CELL_CHOICES, CELL_NAMES, GATED_CELLS, LAYER_CLASSES, build_rnn, cell_name, cell_spec, check_cell
from .cells import GRUCell, LSTMCell, RNNCell
from .crf import LinearChainCRF
from .dropout import LockedDropout, embedding_dropout
from .rnn import GRU, LSTM, RNN, RNNBase
from .specs import CellSpec

__all__ = [
    "CELL_CHOICES",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RNN",
    "LSTM",
    "GRU",
    "RNNBase",
    "LockedDropout",
    "embedding_dropout",
    "LinearChainCRF",
    "Attention",
    "CellSpec",
    "CELL_NAMES",
    "GATED_CELLS",
    "LAYER_CLASSES",
    "build_rnn",
    "cell_name",
    "cell_spec",
    "check_cell",
]
