"""The ``fashion-scenes`` data set: 2-4 Fashion-MNIST (or MNIST) articles on a 2x2 canvas.

Each scene has 2-4 articles (uniform) in distinct cells of a 2x2 grid; each 28x28 article is
placed in its 32x32 quadrant of a 64x64 canvas, centred with a jitter of up to 2 px each way
(sizes and positions scale with ``side``, articles by nearest neighbour), on a black background;
the greyscale canvas is replicated to 3 channels (uint8). Articles come only from the pool
passed in (``images``, ``labels``): the caller gives training-pool articles for train and valid
and test articles for test. Captions name each article by ``class_names[label]`` (CLASSES for
Fashion-MNIST, DIGITS for MNIST) with its quadrant, in the grammar of
:mod:`rnnkit.recipes.caption.scenes`.

Seeding as in :mod:`rnnkit.recipes.caption.shapes`: scene ``i`` depends only on
``(seed, split, i)`` and the pool.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from rnnkit.recipes.caption.scenes import SPLIT_INDEX, Scene, Thing, captions

CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
GRID = 2
ARTICLE = 28  # pixels of an article at side 64
JITTER = 2  # pixels at side 64
SPLITS = ("train", "valid", "test")
MIN_SIDE = 32


def _pool(images, labels, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The pool as numpy arrays, checked."""
    images, labels = np.asarray(images), np.asarray(labels).astype(np.int64)
    if images.ndim != 3 or images.shape[1:] != (ARTICLE, ARTICLE) or images.dtype != np.uint8:
        raise ValueError(f"fashion: expected uint8 articles (M, 28, 28), got {images.dtype} {images.shape}")
    if len(images) != len(labels) or not len(images):
        raise ValueError(f"fashion: {len(images)} articles and {len(labels)} labels; expected the same, at least 1")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ValueError(f"fashion: labels {labels.min()}..{labels.max()} for {len(class_names)} class names")
    return images, labels


def _check(split: str, side: int) -> None:
    if split not in SPLITS:
        raise ValueError(f"fashion: split {split!r}, expected one of {', '.join(SPLITS)}")
    if side < MIN_SIDE:
        raise ValueError(f"fashion: side {side}, expected at least {MIN_SIDE} pixels")


def _compose(
    split: str, index: int, seed: int, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], side: int
) -> tuple[np.ndarray, Scene, list[str], tuple[int, ...]]:
    rng = np.random.default_rng([seed, SPLIT_INDEX[split], index])
    count = int(rng.integers(2, 5))
    cells = sorted(int(c) for c in rng.choice(GRID * GRID, count, replace=False))
    used = tuple(int(i) for i in rng.integers(len(images), size=count))
    quadrant, size = side // GRID, round(ARTICLE * side / 64)
    margin = (quadrant - size) // 2
    most = min(round(JITTER * side / 64), margin)
    pick = (np.arange(size) * ARTICLE) // size  # nearest-neighbour rows/cols of a resized article
    canvas = np.zeros((side, side), dtype=np.uint8)
    things = []
    for cell, article in zip(cells, used):
        row, col = divmod(cell, GRID)
        top = row * quadrant + margin + int(rng.integers(-most, most + 1))
        left = col * quadrant + margin + int(rng.integers(-most, most + 1))
        picture = images[article] if size == ARTICLE else images[article][pick][:, pick]
        canvas[top : top + size, left : left + size] = picture
        things.append(Thing(class_names[labels[article]], cell))
    scene = Scene(tuple(things), GRID)
    return np.broadcast_to(canvas, (3, side, side)).copy(), scene, captions(scene, rng), used


def generate_one(
    split: str, index: int, seed: int, images, labels, class_names: Sequence[str], side: int = 64
) -> tuple[np.ndarray, Scene, list[str], tuple[int, ...]]:
    """Scene ``index`` of ``split``: (image uint8 (3, side, side), scene, captions, pool indices of its
    articles in cell order)."""
    _check(split, side)
    images, labels = _pool(images, labels, class_names)
    return _compose(split, index, seed, images, labels, class_names, side)


def generate(
    split: str, count: int, seed: int, images, labels, class_names: Sequence[str], side: int = 64
) -> tuple[torch.Tensor, list[Scene], list[list[str]]]:
    """``count`` scenes of ``split`` from the article pool ``images`` (M, 28, 28) uint8 and ``labels``
    (M,): images uint8 (count, 3, side, side), scenes, captions (up to 5 each)."""
    _check(split, side)
    images, labels = _pool(images, labels, class_names)
    out = np.empty((count, 3, side, side), dtype=np.uint8)
    scenes, texts = [], []
    for i in range(count):
        out[i], scene, caps, _ = _compose(split, i, seed, images, labels, class_names, side)
        scenes.append(scene)
        texts.append(caps)
    return torch.from_numpy(out), scenes, texts
