"""Reading text files and the character vocabulary.

Tiny Shakespeare (public domain; Karpathy's char-rnn corpus, 1,115,394
characters) ships inside the package so the main job needs no download.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import Tensor

from .inputs import decode_utf8, read_input

BUNDLED = {"tinyshakespeare": "tinyshakespeare.txt"}


def read_text(path: str | Path) -> str:
    """Read a UTF-8 text file, with errors that name the file and byte offset.

    Raises:
        ValueError: the file is missing, a directory, not a regular file (a FIFO, a device:
            :func:`rnnkit.data.inputs.open_input`), empty, or not valid UTF-8.
    """
    raw = read_input(path, expected="a text file")
    if not raw:
        raise ValueError(f"{path}: the file is empty; expected UTF-8 text")
    return decode_utf8(raw, str(path), nul=False)


def bundled_text(name: str = "tinyshakespeare") -> str:
    """The text of a corpus shipped inside the package (see ``BUNDLED``)."""
    if name not in BUNDLED:
        raise ValueError(f"unknown bundled corpus {name!r}; expected one of {sorted(BUNDLED)}")
    return resources.files("rnnkit.data.corpora").joinpath(BUNDLED[name]).read_text("utf-8")


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """Split into the first ``1 - val_fraction`` (train) and the rest (validation)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a number in (0, 1), got {val_fraction}")
    cut = int(len(text) * (1.0 - val_fraction))
    return text[:cut], text[cut:]


class CharVocab:
    """A character vocabulary: ids ``0..len-1`` for the sorted distinct characters.

    Example:
        >>> vocab = CharVocab.from_text("hello")
        >>> vocab.decode(vocab.encode("hole").tolist())
        'hole'
    """

    def __init__(self, chars: Sequence[str]) -> None:
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("CharVocab: expected distinct single characters")
        if not chars:
            raise ValueError("CharVocab: expected at least one character")
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` not in the vocabulary, sorted."""
        return sorted(set(text) - self.index.keys())

    def encode(self, text: str, skip_unknown: bool = False, what: str = "text") -> Tensor:
        """Ids of ``text`` as a LongTensor of shape (len(text),).

        Unknown characters raise a ValueError listing them, or are dropped
        when ``skip_unknown`` is set.
        """
        missing = self.unknown(text)
        if missing and not skip_unknown:
            shown = ", ".join(repr(c) for c in missing[:20])
            raise ValueError(
                f"{what} contains {len(missing)} character(s) not in the model's "
                f"vocabulary: {shown}{' ...' if len(missing) > 20 else ''} "
                "(use --skip-unknown / skip_unknown=True to drop them)"
            )
        index = self.index
        ids = [index[c] for c in text if c in index] if missing else [index[c] for c in text]
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def to_json(self) -> list[str]:
        return list(self.chars)

    @classmethod
    def from_json(cls, chars: list[str]) -> "CharVocab":
        return cls(chars)
