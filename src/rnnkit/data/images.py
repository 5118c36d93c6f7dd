"""A digit image from a file, as MNIST stores one: 28x28 greyscale, a light digit on black.

Reading goes through Pillow (a dependency of matplotlib). Notes about what was
changed (resized, inverted) go to stderr; an unreadable file is a ValueError
naming it. An image of more than ``MAX_PIXELS`` pixels (4096x4096) is refused from
its header, before it is decoded: a small crafted file can claim billions of pixels.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import torch
from torch import Tensor

from .inputs import open_input

SIDE = 28
#: the most pixels an image to read may have (16,777,216 = 4096x4096), checked before decoding
MAX_PIXELS = 4096 * 4096


def _too_big(path: Path, size: str) -> ValueError:
    return ValueError(
        f"{path}: {size}, more than the {MAX_PIXELS:,} (4096x4096) a digit image may have; make it smaller first"
    )


def _unreadable(path: Path, err: Exception) -> ValueError:
    return ValueError(f"{path}: not an image that can be read as greyscale ({err})")


def _open(handle, path: Path):
    """The Pillow image in the open file ``handle`` (its header read, nothing decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our cap is lower
            return Image.open(handle)
    except Image.DecompressionBombError as err:  # Pillow's own cap, twice MAX_IMAGE_PIXELS
        found = re.search(r"\((\d+) pixels\)", str(err))
        raise _too_big(path, f"{int(found[1]):,} pixels" if found else "too many pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, EOFError) as err:
        raise _unreadable(path, err) from None


def _greyscale(path: Path):
    """The image at ``path`` decoded as greyscale (a Pillow image), its size checked first."""
    with open_input(path, expected="an image file") as handle, _open(handle, path) as image:
        if image.width * image.height > MAX_PIXELS:
            raise _too_big(path, f"{image.width}x{image.height} pixels")
        try:
            image.load()
            return image.convert("L")
        except (OSError, ValueError, EOFError) as err:
            raise _unreadable(path, err) from None


def read_digit_image(path: str | Path, side: int = SIDE) -> Tensor:
    """The image at ``path`` as uint8 (side, side): greyscale, resized if needed, and inverted
    when it is mostly light (a dark digit drawn on white), each with a note on stderr."""
    from PIL import Image

    path = Path(path)
    grey = _greyscale(path)
    if grey.size != (side, side):
        print(f"({path}: {grey.size[0]}x{grey.size[1]} resized to {side}x{side})", file=sys.stderr)
        grey = grey.resize((side, side), Image.Resampling.LANCZOS)
    pixels = torch.frombuffer(bytearray(grey.tobytes()), dtype=torch.uint8).reshape(side, side)
    if pixels.double().mean() > 127.5:
        print(f"({path}: mostly light, so inverted to a light digit on black as in MNIST)", file=sys.stderr)
        pixels = 255 - pixels
    return pixels
