"""Recurrent layers by the names configs use: ``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``.

A config names its cell in lower case; the name is the layer's ``mode``
(:data:`rnnkit.nn.specs.CELLS`) in lower case. This module is the one place that turns
such a name into a layer (:func:`build_rnn`) or into the :class:`~rnnkit.nn.specs.CellSpec`
that answers every question about the cell: whether it carries a cell state
(``state_arity``), its gates (``gate_names``, ``sigmoid_gates``, ``gated``,
``has_forget_gate``), its ``torch.nn`` class, its ONNX gate order. Code above ``rnnkit.nn``
asks these instead of testing cell names.

Example:
    >>> rnn = build_rnn("gru", 8, 16, num_layers=2, dropout=0.1, bidirectional=True)
    >>> out, h_n = rnn(torch.randn(3, 5, 8))     # batch first: (3, 5, 32), (4, 3, 16)
    >>> cell_spec("lstm").state_arity, cell_name(rnn)
    (2, 'gru')
"""

from __future__ import annotations

from typing import Sequence

from .rnn import GRU, LSTM, RNN, RNNBase
from .specs import CELLS, CellSpec

#: the layer class of each :attr:`CellSpec.name`
LAYER_CLASSES: dict[str, type[RNNBase]] = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}

#: every cell name a config may give, in :data:`~rnnkit.nn.specs.CELLS` order
CELL_NAMES: tuple[str, ...] = tuple(mode.lower() for mode in CELLS)

#: the cell names as a help text says them: "lstm, gru, rnn_tanh or rnn_relu"
CELL_CHOICES = ", ".join(CELL_NAMES[:-1]) + " or " + CELL_NAMES[-1]

#: the cells with gates (LSTM, GRU), for models that need them
GATED_CELLS: tuple[str, ...] = tuple(name for name in CELL_NAMES if CELLS[name.upper()].gated)


def check_cell(cell: str, among: Sequence[str] = CELL_NAMES, what: str = "cell") -> CellSpec:
    """The :class:`CellSpec` of the cell named ``cell``; a ValueError naming ``what`` and the
    names ``among`` (default: every cell) when it is not one of them."""
    if cell not in among:
        raise ValueError(f"{what}: expected one of {', '.join(among)}, got {cell!r}")
    return CELLS[cell.upper()]


def cell_spec(cell: str) -> CellSpec:
    """The :class:`CellSpec` of the cell named ``cell`` (``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``)."""
    return check_cell(cell)


def cell_name(layer) -> str:
    """The config name of a built layer's cell (rnnkit's or ``torch.nn``'s): its mode, lower case."""
    return layer.mode.lower()


def build_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    dropout: float,
    bidirectional: bool = False,
    **options,
) -> RNNBase:
    """A batch-first ``rnnkit.nn`` layer of the cell named ``cell``.

    Args:
        cell: ``lstm``, ``gru``, ``rnn_tanh`` or ``rnn_relu`` (:data:`CELL_NAMES`).
        input_size, hidden_size, num_layers: H_in, H, stacked layers.
        dropout: between layers only (ignored with one layer).
        bidirectional: D = 2.
        options: passed on to the layer (e.g. ``weight_dropout``, ``impl``).
    Inputs/outputs as :meth:`rnnkit.nn.RNNBase.forward` with ``batch_first=True``: input
    ``(N, L, H_in)``, output ``(N, L, D*H)``, state ``(D*num_layers, N, H)`` (LSTM: ``(h, c)``).
    """
    spec = check_cell(cell)
    if spec.nonlinearity is not None:  # an Elman RNN's activation is part of its name
        options["nonlinearity"] = spec.nonlinearity
    drop = dropout if num_layers > 1 else 0.0
    return LAYER_CLASSES[spec.name](
        input_size, hidden_size, num_layers, dropout=drop, batch_first=True, bidirectional=bidirectional, **options
    )
