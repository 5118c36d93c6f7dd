"""A small residual CNN trained from scratch, giving a grid of annotation vectors for attention.

He et al. (2016), "Deep Residual Learning for Image Recognition": basic blocks of
conv3x3-BN-ReLU-conv3x3-BN added to an identity shortcut (a 1x1 convolution with BN where the
width or the resolution changes), then ReLU. Shapes: N batch, C channels, H x W pixels,
R = H' * W' regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

#: per-channel mean and standard deviation of :meth:`ResidualGridEncoder.normalise` (on 0..1)
MEAN, STD = 0.5, 0.25


@dataclass
class ResidualConfig:
    """Args: width: channels of the first stage (the stages have width, 2*width, 4*width);
    blocks: basic blocks per stage (one entry per stage)."""

    width: int = 32
    blocks: tuple[int, ...] = (1, 1, 1)


class BasicBlock(nn.Module):
    """relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)); ``stride`` 2 halves H and W."""

    def __init__(self, inputs: int, outputs: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = nn.Identity()
        if stride != 1 or inputs != outputs:  # He et al.'s option B: a projection where shapes change
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResidualGridEncoder(nn.Module):
    """Images to a grid of region vectors: a stem conv3x3 (stride 2) with BN and ReLU, then
    stages of ``blocks[i]`` basic blocks of width * 2**i channels, each stage after the first
    halving the resolution. With three stages a 64x64 image gives an 8x8 grid.

    Args:
        width: channels of the stem and the first stage. Default: 32
        blocks: basic blocks in each stage. Default: (1, 1, 1)

    Inputs: images
        images: float (N, 3, H, W), normalised by :meth:`normalise`

    Outputs: grid
        grid: (N, R, C) with R = H' * W' regions in row-major order (:meth:`grid_shape`) and
        C = :attr:`channels` = width * 2**(len(blocks) - 1)

    Example::

        >>> encoder = ResidualGridEncoder()
        >>> encoder(encoder.normalise(torch.zeros(2, 3, 64, 64, dtype=torch.uint8))).shape
        torch.Size([2, 64, 128])
    """

    def __init__(self, width: int = 32, blocks: tuple[int, ...] = (1, 1, 1)):
        super().__init__()
        if width < 1 or not blocks or min(blocks) < 1:
            raise ValueError(f"ResidualGridEncoder: expected width >= 1 and blocks >= 1, got {width}, {blocks}")
        self.config = ResidualConfig(width, tuple(blocks))
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        stages, inputs = [], width
        for index, count in enumerate(blocks):
            outputs = width * 2**index
            layers = [
                BasicBlock(inputs if i == 0 else outputs, outputs, 2 if index and not i else 1) for i in range(count)
            ]
            stages.append(nn.Sequential(*layers))
            inputs = outputs
        self.stages = nn.Sequential(*stages)
        self.channels = inputs
        self.stride = 2 ** len(blocks)  # the stem's 2, then 2 per stage after the first

    @staticmethod
    def normalise(images: Tensor) -> Tensor:
        """uint8 (N, 3, H, W) pixels to float: (x / 255 - 0.5) / 0.25 on every channel, a fixed
        scaling (no dataset statistics) to about [-2, 2]."""
        return (images.float() / 255 - MEAN) / STD

    def grid_shape(self, side: int) -> tuple[int, int]:
        """(H', W') of the grid for a side x side image (each stride-2 conv rounds up)."""
        for _ in range(len(self.config.blocks)):
            side = (side + 1) // 2
        return side, side

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"ResidualGridEncoder: expected images (N, 3, H, W), got {tuple(images.shape)}")
        features = self.stages(self.stem(images))
        return features.flatten(2).transpose(1, 2)  # (N, C, H', W') -> (N, H'*W', C)
