"""A digit image from a file, as MNIST stores one: 28x28 greyscale, a light digit on black.

Reading goes through Pillow (a dependency of matplotlib). Notes about what was
changed (resized, inverted) go to stderr; an unreadable file is a ValueError
naming it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import Tensor

SIDE = 28


def read_digit_image(path: str | Path, side: int = SIDE) -> Tensor:
    """The image at ``path`` as uint8 (side, side): greyscale, resized if needed, and inverted
    when it is mostly light (a dark digit drawn on white), each with a note on stderr."""
    from PIL import Image, UnidentifiedImageError
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            grey = image.convert("L")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ValueError(f"{path}: not an image that can be read as greyscale ({err})") from None
    if grey.size != (side, side):
        print(f"({path}: {grey.size[0]}x{grey.size[1]} resized to {side}x{side})", file=sys.stderr)
        grey = grey.resize((side, side), Image.Resampling.LANCZOS)
    pixels = torch.frombuffer(bytearray(grey.tobytes()), dtype=torch.uint8).reshape(side, side)
    if pixels.double().mean() > 127.5:
        print(f"({path}: mostly light, so inverted to a light digit on black as in MNIST)", file=sys.stderr)
        pixels = 255 - pixels
    return pixels
