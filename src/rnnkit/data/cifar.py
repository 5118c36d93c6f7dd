"""CIFAR-10 in its binary format ("CIFAR-10 binary version (suitable for C programs)").

Each file is a run of records of 3,073 bytes: one label byte (0-9), then the 32x32 image as
1,024 red, 1,024 green and 1,024 blue bytes, each plane row by row. The training set is
``data_batch_1.bin`` ... ``data_batch_5.bin`` (10,000 records each), the test set
``test_batch.bin``; ``batches.meta.txt`` names the classes, one per line. The files may sit in
the folder given or in its ``cifar-10-batches-bin`` subfolder, as the archive unpacks.

Only this format is read: the "python version" of CIFAR-10 is pickled, and rnnkit never
unpickles a file it was given.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

SIDE = 32
RECORD = 1 + 3 * SIDE * SIDE  # 3,073 bytes: label, then R, G, B planes
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FILES = {"train": tuple(f"data_batch_{k}.bin" for k in range(1, 6)), "test": ("test_batch.bin",)}
SUBFOLDER = "cifar-10-batches-bin"
#: the most bytes one file may hold (a CIFAR-10 batch file: 30,730,000)
MAX_FILE_BYTES = 64 * 2**20


def read_batch(path: str | Path, classes: int = len(CLASSES)) -> tuple[Tensor, Tensor]:
    """Images uint8 ``(N, 3, 32, 32)`` and labels int64 ``(N,)`` of one binary batch file.

    A ValueError names the file and what is wrong: empty, larger than ``MAX_FILE_BYTES``, not a
    whole number of records (the truncated record named), or a label outside ``0..classes-1``
    (the record named, counting from 1).
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: empty file, expected CIFAR-10 binary records of {RECORD:,} bytes")
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: {size:,} bytes, more than a CIFAR-10 batch file holds ({MAX_FILE_BYTES:,} at most)")
    whole, rest = divmod(size, RECORD)
    if rest and size % (RECORD + 1) == 0:
        raise ValueError(f"{path}: {size:,} bytes of {RECORD + 1:,}-byte records: CIFAR-100? (rnnkit reads CIFAR-10)")
    if rest:
        raise ValueError(
            f"{path}: {size:,} bytes is not a whole number of {RECORD:,}-byte records: "
            f"record {whole + 1} is truncated ({rest:,} bytes)"
        )
    raw = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8).view(whole, RECORD)
    labels = raw[:, 0].long()
    bad = (labels >= classes).nonzero()
    if len(bad):
        first = int(bad[0])
        raise ValueError(
            f"{path}, record {first + 1}: label {int(labels[first])}, expected 0-{classes - 1} "
            "(is this a CIFAR-10 binary file?)"
        )
    images = raw[:, 1:].reshape(whole, 3, SIDE, SIDE).clone()
    return images, labels


def folder_of(folder: str | Path) -> Path:
    """The folder holding the batch files: ``folder`` or its ``cifar-10-batches-bin``."""
    folder = Path(folder)
    return folder / SUBFOLDER if (folder / SUBFOLDER).is_dir() else folder


def load_split(folder: str | Path, split: str) -> tuple[Tensor, Tensor]:
    """Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` of ``split`` (``train``: the five
    batches in order; ``test``). A missing file is a FileNotFoundError naming it."""
    if split not in FILES:
        raise ValueError(f"split: expected train or test, got {split!r}")
    where = folder_of(folder)
    parts = []
    for name in FILES[split]:
        path = where / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no such file (CIFAR-10 binary version: {', '.join(FILES[split])} in {where})"
            )
        parts.append(read_batch(path))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def class_names(folder: str | Path) -> tuple[str, ...]:
    """The names in ``batches.meta.txt`` (non-empty lines), or :data:`CLASSES` without it."""
    meta = folder_of(folder) / "batches.meta.txt"
    if not meta.is_file():
        return CLASSES
    names = tuple(line.strip() for line in meta.read_text(errors="replace").splitlines() if line.strip())
    if len(names) != len(CLASSES):
        raise ValueError(f"{meta}: {len(names)} class names, expected {len(CLASSES)}")
    return names
