"""Surnames by language (the PyTorch char-RNN tutorials' data): reading, splitting, encoding.

A data folder holds one ``[Language].txt`` per class, one name per line. The
18 tutorial files ship inside the package (``rnnkit/data/corpora/names``).
"""

from __future__ import annotations

import hashlib
import random
import string
import unicodedata
import warnings
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from .inputs import read_input

#: the tutorial's alphabet after ASCII folding
ASCII_LETTERS = string.ascii_letters + " .,;'"
SPLITS = ("train", "valid", "test")
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"


def bundled_names_dir() -> Path:
    """The copy of the 18 tutorial files inside the package."""
    return Path(str(resources.files("rnnkit.data") / "corpora" / "names"))


def fold_ascii(name: str) -> str:
    """The tutorial's ``unicodeToAscii``: strip accents, drop what is not in :data:`ASCII_LETTERS`."""
    decomposed = unicodedata.normalize("NFD", name)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn" and c in ASCII_LETTERS)


@dataclass
class NamesData:
    """Names per language after cleaning.

    Attributes:
        languages: class names, sorted (the label of ``languages[i]`` is i).
        examples: (name, label) pairs, languages in order, names in file order.
        duplicates_removed: exact repeats dropped within each language.
        multi_label: names that appear under two or more languages -> their labels.
    """

    languages: list[str]
    examples: list[tuple[str, int]]
    duplicates_removed: int
    multi_label: dict[str, list[int]]

    def label_sets(self) -> dict[str, set[int]]:
        """Every name -> the labels of all languages that list it."""
        return {name: set(self.multi_label.get(name, (label,))) for name, label in self.examples}

    def digest(self) -> str:
        """sha256 of the examples, to tie a saved split to the data it was drawn from."""
        text = "\n".join(f"{self.languages[label]}\t{name}" for name, label in self.examples)
        return hashlib.sha256(text.encode()).hexdigest()


def read_names(folder: Optional[str | Path] = None, ascii: bool = False) -> NamesData:
    """Read every ``*.txt`` in ``folder`` (default: the bundled copy).

    Lines are stripped; an empty line, an empty file or a folder without
    ``.txt`` files is an error naming it. With ``ascii`` names are folded as
    in the tutorial; a name that folds to nothing is dropped with a warning.
    """
    folder = Path(folder) if folder is not None else bundled_names_dir()
    if not folder.is_dir():
        raise ValueError(f"names data: {folder} is not a folder")
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise ValueError(
            f"names data: {folder} has no .txt files; expected one [Language].txt per class, one name per line"
        )
    languages = [f.stem for f in files]
    examples, removed, labels_of = [], 0, defaultdict(list)
    for label, path in enumerate(files):
        seen = set()
        try:
            lines = read_input(path, f"names data: {path}").decode("utf-8-sig").split("\n")
        except UnicodeDecodeError as err:
            raise ValueError(f"names data: {path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        if lines and lines[-1] == "":
            lines.pop()  # the final newline
        if not any(line.strip() for line in lines):
            raise ValueError(f"names data: {path} is empty; expected one name per line")
        for number, line in enumerate(lines, 1):
            name = line.strip()
            if not name:
                raise ValueError(f"names data: {path}:{number}: empty name")
            if ascii:
                name = fold_ascii(name)
                if not name:
                    warnings.warn(f"{path}:{number}: {line!r} has no ASCII letters; dropped")
                    continue
            if name in seen:
                removed += 1
                continue
            seen.add(name)
            examples.append((name, label))
            labels_of[name].append(label)
    multi = {name: labels for name, labels in labels_of.items() if len(labels) > 1}
    return NamesData(languages, examples, removed, multi)


def stratified_split(data: NamesData, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> str:
    """Assign each example to train/valid/test: a string of '0'/'1'/'2', one per example.

    Stratified: each language is shuffled with ``seed`` and cut by
    ``fractions``. Grouped: all examples of one name land in the same split
    (a name seen in training under one language never tests another), so
    languages are visited smallest first and names already placed keep
    their split; the rest of the language fills what its quotas still need.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"split fractions: expected three non-negative numbers summing to 1, got {fractions}")
    rng = random.Random(seed)
    by_label = defaultdict(list)
    for index, (_, label) in enumerate(data.examples):
        by_label[label].append(index)
    placed: dict[str, int] = {}
    assignment = [0] * len(data.examples)
    for label in sorted(by_label, key=lambda l: (len(by_label[l]), l)):
        indices = by_label[label]
        rng.shuffle(indices)
        total = len(indices)
        quota = [round(total * fractions[1]), round(total * fractions[2])]
        quota.insert(0, total - sum(quota))
        fixed = [i for i in indices if data.examples[i][0] in placed]
        for i in fixed:
            part = placed[data.examples[i][0]]
            assignment[i] = part
            quota[part] -= 1
        free = [i for i in indices if data.examples[i][0] not in placed]
        order = [part for part in (2, 1, 0) for _ in range(max(quota[part], 0))]  # test, valid first
        for position, i in enumerate(free):
            part = order[position] if position < len(order) else 0
            assignment[i] = part
            placed[data.examples[i][0]] = part
    return "".join(str(part) for part in assignment)


def split_examples(data: NamesData, assignment: str) -> dict[str, list[tuple[str, int]]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` from an assignment string.

    Raises:
        ValueError: the assignment does not fit the data, or a split is empty
            (every language has too few names to give it any).
    """
    if len(assignment) != len(data.examples):
        raise ValueError(
            f"split: {len(assignment)} assignments for {len(data.examples)} names; "
            "the data changed since the split was made"
        )
    parts = {split: [] for split in SPLITS}
    for example, part in zip(data.examples, assignment):
        parts[SPLITS[int(part)]].append(example)
    empty = [split for split, examples in parts.items() if not examples]
    if empty:
        raise ValueError(
            f"names data: the {' and '.join(empty)} split(s) would be empty; a language "
            "needs at least 5 distinct names to give 10% to each of valid and test"
        )
    return parts


class NameVocab:
    """Characters of names plus ``<pad>`` (0), ``<unk>`` (1), ``<s>`` (2) and ``</s>`` (3)."""

    SPECIALS = (PAD, UNK, BOS, EOS)

    def __init__(self, chars: Sequence[str]) -> None:
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("NameVocab: expected distinct single characters")
        self.symbols = list(self.SPECIALS) + list(chars)
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.pad, self.unk, self.bos, self.eos = range(4)

    @classmethod
    def from_names(cls, names: Sequence[str]) -> "NameVocab":
        return cls(sorted({c for name in names for c in name}))

    def __len__(self) -> int:
        return len(self.symbols)

    def unknown(self, name: str) -> list[str]:
        return sorted({c for c in name if c not in self.index or len(c) != 1})

    def encode(self, name: str, bos: bool = False, eos: bool = False, warn: bool = True) -> Tensor:
        """Ids (L,) of ``name``; characters never seen in training become ``<unk>`` with a warning."""
        missing = self.unknown(name)
        if missing and warn:
            warnings.warn(
                f"{name!r}: character(s) {', '.join(map(repr, missing))} never seen in training; read as <unk>"
            )
        ids = [self.index.get(c, self.unk) for c in name]
        return torch.tensor(([self.bos] if bos else []) + ids + ([self.eos] if eos else []), dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.symbols[i] for i in ids if i > self.eos)

    def to_json(self) -> list[str]:
        return self.symbols[len(self.SPECIALS) :]

    @classmethod
    def from_json(cls, chars: list[str]) -> "NameVocab":
        return cls(chars)


def clean_names(names: Sequence[str], ascii: bool = False) -> list[str]:
    """Names as a model saw them in training: stripped, and ASCII-folded with ``ascii``.

    Raises:
        ValueError: a name is empty, or has nothing left after folding (naming which one).
    """
    for number, name in enumerate(names, 1):
        if not name.strip():
            raise ValueError(f"name {number}: empty name")
    cleaned = [fold_ascii(n.strip()) if ascii else n.strip() for n in names]
    for number, (name, clean) in enumerate(zip(names, cleaned), 1):
        if not clean:
            raise ValueError(
                f"name {number}: {name.strip()!r} has no ASCII letters (the model was trained with --ascii)"
            )
    return cleaned
