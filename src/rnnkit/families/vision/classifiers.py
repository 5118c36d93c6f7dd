"""Image classifiers trained from scratch: the course notes' small CNN and a residual network for
small images. Shapes: N batch, C_in input channels (1 for MNIST, 3 for CIFAR), H x W pixels, K
classes. Both take normalised float images ``(N, C_in, H, W)`` and return logits ``(N, K)``.

* :class:`SimpleCNN`: stages of two conv3x3-BN-ReLU and a 2x2 max-pool, then a fully connected
  layer with dropout and the output layer (the CIFAR-10 classifier of the notes: conv, pool, fc).
* :class:`ResidualClassifier`: He et al. (2016), section 4.2 (their CIFAR-10 networks): a 3x3
  stem at full resolution, stages of basic blocks of width * 2**i channels, each stage after the
  first halving H and W, global average pooling, dropout, the output layer.
"""

from __future__ import annotations

from torch import Tensor, nn

from .resnet import BasicBlock


def _check(name: str, channels: int, classes: int, width: int, depth: tuple[int, ...], dropout: float) -> None:
    if channels < 1 or classes < 2 or width < 1 or not depth or min(depth) < 1:
        raise ValueError(
            f"{name}: expected channels >= 1, classes >= 2, width >= 1 and stages of >= 1, "
            f"got {channels}, {classes}, {width}, {depth}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name}: dropout: expected a probability in [0, 1), got {dropout}")


def _conv_bn_relu(inputs: int, outputs: int) -> list[nn.Module]:
    return [nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True)]


class SimpleCNN(nn.Module):
    """Stages of [conv3x3-BN-ReLU, conv3x3-BN-ReLU, maxpool 2x2] with width * 2**i channels,
    then flatten, a ``hidden``-unit fully connected layer with ReLU and dropout, and K logits.

    Args:
        channels: C_in. classes: K. side: H = W of the inputs (sizes the fully connected layer).
        width: channels of the first stage. Default: 32. stages: how many. Default: 3
        hidden: units of the fully connected layer. Default: 256. dropout: before each linear layer.

    Example::

        >>> SimpleCNN(3, 10, side=32)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, channels: int, classes: int, side: int, width: int = 32, stages: int = 3, hidden: int = 256, dropout=0.3
    ):
        super().__init__()
        _check("SimpleCNN", channels, classes, width, (stages,), dropout)
        if side >> stages < 1:
            raise ValueError(f"SimpleCNN: {stages} poolings need images of at least {2**stages} pixels, got {side}")
        layers, inputs = [], channels
        for index in range(stages):
            outputs = width * 2**index
            layers += _conv_bn_relu(inputs, outputs) + _conv_bn_relu(outputs, outputs) + [nn.MaxPool2d(2)]
            inputs = outputs
        self.features = nn.Sequential(*layers)
        final = side >> stages
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(inputs * final * final, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, classes),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))


class ResidualClassifier(nn.Module):
    """conv3x3-BN-ReLU stem (``width`` channels, full resolution), then stages of ``blocks[i]``
    basic blocks (:class:`~rnnkit.families.vision.resnet.BasicBlock`) of width * 2**i channels,
    each stage after the first halving H and W; global average pooling, dropout, K logits.

    Args:
        channels: C_in. classes: K. width: Default: 32. blocks: per stage. Default: (2, 2, 2)
        dropout: before the output layer. Default: 0.0

    Example::

        >>> ResidualClassifier(1, 10)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, channels: int, classes: int, width: int = 32, blocks: tuple[int, ...] = (2, 2, 2), dropout: float = 0.0
    ):
        super().__init__()
        _check("ResidualClassifier", channels, classes, width, tuple(blocks), dropout)
        self.stem = nn.Sequential(*_conv_bn_relu(channels, width))
        stages, inputs = [], width
        for index, count in enumerate(blocks):
            outputs = width * 2**index
            stride = 2 if index else 1
            stages += [
                BasicBlock(inputs if i == 0 else outputs, outputs, stride if i == 0 else 1) for i in range(count)
            ]
            inputs = outputs
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(inputs, classes)
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.stages(self.stem(images)))
