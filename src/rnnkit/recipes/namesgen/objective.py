"""Names-gen recipe, objective: names encoded as ``<s> c1..cn </s>`` ids with their language, batched for
teacher forcing, and the cross-entropy of the next character.

Shape legend: N names, L characters (the longest name in the batch plus one).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.batches import pad_batch
from rnnkit.data.names import NameVocab


def teacher_forcing(names: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Names as ``<s> c1..cn`` ids (N, L) -> targets ``c1..cn </s>`` (N, L), both padded with 0; lengths (N,)."""
    inputs, lengths = pad_batch([ids[:-1] for ids in names])
    targets, _ = pad_batch([ids[1:] for ids in names])
    return inputs, targets, lengths


def make_batch(examples: Sequence[tuple[Tensor, int]]):
    """(inputs (N, L), targets (N, L), lengths (N,), categories (N,)) from (ids, label) pairs."""
    inputs, targets, lengths = teacher_forcing([ids for ids, _ in examples])
    return inputs, targets, lengths, torch.tensor([label for _, label in examples])


def batch_loss(model, batch, reduction: str = "mean") -> tuple[Tensor, int]:
    """Cross-entropy over the real (unpadded) target characters; (loss, number of characters)."""
    inputs, targets, lengths, category = batch
    device = next(model.parameters()).device
    logits, _ = model(inputs.to(device), category.to(device), lengths=lengths)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        targets.to(device).reshape(-1),
        ignore_index=0,
        reduction=reduction,
    )
    return loss, int(lengths.sum())


def encode_split(vocab: NameVocab, examples) -> list[tuple[Tensor, int]]:
    return [(vocab.encode(name, bos=True, eos=True, warn=False), label) for name, label in examples]
