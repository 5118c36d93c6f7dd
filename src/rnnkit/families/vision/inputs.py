"""Images given to a trained image classifier: files on the command line or base64 files in a
request, converted to the run's channels and side (:func:`to_channels`, :func:`read_images`,
:func:`decode_images`), and where a Grad-CAM picture of each goes (:func:`explain_paths`).

Any image mode and size is taken: it is converted to the run's channels (greyscale as ITU-R 601
luma; a mostly light greyscale picture is inverted to the light-on-dark form of MNIST and
Fashion-MNIST) and resized to the run's side, each change noted on stderr.
"""

from __future__ import annotations

import base64
import binascii
import sys
from pathlib import Path
from typing import Optional

import torch

from rnnkit.data.images import decode_rgb_bytes, read_rgb_image

#: base64 characters of one image in a request (about 6 MB of file)
MAX_BASE64 = 8 * 2**20
LUMA = (0.299, 0.587, 0.114)
#: an 8x8 black PNG, the example request of ``POST /predict``
EXAMPLE_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAADElEQVR4nGNgGB4AAADIAAGtQHYiAAAAAElFTkSuQmCC"


def to_channels(rgb: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    """uint8 ``(3, S, S)`` -> uint8 ``(channels, S, S)``: as it is for 3, luma for 1 (inverted,
    with a note, when mostly light: the data sets of one channel draw light on black)."""
    if channels == 3:
        return rgb
    grey = sum(w * rgb[i].float() for i, w in enumerate(LUMA)).round().clamp(0, 255).to(torch.uint8)
    if grey.double().mean() > 127.5:
        print(f"({name}: mostly light, so inverted to light on black as the training images are)", file=sys.stderr)
        grey = 255 - grey
    return grey[None]


def read_images(paths: list[str], side: int, channels: int) -> torch.Tensor:
    """uint8 ``(M, channels, side, side)`` from image files (ValueError naming a file it cannot read)."""
    return torch.stack([to_channels(read_rgb_image(p, side), channels, p) for p in paths])


def decode_images(items: list[str], side: int, channels: int) -> torch.Tensor:
    """uint8 ``(M, channels, side, side)`` from base64-encoded image files (checked by :func:`not_base64`)."""
    images = []
    for i, item in enumerate(items):
        images.append(
            to_channels(decode_rgb_bytes(base64.b64decode(item), f"images[{i}]", side), channels, f"images[{i}]")
        )
    return torch.stack(images)


def explain_paths(path: str, count: int) -> list[Path]:
    """``path`` for one image; ``stem-1.png``, ``stem-2.png``... beside it for several."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(f"--explain {path}: expected a .png file name")
    if not target.parent.is_dir():
        raise ValueError(f"--explain {path}: folder {target.parent} does not exist")
    if count == 1:
        return [target]
    return [target.with_name(f"{target.stem}-{k}{target.suffix}") for k in range(1, count + 1)]


def not_base64(items: list) -> Optional[str]:
    for index, item in enumerate(items):
        if len(item) > MAX_BASE64:
            return f"item {index}: more than {MAX_BASE64:,} base64 characters; send a smaller image"
        try:
            base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            return f"item {index}: expected an image file encoded in base64"
    return None
