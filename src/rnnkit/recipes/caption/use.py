"""Caption recipe, use side: ``rnnkit caption RUN image.png [more ...]`` (files, folders, or paths
on stdin) and ``POST /caption`` (base64-encoded image files); ``--attention-plot`` draws, for each
word of the first image's caption, its attention over the image.

``model`` is a :class:`rnnkit.recipes.caption.trained.TrainedCaptioner`.
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
from pathlib import Path
from typing import Optional

import torch

from rnnkit.data.images import decode_rgb_bytes, read_rgb_image
from rnnkit.data.inputs import stdin_lines
from rnnkit.recipes.caption.search import MAX_WORDS, Caption
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.plots import pyplot, save_figure
from rnnkit.train.ranges import BEAM, LENGTH_PENALTY
from rnnkit.train.recipe import Command, Serving

PLOT_SUFFIXES = (".png", ".pdf", ".svg")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
#: image files one command reads (a folder's included)
MAX_IMAGES = 10_000
#: base64 characters of one image in a request (about 6 MB of file)
MAX_BASE64 = 8 * 2**20


def image_paths(given: list[str]) -> list[Path]:
    """Image files from paths given (files, and folders' image files in name order), at most
    :data:`MAX_IMAGES`; ValueError naming a path that does not exist or a folder without images."""
    found: list[Path] = []
    for name in given:
        path = Path(name)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise ValueError(f"{path}: a folder without image files ({', '.join(IMAGE_SUFFIXES)})")
            found.extend(inside)
        elif path.exists():
            found.append(path)
        else:
            raise ValueError(f"{path}: no such file or folder")
        if len(found) > MAX_IMAGES:
            raise ValueError(f"more than {MAX_IMAGES:,} images in one command; caption them in parts")
    return found


def plot_attention(image: torch.Tensor, caption: Caption, path, columns: int = 5) -> Path:
    """The image (3, S, S) uint8, then one panel per step (each word, then the end) with its
    attention over the R = h * w regions drawn over the image; written atomically to ``path``."""
    plt = pyplot()
    weights = caption.attention.double()  # (T, R)
    side = math.isqrt(weights.shape[1])
    if side * side != weights.shape[1]:
        raise ValueError(f"attention over {weights.shape[1]} regions is not a square grid")
    words = caption.words + ["<end>"] * (weights.shape[0] - len(caption.words))
    panels = 1 + len(words)
    rows = -(-panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.0 * columns, 2.2 * rows), dpi=100, squeeze=False)
    picture = image.permute(1, 2, 0).numpy()
    extent = (0, picture.shape[1], picture.shape[0], 0)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= panels:
            continue
        ax.imshow(picture, extent=extent)
        if index == 0:
            ax.set_title("image", fontsize=9)
            continue
        grid = weights[index - 1].reshape(side, side).numpy()
        ax.imshow(grid, cmap="gray", alpha=0.65, extent=extent, interpolation="bilinear", vmin=0, vmax=grid.max())
        ax.set_title(words[index - 1], fontsize=10)
    fig.suptitle(caption.text, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _check_plot(model, path: Optional[str]) -> None:
    if path is None:
        return
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--attention-plot {path}: expected a file name ending in {', '.join(PLOT_SUFFIXES)}")
    if not Path(path).resolve().parent.is_dir():
        raise ValueError(f"--attention-plot {path}: the folder {Path(path).parent} does not exist")
    if model.sections["model"].attention == "none":
        raise ValueError("--attention-plot: this model was trained with --attention none; it has no attention to plot")


def _caption(model, values) -> int:
    paths = image_paths(list(values.images) if values.images else [line for line in stdin_lines() if line.strip()])
    if not paths:
        raise ValueError("no input: give image files or folders as arguments, or their paths one per line on stdin")
    _check_plot(model, values.attention_plot)
    images = torch.stack([read_rgb_image(path, model.image_size) for path in paths])
    captions = model.caption(
        images, values.beam, values.length_penalty, values.max_words, attention=bool(values.attention_plot)
    )
    width = max(len(str(p)) for p in paths)
    sys.stdout.write("".join(f"{str(p):<{width}}  {c.text}\n" for p, c in zip(paths, captions)))
    if values.attention_plot:
        plot_attention(images[0], captions[0], values.attention_plot)
        print(f"attention plot of {paths[0]}: {values.attention_plot}", file=sys.stderr)
    return 0


def _not_base64(items: list) -> Optional[str]:
    for index, item in enumerate(items):
        if len(item) > MAX_BASE64:
            return f"item {index}: more than {MAX_BASE64:,} base64 characters; send a smaller image"
        try:
            base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            return f"item {index}: expected an image file encoded in base64"
    return None


def serve_caption(model, values) -> dict:
    """``POST /caption``: each image's caption."""
    images = torch.stack(
        [
            decode_rgb_bytes(base64.b64decode(item), f"images[{i}]", model.image_size)
            for i, item in enumerate(values["images"])
        ]
    )
    found = model.caption(images, values["beam"], values["length_penalty"], values["max_words"])
    return {"captions": [{"text": c.text} for c in found]}


# a 1x1 PNG would be refused as too small; this is an 8x8 black PNG
_EXAMPLE = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAADElEQVR4nGNgGB4AAADIAAGtQHYiAAAAAElFTkSuQmCC"

CAPTION = Command(
    "caption",
    "caption images (files, folders of images, or paths one per line on stdin)",
    (
        Param(
            "images",
            "strings",
            REQUIRED,
            "image files (PNG, JPEG...) encoded in base64",
            positional=True,
            size=(1, 64),
            check=_not_base64,
            cli={"default": None, "help": "image files or folders (default: paths on stdin)"},
        ),
        BEAM,
        LENGTH_PENALTY,
        MAX_WORDS,
        Param("attention_plot", str, None, "save each word's attention over the first image (PNG)", http=False),
    ),
    _caption,
    serve=Serving(serve_caption, example={"images": [_EXAMPLE]}, batch="images", output="captions"),
)
