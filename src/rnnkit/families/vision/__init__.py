"""Image encoders for attention: each turns normalised images (N, 3, H, W) into a grid of
region vectors (N, R, C), R = H' * W' in row-major order, and knows its own ``normalise``
(uint8 pixels to its float input), ``channels`` (C) and ``grid_shape(side)`` ((H', W')).

* :class:`ResidualGridEncoder`: a small residual CNN trained from scratch (He et al. 2016).
* :class:`EfficientNetGridEncoder`: pretrained EfficientNet-Lite0 (Tan & Le 2019), frozen or not.

Image classifiers (normalised images to logits): :class:`SimpleCNN` and
:class:`ResidualClassifier` (:mod:`.classifiers`), :class:`TransferClassifier` (EfficientNet-Lite0
features with a new layer, :mod:`.transfer`); the spatial transformer (:mod:`.stn`) and Grad-CAM
(:mod:`.gradcam`).
"""

from .classifiers import ResidualClassifier, SimpleCNN
from .efficientnet import EfficientNetGridEncoder, EfficientNetLite0, convert_pth, pretrained_state
from .resnet import ResidualConfig, ResidualGridEncoder

__all__ = [
    "EfficientNetGridEncoder",
    "EfficientNetLite0",
    "ResidualClassifier",
    "ResidualConfig",
    "ResidualGridEncoder",
    "SimpleCNN",
    "convert_pth",
    "pretrained_state",
]
