"""Caption recipe, data side: where the captioned images come from (:class:`CaptionConfig`) and
each split as tensors and references (:class:`CaptionSplit`, :func:`load_split`).

Data sets:

* ``shapes``: generated scenes of 1-3 coloured shapes on a 3x3 grid (:mod:`.shapes`); the
  splits ``train``, ``valid``, ``test`` and ``compositional`` come from disjoint random streams
  of ``--data-seed``, the last one with shape-colour pairs never seen in training.
* ``fashion-scenes``: 2-4 Fashion-MNIST articles on a 2x2 grid (``--articles mnist``: digits);
  training and validation scenes use training-split articles (5,000 of them held out for
  validation), test scenes only test-split articles.
* a COCO captions JSON or a Karpathy split JSON (``dataset_flickr8k.json``, ``dataset_coco.json``)
  with ``--image-dir``: images read with Pillow (RGB, resized to ``--image-size``).

Captions are lowercased and tokenised with :func:`rnnkit.data.tokenize.tokenize`; tokens with no
letter or digit (punctuation) are dropped.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from rnnkit.bounds import batch
from rnnkit.data import mnist
from rnnkit.data.captioned import Captioned, read_captioned
from rnnkit.data.corpus import data_dir as default_data_dir
from rnnkit.data.corpus import missing_data
from rnnkit.data.images import read_rgb_image
from rnnkit.data.tokenize import tokenize
from rnnkit.recipes.caption import fashion, shapes
from rnnkit.recipes.caption.scenes import Scene
from rnnkit.train.config import PATH, bound

GENERATED = ("shapes", "fashion-scenes")
ARTICLES = ("fashion", "mnist")
SPLITS = ("train", "valid", "test", "compositional")
#: training articles held out for the validation scenes of fashion-scenes
VALID_ARTICLES = 5000


@dataclass
class CaptionConfig:
    """Where the captioned images come from.

    Attributes:
        dataset: ``shapes``, ``fashion-scenes``, or a COCO captions / Karpathy split JSON file.
        image_dir: the images of a JSON data set.
        data_dir: the data folder holding ``fashion-mnist/`` and ``mnist/``.
        articles: ``fashion`` or ``mnist`` (fashion-scenes only).
        data_seed: seed of the generated scenes (fixed, so every run sees the same test scenes).
        train_size, valid_size, test_size: scenes generated per split (compositional: test_size).
        image_size: the side images are drawn or resized to.
        min_count: words seen fewer times in the training captions become ``<unk>``.
        valid_fraction, test_fraction: the held-out shares of a COCO JSON (seeded by data_seed);
            a Karpathy JSON brings its own splits.
        batch_size: captions per batch.
    """

    dataset: str = field(default="shapes", metadata=PATH)
    image_dir: str = field(default="", metadata=PATH)
    data_dir: str = field(default="", metadata=PATH)
    articles: str = "fashion"
    data_seed: int = field(default=0, metadata=bound(0, 2**31 - 1))
    train_size: int = field(default=40_000, metadata=bound(1, 1_000_000))
    valid_size: int = field(default=1000, metadata=bound(1, 100_000))
    test_size: int = field(default=2000, metadata=bound(1, 100_000))
    image_size: int = field(default=64, metadata=bound(16, 512))
    min_count: int = field(default=1, metadata=bound(1, 1000))
    valid_fraction: float = field(default=0.05, metadata=bound(0, 0.5, open_low=True))
    test_fraction: float = field(default=0.05, metadata=bound(0, 0.5, open_low=True))
    batch_size: int = field(default=64, metadata=batch())

    def __post_init__(self) -> None:
        if self.articles not in ARTICLES:
            raise ValueError(f"--articles: expected one of {', '.join(ARTICLES)}, got {self.articles!r}")

    @property
    def generated(self) -> bool:
        return self.dataset in GENERATED


@dataclass
class CaptionSplit:
    """One split: images (M, 3, S, S) uint8, their reference captions, their names and, for
    the generated sets, the scenes (the truth the captions are checked against)."""

    images: Tensor
    captions: list[list[str]]
    names: list[str]
    scenes: Optional[list[Scene]] = None

    def __len__(self) -> int:
        return len(self.captions)

    def references(self) -> list[list[str]]:
        """Each image's reference captions as the model's words joined by spaces (what it is scored against)."""
        return [[" ".join(caption_words(text)) for text in refs] for refs in self.captions]


def caption_words(text: str) -> list[str]:
    """The tokens of a caption as the model reads and writes them."""
    return [t for t in tokenize(text.lower()) if any(ch.isalnum() for ch in t)]


def kinds(config: CaptionConfig) -> tuple[str, ...]:
    """The object names a generated data set's captions use (for parsing them back)."""
    if config.dataset == "shapes":
        return tuple(shapes.SHAPES)
    return tuple(fashion.CLASSES if config.articles == "fashion" else fashion.DIGITS)


def _pool(config: CaptionConfig, split: str) -> tuple[Tensor, Tensor]:
    """The articles a fashion-scenes split draws from: training articles (less the validation
    ones) for train, the held-out training articles for valid, test articles for test."""
    name = "fashion-mnist" if config.articles == "fashion" else "mnist"
    root = default_data_dir(config.data_dir or None)
    folder = root / name
    if not mnist.has_files(folder):
        raise missing_data(name, config.data_dir or None, folder / mnist.FILES["train"][0])
    if split in ("test", "compositional"):
        return mnist.load_split(folder, "test")
    images, labels = mnist.load_split(folder, "train")
    train_idx, valid_idx = mnist.validation_split(len(images), VALID_ARTICLES, config.data_seed)
    rows = valid_idx if split == "valid" else train_idx
    return images[rows], labels[rows]


def _generated(config: CaptionConfig, split: str) -> CaptionSplit:
    count = {"train": config.train_size, "valid": config.valid_size}.get(split, config.test_size)
    least = shapes.MIN_SIDE if config.dataset == "shapes" else fashion.MIN_SIDE
    if config.image_size < least:
        raise ValueError(f"--image-size {config.image_size}: {config.dataset} scenes need at least {least} pixels")
    if config.dataset == "shapes":
        images, scenes, captions = shapes.generate(split, count, config.data_seed, config.image_size)
    else:
        if split == "compositional":
            raise ValueError("--split compositional: only the shapes data set has a compositional split")
        names = fashion.CLASSES if config.articles == "fashion" else fashion.DIGITS
        pool_images, pool_labels = _pool(config, split)
        images, scenes, captions = fashion.generate(
            split, count, config.data_seed, pool_images, pool_labels, names, config.image_size
        )
    names = [f"{config.dataset}/{split}/{i}" for i in range(count)]
    return CaptionSplit(images, captions, names, scenes)


def _held_out(items: list[Captioned], config: CaptionConfig) -> list[Captioned]:
    """A COCO JSON's items with their split: seeded shares for valid and test, the rest train."""
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(config.data_seed)).tolist()
    n_valid = max(1, round(config.valid_fraction * len(items)))
    n_test = max(1, round(config.test_fraction * len(items)))
    split_of = {}
    for rank, index in enumerate(order):
        split_of[index] = "valid" if rank < n_valid else "test" if rank < n_valid + n_test else "train"
    return [Captioned(item.image, item.captions, split_of[i]) for i, item in enumerate(items)]


@lru_cache(maxsize=2)
def _captioned(dataset: str, image_dir: str) -> tuple[str, tuple[Captioned, ...]]:
    """A captions JSON read once per process (a run reads its train and valid splits from it)."""
    kind, items = read_captioned(dataset, image_dir)
    return kind, tuple(items)


def _files(config: CaptionConfig) -> list[Captioned]:
    path = Path(config.dataset)
    if not path.is_file():
        raise ValueError(
            f"--dataset {config.dataset}: expected {', '.join(GENERATED)} or a COCO captions / Karpathy split JSON file"
        )
    if not config.image_dir:
        raise ValueError(f"--dataset {config.dataset}: give --image-dir, the folder of its images")
    if not Path(config.image_dir).is_dir():
        raise ValueError(f"--image-dir {config.image_dir}: not a folder")
    kind, items = _captioned(str(path), config.image_dir)
    return _held_out(list(items), config) if kind == "coco" else list(items)


def load_split(config: CaptionConfig, split: str) -> CaptionSplit:
    """The images and references of ``split`` (train, valid, test; compositional for shapes)."""
    if config.generated:
        return _generated(config, split)
    if split == "compositional":
        raise ValueError("--split compositional: only the shapes data set has a compositional split")
    items = [item for item in _files(config) if item.split == split]
    if not items:
        raise ValueError(f"{config.dataset}: no images in the {split} split")
    images = torch.stack([read_rgb_image(item.image, config.image_size, notes=False) for item in items])
    print(
        f"caption: {config.dataset}: {len(items):,} {split} images (converted to RGB and resized to "
        f"{config.image_size}x{config.image_size} as needed)",
        file=sys.stderr,
    )
    return CaptionSplit(images, [list(item.captions) for item in items], [str(item.image) for item in items])
