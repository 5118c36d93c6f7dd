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
import hashlib
import math
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Optional

import torch
from torch import Tensor

from rnnkit.data.inputs import open_input
from rnnkit.files import atomic_write

IMAGES, LABELS = 2051, 2049
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MODES = ("rows", "pixels", "permuted")
SIDE = 28
MEAN, STD = 0.1307, 0.3081  # of the training pixels scaled to [0, 1]
MAX_IDX_BYTES = 256 * 2**20  # the most data an idx header may claim (MNIST's largest file: 47 MB)
CHUNK = 2**20  # bytes decompressed at a time when counting what a file holds beyond its header's claim


def _read(stream: BinaryIO, count: int, path: Path) -> bytes:
    """Up to ``count`` bytes of ``stream`` (a file or its gzip reader: never more decompressed)."""
    try:
        return stream.read(count)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: not a readable gzip file ({err})") from None


def _rest(stream: BinaryIO, path: Path, most: int) -> int:
    """How many bytes are left in ``stream``, counted in chunks and dropped, up to ``most + 1``."""
    total = 0
    while total <= most:
        chunk = _read(stream, min(CHUNK, most + 1 - total), path)
        if not chunk:
            break
        total += len(chunk)
    return total


def _shape(stream: BinaryIO, path: Path, expect: Optional[int]) -> tuple[int, ...]:
    """The dimensions in an idx header, after checking its magic number."""
    head = _read(stream, 4, path)
    if len(head) < 4:
        raise ValueError(f"{path}: {len(head)} bytes, too short for an idx header")
    (magic,) = struct.unpack(">i", head)
    if magic not in (IMAGES, LABELS) or (expect is not None and magic != expect):
        wanted = f"{expect} ({'images' if expect == IMAGES else 'labels'})" if expect else f"{IMAGES} or {LABELS}"
        raise ValueError(f"{path}: magic number {magic}, expected {wanted}; not an MNIST idx file")
    ndim = 3 if magic == IMAGES else 1
    dims = _read(stream, 4 * ndim, path)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{path}: truncated idx header ({4 + len(dims)} of {4 + 4 * ndim} bytes)")
    shape = struct.unpack(f">{ndim}i", dims)
    if min(shape) < 0:
        raise ValueError(f"{path}: header says {'x'.join(map(str, shape))}; expected sizes >= 0")
    return shape


def read_idx(path: str | Path, expect: Optional[int] = None, limit: int = MAX_IDX_BYTES) -> Tensor:
    """The uint8 tensor of an idx file: (N, rows, cols) for images, (N,) for labels.

    ``expect``: the magic number the file must have (``IMAGES`` or ``LABELS``). A gzip file is
    decompressed in bounded pieces, never beyond what the header claims (plus a count of any
    excess), and a header that claims more than ``limit`` bytes (``MAX_IDX_BYTES``, 256 MiB;
    MNIST's training images are 47 MB) is refused before anything is decompressed, so a small
    crafted file cannot fill the memory.

    Raises ValueError naming the file for a path that is not a regular file, a wrong magic
    number, a header that does not match the data or claims too much, or a truncated (or
    padded) file.
    """
    path = Path(path)
    with open_input(path, expected="an MNIST idx file") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
        handle.seek(0)
        stream = gzip.GzipFile(fileobj=handle, mode="rb") if compressed else handle
        shape = _shape(stream, path, expect)
        size = math.prod(shape)
        claimed = f"header says {'x'.join(map(str, shape))} = {size:,} bytes of data"
        if size > limit:
            raise ValueError(f"{path}: {claimed}, more than the {limit:,} this reader allows (MAX_IDX_BYTES)")
        data = _read(stream, size, path)
        found = len(data) + (_rest(stream, path, limit - len(data)) if len(data) == size else 0)
    if found != size:
        shown = f"more than {limit:,}" if found > limit else f"{found:,}"
        raise ValueError(f"{path}: {claimed}, found {shown} ({'truncated' if found < size else 'extra bytes'})")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(shape)


def write_idx(path: str | Path, values: Tensor, compress: bool = True) -> None:
    """Write uint8 images (N, rows, cols) or labels (N,) as an idx file (gzip when ``compress``)."""
    values = values.to(torch.uint8).contiguous()
    if values.dim() not in (1, 3):
        raise ValueError(f"write_idx: expected (N,) labels or (N, rows, cols) images, got {tuple(values.shape)}")
    magic = LABELS if values.dim() == 1 else IMAGES
    data = struct.pack(f">i{values.dim()}i", magic, *values.shape) + values.numpy().tobytes()
    atomic_write(path, gzip.compress(data, mtime=0) if compress else data)  # a reader never sees half a file


def find_file(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or the same name without ``.gz`` (whatever it is: a folder or a FIFO
    of that name is refused when read, by name)."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.exists():
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


def has_files(folder: Path, split: str = "train") -> bool:
    """Whether ``folder`` holds a file of ``split`` (gzip-compressed or not)."""
    return any((folder / name).exists() or (folder / name.removesuffix(".gz")).exists() for name in FILES[split])


def digest(images: Tensor, labels: Tensor) -> str:
    """sha256 of the images' and labels' bytes: what a run records of its training files."""
    hasher = hashlib.sha256(images.to(torch.uint8).contiguous().numpy().tobytes())
    hasher.update(labels.to(torch.uint8).contiguous().numpy().tobytes())
    return hasher.hexdigest()


def check_same_training(folder: Path, images: Tensor, labels: Tensor, recorded: Optional[str]) -> None:
    """ValueError when the training files of ``folder`` are not those a run recorded (``recorded``,
    its :func:`digest`): the run's validation split is drawn from its own files by count and seed,
    so other files would silently give other validation images. Runs that recorded nothing (before
    issue 28) are not checked."""
    if recorded is None:
        return
    found = digest(images, labels)
    if found != recorded:
        raise ValueError(
            f"{folder}: its training images are not the run's ({len(images):,} images, sha256 "
            f"{found[:12]}...; the run recorded {recorded[:12]}...), so the run's validation "
            "split cannot be drawn from them; point --data-dir at the run's MNIST files"
        )


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


def random_shift(images: Tensor, most: int, generator: torch.Generator, rows: Optional[slice] = None) -> Tensor:
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
