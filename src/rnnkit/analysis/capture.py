"""Real inputs of a trained model's recurrent layer, whatever its recipe.

:func:`recorded_inputs` runs the trained model's own evaluation (its recipe's
data, preprocessing and embeddings) and stops at the first call of the layer,
keeping what that call was given: (N, T, F) batch-first, padding removed by
keeping the sequences at least T steps long (cut to T).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from rnnkit.nn.rnn import RNNBase


class _Stop(Exception):
    """Raised by the hook once the input is recorded, to end the evaluation early."""


def first_recurrent_layer(model: torch.nn.Module) -> RNNBase:
    """The first rnnkit RNN/LSTM/GRU layer among ``model``'s modules."""
    for module in model.modules():
        if isinstance(module, RNNBase):
            return module
    raise ValueError("the checkpoint's model has no rnnkit recurrent layer")


def _batch_first(layer: RNNBase, args, kwargs) -> tuple[Tensor, Tensor]:
    """(inputs (N, L, F), lengths (N,)) of one recorded call."""
    x = args[0]
    if isinstance(x, PackedSequence):
        return pad_packed_sequence(x, batch_first=True)
    if not layer.batch_first:
        x = x.transpose(0, 1)
    lengths = kwargs.get("lengths", args[2] if len(args) > 2 else None)
    if lengths is None:
        lengths = torch.full((x.shape[0],), x.shape[1])
    return x, torch.as_tensor(lengths)


def recorded_inputs(trained, layer: RNNBase, steps: int, samples: int) -> Tensor:
    """Up to ``samples`` inputs (n, T, F) the layer received in the first batch of the trained
    model's evaluation, T = ``steps`` (or the longest available, if shorter)."""
    seen: dict = {}

    def hook(module, args, kwargs):
        seen["x"], seen["lengths"] = _batch_first(module, args, kwargs)
        raise _Stop

    handle = layer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        trained.evaluate()
    except _Stop:
        pass
    finally:
        handle.remove()
    if "x" not in seen:
        raise ValueError("the recipe's evaluation never ran its recurrent layer")
    x, lengths = seen["x"].detach(), seen["lengths"].cpu()
    steps = min(steps, int(lengths.max()))
    keep = (lengths >= steps).nonzero().flatten()[:samples]
    return x[keep, :steps].float()
