"""Caption recipe, training signal: every (image, reference caption) pair is an example; the loss is
the cross-entropy of each real caption word (label smoothing, scheduled sampling) plus, as an
option, Show, Attend and Tell's doubly stochastic attention penalty.

Shapes: N pairs in a batch, S the image side, T caption positions (padded), R regions, V words.

The penalty (Xu et al., 2015, eq. 14) is lambda * sum_r (1 - sum_t alpha_tr)^2 per image over the
real positions t, averaged over the batch: it asks the decoder to give every region some
attention over the whole caption.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.batches import pad_batch
from rnnkit.data.token_vocab import Vocab
from rnnkit.families.seq2seq.pairs import PairLossConfig
from rnnkit.families.seq2seq.translator import PairObjective
from rnnkit.train.config import bound


@dataclass
class CaptionLossConfig(PairLossConfig):
    """Translation's training signal (label smoothing, teacher forcing from the first ratio to the
    final) and Show, Attend and Tell's attention penalty.

    Attributes:
        attention_penalty: lambda of the doubly stochastic attention penalty (0 = off).
    """

    attention_penalty: float = field(default=0.0, metadata=bound(0, 100))


class CaptionBatch(NamedTuple):
    """images (N, 3, S, S) uint8; tgt_in (N, T) ``<sos>`` + words; tgt_out (N, T) words + ``<eos>``."""

    images: Tensor
    tgt_in: Tensor
    tgt_out: Tensor


def collator(images: Tensor) -> Callable[[Sequence[tuple[int, Tensor]]], CaptionBatch]:
    """(image row, ``<sos>`` + ids + ``<eos>``) examples of a split whose images are ``images`` -> batches."""

    def collate(examples: Sequence[tuple[int, Tensor]]) -> CaptionBatch:
        rows = torch.tensor([row for row, _ in examples])
        ids, _ = pad_batch([caption for _, caption in examples], Vocab.PAD)
        return CaptionBatch(images.index_select(0, rows), ids[:, :-1].contiguous(), ids[:, 1:].contiguous())

    return collate


def caption_loss(
    model,
    batch: CaptionBatch,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    teacher_forcing: float = 1.0,
    attention_penalty: float = 0.0,
) -> tuple[Tensor, int]:
    """(loss, real target words): cross-entropy over the words (padding ignored) plus the penalty.

    With ``reduction="sum"`` the penalty is summed over images, so that a sum divided by the word
    count matches the mean's scale only when the penalty is 0 (validation reports it without)."""
    device = next(model.parameters()).device
    gold = batch.tgt_out.to(device)
    logits, weights = model(batch.images, batch.tgt_in.to(device), teacher_forcing, return_attention=True)
    words = int((gold != Vocab.PAD).sum())
    loss = F.cross_entropy(
        logits.flatten(0, 1).float(),
        gold.flatten(),
        ignore_index=Vocab.PAD,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )
    if attention_penalty and weights is not None:
        real = (gold != Vocab.PAD).unsqueeze(-1).to(weights.dtype)  # (N, T, 1)
        per_image = (1.0 - (weights * real).sum(dim=1)).pow(2).sum(dim=1)  # (N,)
        loss = loss + attention_penalty * (per_image.mean() if reduction == "mean" else per_image.sum())
    return loss, words


class CaptionObjective(PairObjective):
    """(image, caption) pairs with translation's label smoothing and teacher-forcing schedule, and
    the attention penalty."""

    def __init__(self, *args, loss: CaptionLossConfig, **kwargs) -> None:
        final = None if loss.teacher_forcing_final < 0 else loss.teacher_forcing_final
        super().__init__(
            *args,
            label_smoothing=loss.label_smoothing,
            teacher_forcing=loss.teacher_forcing,
            teacher_forcing_final=final,
            **{"unit": "words", **kwargs},
        )
        self.attention_penalty = loss.attention_penalty

    def step(self, model, batch, info=None) -> tuple[Tensor, int]:
        ratio = self.ratio(info.progress if info is not None else 0.0)
        return caption_loss(model, batch, "mean", self.label_smoothing, ratio, self.attention_penalty)
