"""Recurrent cells and layers built from the equations, parameter-compatible with ``torch.nn``."""
from .attention import Attention
from .cells import GRUCell, LSTMCell, RNNCell
from .crf import LinearChainCRF
from .dropout import LockedDropout, embedding_dropout
from .rnn import GRU, LSTM, RNN, RNNBase

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "RNNBase", "LockedDropout", "embedding_dropout",
           "LinearChainCRF", "Attention"]
