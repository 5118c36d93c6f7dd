"""Labelled images kept as people keep their photos: one subfolder per class.

``root/cat/1.jpg``, ``root/cat/2.png``, ``root/dog/a.jpeg`` ... The classes are the subfolders'
names in sorted order (their index is the label); every file in a class folder must be an image
(``IMAGE_SUFFIXES``; hidden files such as ``.DS_Store`` are not counted). A class folder with no
image, a file that is not an image or one that cannot be decoded is an error naming it, unless
``skip_bad`` is given: then bad files are skipped and counted (an empty class is always an error,
since a class with no example cannot be learnt or scored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .images import read_rgb_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass
class ImageFolder:
    """What :func:`read_folder` found.

    Attributes:
        images: uint8 ``(N, 3, side, side)``; labels: int64 ``(N,)``, indices into ``classes``.
        classes: the class names (subfolder names, sorted); files: the path of each image.
        skipped: ``(path, why)`` of each file left out with ``skip_bad``.
    """

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...]
    files: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def list_folder(root: str | Path, skip_bad: bool = False) -> tuple[tuple[str, ...], list[tuple[Path, int]], list]:
    """``(classes, [(path, label)], skipped)`` of the files under ``root`` (not decoded yet).

    A ValueError names the problem: ``root`` not a folder, no class subfolders, a class with no
    image, a file that is not an image (unless ``skip_bad``: skipped and listed in ``skipped``).
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder (expected one subfolder of images per class)")
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not classes:
        raise ValueError(f"{root}: no class subfolders (expected root/CLASS/IMAGE files)")
    items, skipped = [], []
    for label, name in enumerate(classes):
        found = 0
        for path in sorted(p for p in (root / name).iterdir() if not p.name.startswith(".")):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                items.append((path, label))
                found += 1
                continue
            why = "a folder inside a class folder" if path.is_dir() else "not an image file"
            if not skip_bad:
                raise ValueError(
                    f"{path}: {why} (expected {', '.join(IMAGE_SUFFIXES)}; --skip-bad-files skips and counts such files)"
                )
            skipped.append((path, why))
        if not found:
            raise ValueError(f"{root / name}: class {name!r} has no images (every class needs at least one)")
    return classes, items, skipped


def read_folder(root: str | Path, side: int, skip_bad: bool = False) -> ImageFolder:
    """Every image under ``root`` as RGB ``side`` x ``side`` (resized; see
    :func:`rnnkit.data.images.read_rgb_image`), labelled by its subfolder.

    A file that cannot be decoded is a ValueError naming it, or (``skip_bad``) skipped and
    counted; a class left with no image after skipping is an error as in :func:`list_folder`.
    """
    classes, items, skipped = list_folder(root, skip_bad)
    images, labels, files = [], [], []
    for path, label in items:
        try:
            images.append(read_rgb_image(path, side, notes=False))
        except ValueError as err:
            if not skip_bad:
                raise ValueError(f"{err} (--skip-bad-files skips and counts such files)") from None
            skipped.append((path, str(err)))
            continue
        labels.append(label)
        files.append(path)
    present = set(labels)
    for label, name in enumerate(classes):
        if label not in present:
            raise ValueError(f"{Path(root) / name}: class {name!r} has no readable images (every class needs one)")
    return ImageFolder(torch.stack(images), torch.tensor(labels), classes, files, skipped)
