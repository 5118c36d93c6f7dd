"""The ``shapes`` data set: 1-3 coloured shapes on a 3x3 grid, drawn, with their captions.

Each scene has 1-3 things (uniform) in distinct cells; a thing is a shape (SHAPES) of a colour
(COLOURS, RGB in RGB) and a size ("small": half-extent 4 px at 64x64, "large": 8 px; scaled
with ``side``), drawn centred in its cell with a jitter of up to 2 px (scaled) each way, so
things never overlap (near the canvas's edge the jitter is clipped to keep the shape inside). The background is near black; every pixel gets a
uniform noise of +-12 so exact values carry nothing.

Compositional generalisation: HELD_OUT pairs (shape, colour), one colour per shape and each
colour once, never occur in the ``train``, ``valid`` and ``test`` splits; every scene of the
``compositional`` split holds at least one of them (its other things may be any pair).

No scene repeats across splits: the scene space (objects, attributes, cells) is cut by a stable
hash into 10 parts; test scenes come from one, validation scenes from another, training scenes
from the other 8 (:func:`in_split`), so a test scene is never a training scene with other noise.

Seeding: scene ``i`` of a split depends only on ``(seed, split, i)`` (its own generator
``numpy.random.default_rng([seed, SPLIT_INDEX[split], i])``), so splits never share a random
stream, the same call gives the same bytes, and a shorter call is a prefix of a longer one.
Shape masks are drawn once per ``side`` (numpy over a coordinate grid) and pasted.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from functools import lru_cache
from typing import Iterable

import numpy as np
import torch

from rnnkit.recipes.caption.scenes import COLOURS, SIZES, SPLIT_INDEX, Scene, Thing, captions

GRID = 3
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
RGB = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 255),
    "yellow": (240, 230, 40),
    "purple": (170, 60, 220),
    "cyan": (40, 220, 230),
    "white": (240, 240, 240),
}
HALF_EXTENT = {"small": 4, "large": 8}  # pixels at side 64
JITTER = 2  # pixels at side 64
NOISE = 12  # +- this much on every pixel
BACKGROUND = 12  # the background's mean value
HELD_OUT = frozenset(
    {("circle", "cyan"), ("square", "yellow"), ("triangle", "purple"), ("diamond", "green"), ("cross", "red")}
)
ALL_PAIRS = tuple((shape, colour) for shape in SHAPES for colour in COLOURS)
SEEN_PAIRS = tuple(pair for pair in ALL_PAIRS if pair not in HELD_OUT)
HELD_OUT_PAIRS = tuple(sorted(HELD_OUT))
#: the scene space is cut into this many parts by a hash: one for test scenes, one for validation
BUCKETS = 10
MIN_SIDE = 24


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points (u right, v down, in half-extents from the centre) lie inside ``shape``."""
    if shape == "circle":
        return u**2 + v**2 <= 0.9  # not 1: a lone pixel would stick out at each pole
    if shape == "square":
        return (np.abs(u) <= 0.85) & (np.abs(v) <= 0.85)
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    if shape == "triangle":  # apex up at v = -1, base at v = 0.8
        return (v >= -1.0) & (v <= 0.8) & (np.abs(u) <= (v + 1.0) / 1.8)
    if shape == "cross":
        return ((np.abs(u) <= 1.0) & (np.abs(v) <= 0.3)) | ((np.abs(v) <= 1.0) & (np.abs(u) <= 0.3))
    raise ValueError(f"shapes: unknown shape {shape!r}, expected one of {', '.join(SHAPES)}")


@lru_cache(maxsize=8)
def masks(side: int) -> dict[tuple[str, str], np.ndarray]:
    """{(shape, size): boolean mask (2e+1, 2e+1)} centred on its middle pixel, for images of ``side``."""
    drawn = {}
    for size, half in HALF_EXTENT.items():
        h = half * side / 64
        e = math.ceil(h)
        offsets = np.arange(-e, e + 1) / h
        v, u = np.meshgrid(offsets, offsets, indexing="ij")
        for shape in SHAPES:
            drawn[shape, size] = _inside(shape, u, v)
    return drawn


def cell_centre(cell: int, side: int, grid: int = GRID) -> tuple[int, int]:
    """(row, col) of the pixel at the centre of ``cell``."""
    row, col = divmod(cell, grid)
    return int((row + 0.5) * side / grid), int((col + 0.5) * side / grid)


def _check(split: str, side: int) -> None:
    if split not in SPLIT_INDEX:
        raise ValueError(f"shapes: split {split!r}, expected one of {', '.join(SPLIT_INDEX)}")
    if side < MIN_SIDE:
        raise ValueError(f"shapes: side {side}, expected at least {MIN_SIDE} pixels")


def bucket(scene: Scene) -> int:
    """Which of :data:`BUCKETS` parts of the scene space (objects, attributes, cells; not the jitter or
    the noise) ``scene`` belongs to: a stable hash, the same on every machine and Python."""
    key = ";".join(f"{t.cell},{t.kind},{t.colour},{t.size}" for t in scene.things)
    return zlib.crc32(key.encode()) % BUCKETS


def in_split(scene: Scene, split: str) -> bool:
    """Whether ``scene`` may be drawn for ``split``: the scene space is cut in three by :func:`bucket`
    (test: bucket 0, valid: 1, train: the rest), so no validation or test scene is a training scene
    with other noise; compositional scenes hold a pair training never has, so any bucket will do."""
    wanted = {"test": 0, "valid": 1}.get(split)
    if split == "compositional":
        return True
    return bucket(scene) == wanted if wanted is not None else bucket(scene) >= 2


def sample_scene(split: str, rng: np.random.Generator) -> tuple[Scene, list[tuple[int, int]]]:
    """A random scene of ``split`` (drawn again until it lies in the split's part of the scene space)
    and each thing's jitter (rows, cols) in units of JITTER."""
    while True:
        scene, jitters = _draw_scene(split, rng)
        if in_split(scene, split):
            return scene, jitters


def _draw_scene(split: str, rng: np.random.Generator) -> tuple[Scene, list[tuple[int, int]]]:
    count = int(rng.integers(1, 4))
    cells = sorted(int(c) for c in rng.choice(GRID * GRID, count, replace=False))
    held = int(rng.integers(count)) if split == "compositional" else -1
    things, jitters = [], []
    for k, cell in enumerate(cells):
        pool = HELD_OUT_PAIRS if k == held else ALL_PAIRS if split == "compositional" else SEEN_PAIRS
        shape, colour = pool[int(rng.integers(len(pool)))]
        size = SIZES[int(rng.integers(len(SIZES)))]
        things.append(Thing(shape, cell, colour, size))
        jitters.append((int(rng.integers(-JITTER, JITTER + 1)), int(rng.integers(-JITTER, JITTER + 1))))
    return Scene(tuple(things), GRID), jitters


def draw(scene: Scene, jitters: list[tuple[int, int]], rng: np.random.Generator, side: int = 64) -> np.ndarray:
    """The uint8 image (3, side, side) of ``scene``, noise drawn from ``rng``."""
    canvas = np.full((3, side, side), BACKGROUND, dtype=np.int16)
    scale = side / 64
    for thing, (dr, dc) in zip(scene.things, jitters):
        mask = masks(side)[thing.kind, thing.size]
        e = mask.shape[0] // 2
        row, col = cell_centre(thing.cell, side)
        # the jitter never takes a shape over the canvas's edge (at sides other than 64 it could)
        row = min(max(row + round(dr * scale), e), side - e - 1)
        col = min(max(col + round(dc * scale), e), side - e - 1)
        patch = canvas[:, row - e : row + e + 1, col - e : col + e + 1]
        patch[:, mask] = np.array(RGB[thing.colour], dtype=np.int16)[:, None]
    canvas += rng.integers(-NOISE, NOISE + 1, size=canvas.shape, dtype=np.int16)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def generate_one(split: str, index: int, seed: int, side: int = 64) -> tuple[np.ndarray, Scene, list[str]]:
    """Scene ``index`` of ``split``: (image uint8 (3, side, side), scene, up to 5 captions)."""
    _check(split, side)
    rng = np.random.default_rng([seed, SPLIT_INDEX[split], index])
    scene, jitters = sample_scene(split, rng)
    image = draw(scene, jitters, rng, side)
    return image, scene, captions(scene, rng)


def generate(split: str, count: int, seed: int, side: int = 64) -> tuple[torch.Tensor, list[Scene], list[list[str]]]:
    """``count`` scenes of ``split``: images uint8 (count, 3, side, side), scenes, captions (up to 5 each)."""
    _check(split, side)
    images = np.empty((count, 3, side, side), dtype=np.uint8)
    scenes, texts = [], []
    for i in range(count):
        images[i], scene, caps = generate_one(split, i, seed, side)
        scenes.append(scene)
        texts.append(caps)
    return torch.from_numpy(images), scenes, texts


def pair_counts(scenes: Iterable[Scene]) -> Counter:
    """How often each (shape, colour) pair occurs in ``scenes``."""
    return Counter((thing.kind, thing.colour) for scene in scenes for thing in scene.things)
