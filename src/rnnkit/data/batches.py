"""Variable-length examples in padded batches: padding, length buckets, a resumable batch cycle."""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import torch
from torch import Tensor


def pad_batch(sequences: Sequence[Tensor], pad: int = 0) -> tuple[Tensor, Tensor]:
    """Right-pad 1-D id tensors: -> (ids (N, L_max), lengths (N,))."""
    if not sequences:
        raise ValueError("pad_batch: expected at least one sequence")
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    if int(lengths.min()) < 1:
        raise ValueError("pad_batch: every sequence needs at least one element")
    padded = torch.full((len(sequences), int(lengths.max())), pad, dtype=torch.long)
    for row, seq in enumerate(sequences):
        padded[row, : len(seq)] = seq
    return padded, lengths


def bucketed_batches(
    order: Sequence[int], lengths: Sequence[int], batch_size: int, generator: torch.Generator, bucket: int = 50
) -> list[list[int]]:
    """Cut ``order`` (example indices, already shuffled) into batches of similar length.

    Chunks of ``bucket * batch_size`` are sorted by length and cut into
    batches (less padding); the batches are then shuffled.
    """
    batches = []
    span = bucket * batch_size
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffle = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffle]


class BatchCycler:
    """Endless batches of example indices, one shuffled pass (epoch) after another.

    With ``weights`` (one per example) each epoch draws ``len(lengths)``
    examples with replacement in proportion to them (balanced sampling);
    otherwise each epoch is a permutation. The state (the generator at the
    start of the epoch, the epoch and the position in it) resumes exactly.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, seed: int = 0, weights: Optional[Tensor] = None
    ) -> None:
        if not lengths:
            raise ValueError("BatchCycler: no examples")
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.lengths, self.batch_size, self.weights = list(lengths), batch_size, weights
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.position = 0, 0
        self._plan_epoch()

    def _plan_epoch(self) -> None:
        self._epoch_start = self.generator.get_state()
        count = len(self.lengths)
        if self.weights is None:
            order = torch.randperm(count, generator=self.generator).tolist()
        else:
            order = torch.multinomial(self.weights, count, replacement=True, generator=self.generator).tolist()
        self.batches = bucketed_batches(order, self.lengths, self.batch_size, self.generator)

    def next(self) -> list[int]:
        batch = self.batches[self.position]
        self.position += 1
        if self.position == len(self.batches):
            self.epoch, self.position = self.epoch + 1, 0
            self._plan_epoch()
        return batch

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return {"generator": self._epoch_start}, {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.generator.set_state(tensors["generator"])
        self._plan_epoch()
        self.epoch, self.position = int(meta["epoch"]), int(meta["position"])


class PairBatch(NamedTuple):
    """Padded sentence pairs (0 = padding): src (N, S) and src_lengths (N,) with the source's
    ``<eos>``; tgt_in (N, T) ``<sos>`` + target and tgt_out (N, T) target + ``<eos>``."""

    src: Tensor
    src_lengths: Tensor
    tgt_in: Tensor
    tgt_out: Tensor


def collate_pairs(examples: Sequence[tuple[Tensor, Tensor]]) -> PairBatch:
    """(source ids + eos, sos + target ids + eos) pairs -> a :class:`PairBatch`."""
    src, src_lengths = pad_batch([s for s, _ in examples])
    tgt, _ = pad_batch([t for _, t in examples])
    return PairBatch(src, src_lengths, tgt[:, :-1].contiguous(), tgt[:, 1:].contiguous())
