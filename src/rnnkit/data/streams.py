"""Stateful truncated-BPTT streams for language models.

A token sequence is cut into ``batch_size`` contiguous streams laid side by
side; each batch is the next window of every stream, and the targets are the
inputs shifted by one. Because window ``k + 1`` of stream ``i`` continues
window ``k``, a model can carry its hidden state from batch to batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor


@dataclass
class Window:
    """One BPTT batch.

    Attributes:
        inputs: (N, l) token ids.
        targets: (N, l) the next token of each input.
        reset: True for the first window of a pass (start from a zero state).
        lr_scale: window length / base length (AWD-LSTM scales the learning
            rate by it under variable BPTT; 1.0 otherwise).
    """

    inputs: Tensor
    targets: Tensor
    reset: bool
    lr_scale: float = 1.0


def min_tokens(batch_size: int, seq_length: int) -> int:
    """Fewest tokens that give every stream one full window: ``batch_size * seq_length + 1``."""
    return batch_size * seq_length + 1


def make_streams(ids: Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
    """Cut ids (T,) into inputs and targets of shape (N, S), S = (T - 1) // N.

    Stream ``i`` reads ``ids[i*S : (i+1)*S]`` and predicts
    ``ids[i*S + 1 : (i+1)*S + 1]``; the last ``T - 1 - N*S`` tokens are dropped.
    """
    length = (ids.numel() - 1) // batch_size
    if length < 1:
        raise ValueError(f"need at least {batch_size + 1} tokens for {batch_size} streams, got {ids.numel()}")
    used = batch_size * length
    return ids[:used].view(batch_size, length), ids[1 : used + 1].view(batch_size, length)


class BPTTStream:
    """Endless training windows over ``batch_size`` streams, resumable.

    Args:
        ids: (T,) token ids.
        batch_size: number of parallel streams N.
        seq_length: BPTT window length.
        variable: draw each window's length as in AWD-LSTM (Merity et al.,
            2018): the base length with p=0.95, else half of it, plus
            Gaussian noise of std 5, at least 5 and at most 2x the base.
        seed: seed of the stream's own generator (variable lengths only).
    """

    def __init__(self, ids: Tensor, batch_size: int, seq_length: int, variable: bool = False, seed: int = 0) -> None:
        if ids.numel() < min_tokens(batch_size, seq_length):
            raise ValueError(
                f"the training text has {ids.numel()} tokens; batch_size={batch_size} and "
                f"seq_length={seq_length} need at least {min_tokens(batch_size, seq_length)} "
                "(batch_size * seq_length + 1): use a longer text or smaller values"
            )
        self.inputs, self.targets = make_streams(ids, batch_size)
        self.seq_length, self.variable = seq_length, variable
        self.generator = torch.Generator().manual_seed(seed)
        self.position, self.epoch = 0, 0

    @property
    def stream_length(self) -> int:
        return self.inputs.shape[1]

    def _next_length(self) -> int:
        if not self.variable:
            return self.seq_length
        # the stream's own generator, so lengths do not disturb dropout's RNG
        u = float(torch.rand(1, generator=self.generator))
        base = self.seq_length if u < 0.95 else self.seq_length / 2
        z = float(torch.randn(1, generator=self.generator))
        return int(max(5, min(2 * self.seq_length, round(base + 5 * z))))

    def __iter__(self) -> Iterator[Window]:
        while True:
            yield self.next_window()

    def next_window(self) -> Window:
        """The next window; ``epoch`` counts completed passes over the streams."""
        length = self._next_length()
        start = self.position
        stop = min(start + length, self.stream_length)
        if stop == self.stream_length:  # this window ends a pass
            self.position, self.epoch = 0, self.epoch + 1
        else:
            self.position = stop
        scale = (stop - start) / self.seq_length if self.variable else 1.0
        return Window(self.inputs[:, start:stop], self.targets[:, start:stop], reset=start == 0, lr_scale=scale)

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        """(tensors, JSON-able dict) holding the position and generator state."""
        return ({"generator": self.generator.get_state()}, {"position": self.position, "epoch": self.epoch})

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.generator.set_state(tensors["generator"])
        self.position, self.epoch = int(meta["position"]), int(meta["epoch"])


def eval_windows(ids: Tensor, batch_size: int, seq_length: int) -> Iterator[Window]:
    """One pass over ids in order, as windows of ``min(batch_size, fit)`` streams.

    Short texts get fewer streams so each stream holds at least one window.
    """
    streams = max(1, min(batch_size, (ids.numel() - 1) // seq_length))
    inputs, targets = make_streams(ids, streams)
    for start in range(0, inputs.shape[1], seq_length):
        yield Window(inputs[:, start : start + seq_length], targets[:, start : start + seq_length], reset=start == 0)
