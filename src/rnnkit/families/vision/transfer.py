"""Transfer learning with EfficientNet-Lite0 (:mod:`.efficientnet`): its ImageNet features, pooled,
and a new linear layer for K classes. Shapes: N batch, C_in 1 or 3 channels, H x W pixels.

Modes (``MODES``):

* ``probe``: the ImageNet weights frozen (BatchNorm keeps its ImageNet statistics, no gradients
  through the backbone); only the new layer learns (a linear probe);
* ``finetune``: the ImageNet weights as the start, every weight learns; the backbone may take a
  smaller learning rate (:meth:`TransferClassifier.param_groups`: discriminative learning rates)
  and may be unfrozen from the top down as training goes (:meth:`TransferClassifier.unfreeze_top`:
  gradual unfreezing, Howard & Ruder, 2018);
* ``scratch``: the same network from a random start (the baseline the pretrained weights must beat).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from .efficientnet import EfficientNetLite0, pretrained_state

MODES = ("probe", "finetune", "scratch")
FEATURES = 1280
#: BatchNorm's running-statistics rate from a random start. The ImageNet weights come with
#: TensorFlow's 0.01, right for statistics that start near their values; from a random start
#: they lag so far behind a few hundred steps of training that evaluation sees other
#: activations than training did (measured: Fashion-MNIST, 100 labels per class, 320 steps: the
#: training loss fell to 0.80 while validation stayed at chance, 9.7%). torch's default 0.1.
SCRATCH_BN_MOMENTUM = 0.1


class TransferClassifier(nn.Module):
    """EfficientNet-Lite0 (stem, 16 blocks, 1280-channel head, average pooling), dropout and a
    linear layer to K classes.

    Args:
        classes: K. mode: one of :data:`MODES`. side: images are resized to side x side
            (bilinear) before the backbone. Default: 64. dropout: before the new layer. Default: 0.2
        cache_dir: where the converted ImageNet weights are kept (see :func:`pretrained_state`).

    Inputs: images, float (N, C_in, H, W) normalised as :func:`.efficientnet.normalise` does
    (greyscale repeated to 3 channels). Outputs: logits (N, K).
    """

    def __init__(self, classes: int, mode: str, side: int = 64, dropout: float = 0.2, cache_dir: Optional[Path] = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
        if classes < 2 or side < 32:
            raise ValueError(f"TransferClassifier: expected classes >= 2 and side >= 32, got {classes}, {side}")
        self.mode, self.side = mode, side
        self.backbone = EfficientNetLite0(classifier=True)
        self.backbone.classifier = None  # the ImageNet layer is replaced by self.output
        if mode != "scratch":
            state = pretrained_state(cache_dir)
            self.backbone.load_state_dict({k: state[k] for k in self.backbone.state_dict()})
        else:  # see SCRATCH_BN_MOMENTUM
            for layer in self.backbone.modules():
                if isinstance(layer, nn.BatchNorm2d):
                    layer.momentum = SCRATCH_BN_MOMENTUM
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(FEATURES, classes)
        self.frozen_blocks = len(self.backbone.blocks) if mode == "probe" else 0
        self._apply_freezing()

    def _parts(self) -> list[nn.Module]:
        """The backbone's parts from the bottom: stem, each block, head."""
        return [self.backbone.stem, *self.backbone.blocks, self.backbone.head]

    def _frozen(self) -> list[nn.Module]:
        parts = self._parts()
        if self.mode == "probe":
            return parts
        return parts[: self.frozen_blocks + 1] if self.frozen_blocks else []  # the stem goes with the blocks

    def _apply_freezing(self) -> None:
        for part in self._parts():
            part.requires_grad_(True)
        for part in self._frozen():
            part.requires_grad_(False)
        self.train(self.training)

    def freeze_bottom(self, blocks: int) -> None:
        """Gradual unfreezing (finetune): keep the stem and the lowest ``blocks`` blocks fixed
        (0: every weight learns); call again with fewer as training goes."""
        if self.mode != "finetune":
            raise ValueError(f"gradual unfreezing is for mode finetune, this model is {self.mode}")
        if not 0 <= blocks <= len(self.backbone.blocks):
            raise ValueError(f"blocks: expected 0-{len(self.backbone.blocks)}, got {blocks}")
        self.frozen_blocks = blocks
        self._apply_freezing()

    def unfreeze_top(self, blocks: int) -> None:
        """The head and the top ``blocks`` blocks learn, the rest stays fixed (finetune)."""
        self.freeze_bottom(len(self.backbone.blocks) - blocks)

    def train(self, mode: bool = True) -> "TransferClassifier":
        super().train(mode)
        for part in self._frozen():
            part.eval()  # a frozen part keeps its ImageNet BatchNorm statistics
        return self

    def param_groups(self, lr: float, backbone_factor: float = 1.0) -> list[dict]:
        """Optimizer groups: the new layer at ``lr``, the backbone's trainable weights at
        ``lr * backbone_factor`` (discriminative learning rates; 1 = one rate)."""
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        groups = [{"params": list(self.output.parameters()), "lr": lr}]
        if backbone:
            groups.append({"params": backbone, "lr": lr * backbone_factor})
        return groups

    def features(self, images: Tensor) -> Tensor:
        """Pooled backbone features (N, 1280)."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        if images.shape[-1] != self.side or images.shape[-2] != self.side:
            images = F.interpolate(images, size=(self.side, self.side), mode="bilinear", align_corners=False)
        x = self.backbone.stem(images)
        for block in self.backbone.blocks:
            x = block(x)
        return self.backbone.head(x).mean((2, 3))

    def forward(self, images: Tensor) -> Tensor:
        # frozen weights record no graph unless the input asks for one (Grad-CAM does)
        return self.output(self.dropout(self.features(images)))
