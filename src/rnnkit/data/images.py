"""Images from files or bytes: a digit as MNIST stores one (28x28 greyscale, a light digit on
black) and a colour picture for captioning (3 x side x side RGB).

Reading goes through Pillow (a dependency of matplotlib). Notes about what was
changed (resized, inverted, converted to RGB) go to stderr; an unreadable file is a ValueError
naming it. An image of more than ``MAX_PIXELS`` pixels (4096x4096) is refused from
its header, before it is decoded: a small crafted file can claim billions of pixels.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from .inputs import open_input

SIDE = 28
#: the most pixels an image to read may have (16,777,216 = 4096x4096), checked before decoding
MAX_PIXELS = 4096 * 4096
#: the fewest pixels a colour image may have on either side (checked before decoding)
MIN_SIDE = 8
#: the most bytes :func:`decode_rgb_bytes` takes (20 MiB), checked before anything is parsed
MAX_IMAGE_BYTES = 20 * 2**20


def _too_big(path: Path | str, size: str, kind: str = "a digit image") -> ValueError:
    return ValueError(
        f"{path}: {size}, more than the {MAX_PIXELS:,} (4096x4096) {kind} may have; make it smaller first"
    )


def _unreadable(path: Path | str, err: Exception | str, how: str = "as greyscale") -> ValueError:
    return ValueError(f"{path}: not an image that can be read {how} ({err})")


def _open(handle, path: Path | str, kind: str = "a digit image", how: str = "as greyscale"):
    """The Pillow image in the open file ``handle`` (its header read, nothing decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our cap is lower
            return Image.open(handle)
    except Image.DecompressionBombError as err:  # Pillow's own cap, twice MAX_IMAGE_PIXELS
        found = re.search(r"\((\d+) pixels\)", str(err))
        raise _too_big(path, f"{int(found[1]):,} pixels" if found else "too many pixels", kind) from None
    except UnidentifiedImageError:  # its message names the file object, not the file
        raise _unreadable(path, "not a format Pillow knows", how) from None
    except (OSError, ValueError, EOFError) as err:
        raise _unreadable(path, err, how) from None


def _decoded(handle, path: Path | str, convert: Callable, kind: str, how: str, min_side: int = 1):
    """``convert`` applied to the image in ``handle`` once decoded; its size checked from the
    header first (at most ``MAX_PIXELS`` pixels, at least ``min_side`` on either side)."""
    with _open(handle, path, kind, how) as image:
        if image.width * image.height > MAX_PIXELS:
            raise _too_big(path, f"{image.width}x{image.height} pixels", kind)
        if min(image.width, image.height) < min_side:
            raise ValueError(
                f"{path}: {image.width}x{image.height} pixels, too small; expected at least {min_side}x{min_side}"
            )
        try:
            image.load()
            return convert(image)
        except (OSError, ValueError, EOFError) as err:
            raise _unreadable(path, err, how) from None


def _greyscale(path: Path):
    """The image at ``path`` decoded as greyscale (a Pillow image), its size checked first."""
    with open_input(path, expected="an image file") as handle:
        return _decoded(handle, path, lambda image: image.convert("L"), "a digit image", "as greyscale")


def _resized(image, name: Path | str, side: int):
    """``image`` resized to side x side (aspect not kept), with a note when its size changes."""
    from PIL import Image

    if image.size == (side, side):
        return image
    print(f"({name}: {image.size[0]}x{image.size[1]} resized to {side}x{side})", file=sys.stderr)
    return image.resize((side, side), Image.Resampling.LANCZOS)


def read_digit_image(path: str | Path, side: int = SIDE) -> Tensor:
    """The image at ``path`` as uint8 (side, side): greyscale, resized if needed, and inverted
    when it is mostly light (a dark digit drawn on white), each with a note on stderr."""
    path = Path(path)
    grey = _resized(_greyscale(path), path, side)
    pixels = torch.frombuffer(bytearray(grey.tobytes()), dtype=torch.uint8).reshape(side, side)
    if pixels.double().mean() > 127.5:
        print(f"({path}: mostly light, so inverted to a light digit on black as in MNIST)", file=sys.stderr)
        pixels = 255 - pixels
    return pixels


def _to_rgb(name: Path | str) -> Callable:
    """A converter of a decoded Pillow image to RGB that notes on stderr what it changed.

    Transparency (RGBA, LA, a palette or greyscale with a transparent colour) is composited on
    white, as a viewer shows it on a page; other modes (L, P, CMYK, I;16, YCbCr, ...) are
    converted by Pillow."""

    def convert(image):
        from PIL import Image

        if image.mode == "RGB":
            return image.copy()
        mode = image.mode
        if mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = Image.alpha_composite(white, rgba).convert("RGB")
            print(f"({name}: {mode} with transparency composited on white to RGB)", file=sys.stderr)
            return rgb
        print(f"({name}: {mode} converted to RGB)", file=sys.stderr)
        return image.convert("RGB")

    return convert


def _rgb_tensor(image, name: Path | str, side: int) -> Tensor:
    image = _resized(image, name, side)
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return pixels.reshape(side, side, 3).permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


def read_rgb_image(path: str | Path, side: int, notes: bool = True) -> Tensor:
    """The image at ``path`` as uint8 (3, side, side), channels R, G, B.

    Any mode is converted to RGB (transparency composited on white) and any size resized to
    side x side with Lanczos filtering; the aspect ratio is NOT kept (a plain resize), each
    change noted on stderr. Refused in one line naming the file: not an image, a truncated
    one, more than ``MAX_PIXELS`` pixels or fewer than ``MIN_SIDE`` on a side (both from the
    header, before decoding). ``notes=False`` keeps the notes to itself (a data set read in bulk
    says once what it did).
    """
    path = Path(path)
    with contextlib.ExitStack() as stack:
        if not notes:
            stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        with open_input(path, expected="an image file") as handle:
            image = _decoded(handle, path, _to_rgb(path), "an image", "as RGB", MIN_SIDE)
        return _rgb_tensor(image, path, side)


def decode_rgb_bytes(data: bytes, name: str, side: int) -> Tensor:
    """:func:`read_rgb_image` for the encoded image ``data`` (PNG, JPEG, ...), named ``name``
    in messages; more than ``MAX_IMAGE_BYTES`` bytes is refused before parsing."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"{name}: {len(data):,} bytes, more than the {MAX_IMAGE_BYTES:,} an image may have")
    image = _decoded(io.BytesIO(data), name, _to_rgb(name), "an image", "as RGB", MIN_SIDE)
    return _rgb_tensor(image, name, side)
