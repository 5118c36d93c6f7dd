"""Word-vector text files: word2vec's text format (``count dim`` header) and GloVe's (none).

Every row is ``word v1 v2 ... vD`` separated by spaces. Bad input is a ValueError
naming the file and line: a wrong header, a row of the wrong width, a value that
is not a finite number, a word twice (the duplicates are counted, the first line
of each named).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from .text import read_text


@dataclass
class WordVectors:
    """Words and their vectors.

    Attributes:
        words: V distinct words, in file order.
        vectors: (V, D) float32.
        header: whether the file had word2vec's ``count dim`` line.
    """

    words: list[str]
    vectors: Tensor
    header: bool = False

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]


def _header(fields: list[str], path: Path) -> tuple[int, int] | None:
    """(count, dim) when the first line is a word2vec header, None when it is a vector row."""
    if len(fields) != 2:
        return None
    try:
        count, dim = int(fields[0]), int(fields[1])
    except ValueError:
        try:
            float(fields[1])  # GloVe row of one dimension: "word 0.5"
            return None
        except ValueError:
            raise ValueError(
                f"{path}:1: wrong header {' '.join(fields)!r}; expected 'COUNT DIM' (two integers) or a vector row"
            ) from None
    if count < 1 or dim < 1:
        raise ValueError(f"{path}:1: wrong header {count} {dim}; expected a positive word count and dimension")
    return count, dim


def _row(fields: list[str], dim: int, path: Path, line: int) -> list[float]:
    if len(fields) != dim + 1:
        raise ValueError(
            f"{path}:{line}: row of width {len(fields) - 1}, expected {dim} values after the word {fields[0]!r}"
            if fields
            else f"{path}:{line}: empty row"
        )
    try:
        values = [float(v) for v in fields[1:]]
    except ValueError as err:
        raise ValueError(
            f"{path}:{line}: non-numeric value in the row of {fields[0]!r} ({str(err).split(': ', 1)[-1]})"
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{path}:{line}: non-finite value in the row of {fields[0]!r}")
    return values


def _check_distinct(words: list[str], first_line: int, path: Path) -> None:
    seen: dict[str, int] = {}
    dupes: list[tuple[str, int, int]] = []
    for offset, word in enumerate(words):
        if word in seen:
            dupes.append((word, seen[word] + first_line, offset + first_line))
        else:
            seen[word] = offset
    if dupes:
        word, first, again = dupes[0]
        raise ValueError(f"{path}: {len(dupes):,} duplicate word(s); first {word!r} on lines {first} and {again}")


def read_vectors(path: str | Path) -> WordVectors:
    """Read a word2vec or GloVe text file (see the module doc); ValueError on bad input."""
    path = Path(path)
    lines = read_text(path).splitlines()
    first = lines[0].split() if lines else []
    header = _header(first, path)
    start = 2 if header else 1
    body = lines[1:] if header else lines
    dim = header[1] if header else len(first) - 1
    if dim < 1:
        raise ValueError(f"{path}:1: expected 'word v1 ... vD', got {lines[0][:60]!r}")
    words, rows = [], []
    for number, text in enumerate(body, start=start):
        fields = text.rstrip("\n").split(" ") if text.strip() else []
        fields = [f for f in fields if f]
        if not fields:
            continue
        rows.append(_row(fields, dim, path, number))
        words.append(fields[0])
    if header and len(words) != header[0]:
        raise ValueError(f"{path}:1: header says {header[0]:,} words, the file has {len(words):,}")
    if not words:
        raise ValueError(f"{path}: no vectors after the header")
    _check_distinct(words, start, path)
    return WordVectors(words, torch.tensor(rows, dtype=torch.float32), header is not None)


def format_word2vec(words: Sequence[str], vectors: Tensor) -> str:
    """word2vec text format: ``V D`` then ``word v1 ... vD`` per row (vectors (V, D)).

    Values use ``repr`` of float32 rounded to 6 significant digits, as word2vec.c's ``%lf``
    keeps about that many. ValueError for a word that is empty or holds whitespace.
    """
    if vectors.dim() != 2 or len(words) != vectors.shape[0]:
        raise ValueError(f"format_word2vec: {len(words)} words for vectors of shape {tuple(vectors.shape)}")
    bad = [w for w in words if not w or any(c.isspace() for c in w)]
    if bad:
        raise ValueError(f"format_word2vec: word {bad[0]!r} is empty or holds whitespace")
    rows = [f"{len(words)} {vectors.shape[1]}"]
    for word, row in zip(words, vectors.tolist()):
        rows.append(word + " " + " ".join(f"{v:.6g}" for v in row))
    return "\n".join(rows) + "\n"


def align_vectors(
    vectors: WordVectors, words: Sequence[str], dim: int, source: str = "vectors file"
) -> tuple[Tensor, Tensor]:
    """The rows of ``vectors`` for a model's vocabulary ``words`` (for initialising an embedding).

    Returns (matrix (V, D) float32, zeros where not found; found (V,) bool). A word is
    found exactly, else lowercased. ValueError naming both sizes when the file's
    dimension differs from the model's ``dim``.
    """
    if vectors.dim != dim:
        raise ValueError(
            f"{source}: vectors of dimension {vectors.dim}, but the model's embedding "
            f"size is {dim}; train or pick vectors of size {dim}, or change the model's"
        )
    exact = {w: i for i, w in enumerate(vectors.words)}
    lower: dict[str, int] = {}
    for i, w in enumerate(vectors.words):
        lower.setdefault(w.lower(), i)
    rows = [exact.get(w, lower.get(w.lower(), -1)) for w in words]
    index = torch.tensor(rows, dtype=torch.long)
    found = index >= 0
    matrix = torch.zeros(len(words), dim)
    matrix[found] = vectors.vectors[index[found]]
    return matrix, found
