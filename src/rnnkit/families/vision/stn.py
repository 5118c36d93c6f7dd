"""The spatial transformer (Jaderberg et al., 2015, "Spatial Transformer Networks").

A localisation network looks at the image and predicts an affine transform theta (N, 2, 3); a
grid generator maps each pixel of the output to a point of the input and a bilinear sampler
reads the input there (:func:`rnnkit.nn.affine.affine_sample`). Everything is differentiable, so the
classifier behind it teaches the transformer, with no labels for the transform, to undo the
rotation, scale and position of the digit. Shapes: N batch, C channels, H = W = side pixels.

theta maps output coordinates to input coordinates, both in [-1, 1] (x right, y down; pixel
centres, ``align_corners=False``): the identity [[1, 0, 0], [0, 1, 0]] returns the input.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.nn.affine import IDENTITY, affine_sample


class SpatialTransformer(nn.Module):
    """Localisation net (conv5-pool-ReLU, conv5-pool-ReLU, fc-ReLU, fc to the 6 entries of theta,
    the last layer zero with the identity as bias so training starts from no transform), then
    :func:`~rnnkit.nn.affine.affine_sample`.

    Args:
        channels: C. side: H = W of the inputs. out_side: of the output (default ``side``).
        width: channels of the localisation convolutions. Default: 20. hidden: its fc units. Default: 50

    Inputs: images (N, C, side, side) float. Outputs: (N, C, out_side, out_side).

    Example::

        >>> stn = SpatialTransformer(1, 42, out_side=28)
        >>> stn(torch.zeros(2, 1, 42, 42)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(self, channels: int, side: int, out_side: int | None = None, width: int = 20, hidden: int = 50):
        super().__init__()
        if side < 16:  # two 5x5 convolutions and two poolings leave at least one pixel
            raise ValueError(f"SpatialTransformer: expected images of at least 16 pixels a side, got {side}")
        self.out_side = out_side or side
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 5),
            nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 5),
            nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
        )
        final = ((side - 4) // 2 - 4) // 2
        self.regress = nn.Sequential(
            nn.Flatten(), nn.Linear(width * final * final, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 6)
        )
        nn.init.zeros_(self.regress[-1].weight)
        with torch.no_grad():
            self.regress[-1].bias.copy_(torch.tensor(IDENTITY))

    def theta(self, images: Tensor) -> Tensor:
        """The predicted transform (N, 2, 3)."""
        return self.regress(self.features(images)).view(-1, 2, 3)

    def forward(self, images: Tensor) -> Tensor:
        return affine_sample(images, self.theta(images), self.out_side)
