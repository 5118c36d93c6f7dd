"""Grad-CAM (Selvaraju et al., 2017): where in the image a CNN found evidence for a class.

For the class score y_c and the K feature maps A_k (H' x W') of a chosen convolutional layer,
each map is weighted by its average gradient alpha_k = mean_ij dy_c / dA_k[i, j]; the map is
ReLU(sum_k alpha_k A_k), upsampled bilinearly to the image and scaled to [0, 1] per image (all
zeros where nothing counted for the class). Shapes: N images (C, H, W).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def grad_cam(model: nn.Module, layer: nn.Module, images: Tensor, classes: Optional[Tensor] = None) -> Tensor:
    """Heat maps (N, H, W) in [0, 1] for ``images`` (N, C, H, W) and ``classes`` (N,) (default:
    each image's predicted class), from the output of ``layer`` (a module inside ``model`` giving
    (N, K, H', W')). The model is run in eval mode and left as it was; its gradients untouched."""
    images = images.detach().requires_grad_(True)  # so the maps carry gradients even in frozen layers
    seen: dict[str, Tensor] = {}
    hook = layer.register_forward_hook(lambda _m, _i, out: seen.__setitem__("maps", out))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(images)
            maps = seen["maps"]
            if maps.dim() != 4:
                raise ValueError(f"grad_cam: the layer must give (N, K, H', W') maps, got {tuple(maps.shape)}")
            if not maps.requires_grad:
                raise ValueError(
                    f"grad_cam: the output of {type(layer).__name__} carries no gradient (run without autograd?)"
                )
            picked = logits.argmax(1) if classes is None else classes.to(logits.device, torch.long)
            score = logits.gather(1, picked[:, None]).sum()
            (grads,) = torch.autograd.grad(score, maps)
    finally:
        hook.remove()
        model.train(was_training)
    weights = grads.mean((2, 3), keepdim=True)  # alpha_k: (N, K, 1, 1)
    cam = torch.relu((weights * maps).sum(1, keepdim=True)).detach()  # (N, 1, H', W')
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    top = cam.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    return cam / top


def save_overlay(image: Tensor, heat: Tensor, path: str | Path, title: str = "") -> None:
    """A PNG of ``image`` (C, H, W) uint8 (C 1 or 3) beside the same image under ``heat`` (H, W)
    in [0, 1] drawn as a colour map, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnkit.files import atomic_write

    picture = image.permute(1, 2, 0).numpy()
    cmap = "gray" if picture.shape[2] == 1 else None
    picture = picture[:, :, 0] if picture.shape[2] == 1 else picture
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    for ax in axes:
        ax.imshow(picture, cmap=cmap)
        ax.axis("off")
    axes[1].imshow(heat.numpy(), cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write(Path(path), buffer.getvalue())
