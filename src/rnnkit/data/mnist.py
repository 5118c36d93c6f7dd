"""MNIST in its original idx files, and digits as sequences for a recurrent network.

The idx format (LeCun et al.): a big-endian header of a magic number (2051 for
images, 2049 for labels: two zero bytes, type 0x08 = unsigned byte, the number
of dimensions), one 32-bit size per dimension, then the bytes. Files may be
gzip-compressed (as distributed) or not.

Sequence modes (:func:`as_sequence`), for images (N, 28, 28):
``rows``: (N, 28, 28), 28 steps of one row; ``pixels``: (N, 784, 1), one pixel
a step in reading order; ``permuted``: (N, 784, 1) in a fixed permutation
(:func:`pixel_permutation`, Le et al., 2015).
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from rnnkit.files import atomic_write

IMAGES, LABELS = 2051, 2049
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
MODES = ("rows", "pixels", "permuted")
SIDE = 28
MEAN, STD = 0.1307, 0.3081  # of the training pixels scaled to [0, 1]


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: not a readable gzip file ({err})") from None


def read_idx(path: str | Path, expect: Optional[int] = None) -> Tensor:
    """The uint8 tensor of an idx file: (N, rows, cols) for images, (N,) for labels.

    ``expect``: the magic number the file must have (``IMAGES`` or ``LABELS``).
    Raises ValueError naming the file for a wrong magic number, a header that
    does not match the data, or a truncated (or padded) file.
    """
    path = Path(path)
    data = _raw(path)
    if len(data) < 4:
        raise ValueError(f"{path}: {len(data)} bytes, too short for an idx header")
    (magic,) = struct.unpack(">i", data[:4])
    if magic not in (IMAGES, LABELS) or (expect is not None and magic != expect):
        wanted = f"{expect} ({'images' if expect == IMAGES else 'labels'})" if expect else f"{IMAGES} or {LABELS}"
        raise ValueError(f"{path}: magic number {magic}, expected {wanted}; not an MNIST idx file")
    ndim = 3 if magic == IMAGES else 1
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated idx header ({len(data)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}i", data[4:header])
    size = 1
    for n in shape:
        size *= n
    if len(data) - header != size:
        raise ValueError(f"{path}: header says {'x'.join(map(str, shape))} = {size:,} bytes of data, "
                         f"found {len(data) - header:,} ({'truncated' if len(data) - header < size else 'extra bytes'})")
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)


def write_idx(path: str | Path, values: Tensor, compress: bool = True) -> None:
    """Write uint8 images (N, rows, cols) or labels (N,) as an idx file (gzip when ``compress``)."""
    values = values.to(torch.uint8).contiguous()
    if values.dim() not in (1, 3):
        raise ValueError(f"write_idx: expected (N,) labels or (N, rows, cols) images, got {tuple(values.shape)}")
    magic = LABELS if values.dim() == 1 else IMAGES
    data = struct.pack(f">i{values.dim()}i", magic, *values.shape) + values.numpy().tobytes()
    atomic_write(path, gzip.compress(data, mtime=0) if compress else data)  # a reader never sees half a file


def find_file(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or the same name without ``.gz``."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    raise ValueError(f"{folder}: no {name} (or {name.removesuffix('.gz')}); expected the four MNIST idx files")


def load_split(folder: str | Path, split: str) -> tuple[Tensor, Tensor]:
    """(images (N, 28, 28) uint8, labels (N,) int64) of ``train`` or ``test`` in ``folder``."""
    folder = Path(folder)
    image_path, label_path = (find_file(folder, name) for name in FILES[split])
    images, labels = read_idx(image_path, IMAGES), read_idx(label_path, LABELS)
    if tuple(images.shape[1:]) != (SIDE, SIDE):
        raise ValueError(f"{image_path}: images of {images.shape[1]}x{images.shape[2]}, expected {SIDE}x{SIDE}")
    if len(images) != len(labels):
        raise ValueError(f"{label_path}: {len(labels):,} labels for {len(images):,} images in {image_path.name}")
    if len(labels) and int(labels.max()) > 9:
        raise ValueError(f"{label_path}: label {int(labels.max())}, expected digits 0-9")
    return images, labels.long()


def validation_split(count: int, valid_size: int, seed: int) -> tuple[Tensor, Tensor]:
    """(train indices, validation indices) of ``count`` training images, a seeded draw."""
    if not 0 < valid_size < count:
        raise ValueError(f"--valid-size: expected between 1 and {count - 1} (the training images), got {valid_size}")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[valid_size:].sort().values, order[:valid_size].sort().values


def pixel_permutation(seed: int) -> Tensor:
    """The fixed order (784,) in which ``permuted`` mode reads the pixels."""
    return torch.randperm(SIDE * SIDE, generator=torch.Generator().manual_seed(seed))


def as_sequence(images: Tensor, mode: str, permutation: Optional[Tensor] = None) -> Tensor:
    """Images (N, 28, 28) uint8 -> standardised float sequences (N, L, F), see the module docstring."""
    x = (images.float() / 255.0 - MEAN) / STD
    if mode == "rows":
        return x
    if mode not in MODES:
        raise ValueError(f"--mode: expected one of {', '.join(MODES)}, got {mode!r}")
    x = x.flatten(1)  # (N, 28, 28) -> (N, 784)
    if mode == "permuted":
        if permutation is None:
            raise ValueError("permuted mode needs its pixel permutation")
        x = x[:, permutation.to(x.device)]
    return x.unsqueeze(-1)


def random_shift(images: Tensor, most: int, generator: torch.Generator,
                 rows: Optional[slice] = None) -> Tensor:
    """Each image (N, 28, 28) moved by up to ``most`` pixels each way, the border filled with 0.

    ``rows``: the images are rows ``rows`` of a larger batch whose moves are drawn (so one
    process of several moves its share exactly as one process moves the whole batch)."""
    if most <= 0:
        return images
    n = len(images)
    drawn = n if rows is None else rows.stop
    moves = torch.randint(-most, most + 1, (drawn, 2), generator=generator)
    moves = moves if rows is None else moves[rows]
    padded = torch.nn.functional.pad(images, (most, most, most, most))
    rows = (torch.arange(SIDE) + most).unsqueeze(0) - moves[:, :1]  # (N, 28)
    cols = (torch.arange(SIDE) + most).unsqueeze(0) - moves[:, 1:]
    index = torch.arange(n)[:, None, None]
    return padded[index, rows[:, :, None], cols[:, None, :]]
