"""Word-level language-model corpora: PTB, WikiText-2, or any train/valid/test folder.

Each line becomes its space-separated tokens followed by ``<eos>`` (as Mikolov's
and pytorch/examples' corpora do). The vocabulary comes from the training
split; at evaluation time unseen words map to ``<unk>`` and are counted.

Also the data folder's rule for every recipe (:func:`data_dir`: the folder holding the data
set folders), the error of a data set that is not there (:func:`missing_data`) and the note
of a ``--data-dir`` given in a recipe's former form (:func:`note_as_given`).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import torch
from torch import Tensor

from .text import read_text

EOS, UNK = "<eos>", "<unk>"
SPLITS = ("train", "valid", "test")
#: corpus name -> (folder under the data directory, file name per split)
LAYOUTS = {
    "ptb": ("ptb", {s: f"ptb.{s}.txt" for s in SPLITS}),
    "wikitext-2": ("wikitext-2", {s: f"{s}.txt" for s in SPLITS}),
}
GENERIC = {s: f"{s}.txt" for s in SPLITS}


def data_dir(explicit: Optional[str] = None) -> Path:
    """``explicit`` (``--data-dir``), else ``$RNNKIT_DATA``, else ``../shared/data``."""
    return Path(explicit or os.environ.get("RNNKIT_DATA") or "../shared/data")


def missing_data(name: str, explicit: Optional[str], looked: str | Path) -> ValueError:
    """The error of a recipe whose data set ``name`` (a name of :mod:`rnnkit.data.catalog`) is
    not in the data folder: what is missing, where it looked, and the command that fetches it
    (``rnnkit data get ptb``, with ``--data-dir`` when one was given)."""
    from .catalog import fetch_hint

    hint = fetch_hint(name, shlex.quote(explicit) if explicit else None)
    return ValueError(f"{name} not found in {data_dir(explicit)} (looked for {looked}); get it with: {hint}")


_NOTED: set[tuple[str, str]] = set()  # once per folder and process: a run reads its data more than once


def note_as_given(explicit: Optional[str], holds: str, folder: str) -> Path:
    """The data folder, given as the data set's own folder (a recipe's form before issue 29:
    names and seqmnist took the folder of their files): it is used as given, after a note on
    stderr that ``--data-dir`` now means the folder holding ``folder/``."""
    root = data_dir(explicit)
    if (str(root), folder) not in _NOTED:
        _NOTED.add((str(root), folder))
        given = "--data-dir" if explicit else "$RNNKIT_DATA" if os.environ.get("RNNKIT_DATA") else "the data folder"
        print(
            f"note: {given} {root} holds {holds} themselves; rnnkit now expects the folder holding "
            f"{folder}/; using it as given",
            file=sys.stderr,
        )
    return root


def split_paths(corpus: str, root: Optional[str] = None) -> dict[str, Path]:
    """Files of each split for a corpus name (``ptb``, ``wikitext-2``) or a folder path.

    A named corpus lives in its folder under :func:`data_dir`. A folder corpus is the folder as
    given; with ``root`` (``--data-dir``) it is looked up there instead (:func:`corpus_folder`).
    """
    if corpus in LAYOUTS:
        folder, names = LAYOUTS[corpus]
        base = data_dir(root) / folder
        if not (base / names["train"]).exists():
            raise missing_data(corpus, root, base / names["train"])
    else:
        base, names = corpus_folder(corpus, root), GENERIC
    return {split: base / name for split, name in names.items()}


def corpus_folder(corpus: str, root: Optional[str] = None) -> Path:
    """The folder of a folder corpus: ``corpus`` itself, or with ``root`` (``--data-dir``, e.g. an
    eval's) the first of ``root/corpus`` (when relative), ``root/<its last name>`` and ``root``
    itself that holds ``train.txt``. ValueError naming where it looked when none does."""
    path = Path(corpus)
    if not root:
        if not path.is_dir():
            raise ValueError(
                f"corpus {corpus!r}: expected one of {', '.join(LAYOUTS)} or a folder "
                "holding train.txt, valid.txt and test.txt"
            )
        return path
    base = Path(root)
    candidates = ([base / path] if not path.is_absolute() else []) + [base / path.name, base]
    for candidate in dict.fromkeys(candidates):
        if (candidate / GENERIC["train"]).exists():
            return candidate
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise ValueError(
        f"corpus {corpus!r} with --data-dir {root}: no {GENERIC['train']} in {looked}; point "
        "--data-dir at the folder holding the corpus (or at the corpus folder itself)"
    )


def tokenize(text: str) -> list[str]:
    """Tokens of every non-empty line, each line ended by ``<eos>``.

    Lines that hold only spaces still count as a sentence boundary, as in
    pytorch/examples (WikiText has blank lines between paragraphs).
    """
    tokens: list[str] = []
    for line in text.splitlines():
        tokens.extend(line.split())
        tokens.append(EOS)
    return tokens


def read_split(path: Path, split: str) -> list[str]:
    """Tokens of one split, with errors that name the expected file."""
    if not path.exists():
        raise ValueError(f"{split} split missing: expected the file {path}")
    tokens = tokenize(read_text(path))
    if all(t == EOS for t in tokens):
        raise ValueError(f"{path}: the {split} split holds no words")
    return tokens


class WordVocab:
    """Word <-> id, built from training tokens (most frequent first, ties by first use).

    ``<unk>`` is always present (added when the corpus lacks it) so unseen
    words have somewhere to go.
    """

    def __init__(self, words: Sequence[str]) -> None:
        if len(set(words)) != len(words):
            raise ValueError("WordVocab: expected distinct words")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        if UNK not in self.index:
            self.index[UNK] = len(self.words)
            self.words.append(UNK)
        self.unk = self.index[UNK]

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> "WordVocab":
        counts = Counter(tokens)
        return cls(sorted(counts, key=lambda w: -counts[w]))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: Sequence[str]) -> tuple[Tensor, int]:
        """(ids (T,), number of tokens mapped to ``<unk>`` because unseen)."""
        index, unk = self.index, self.unk
        ids = [index.get(t, unk) for t in tokens]
        unseen = sum(1 for t in tokens if t not in index)
        return torch.tensor(ids, dtype=torch.long), unseen

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.words[i] for i in ids]

    def to_json(self) -> list[str]:
        return list(self.words)

    @classmethod
    def from_json(cls, words: list[str]) -> "WordVocab":
        return cls(words)


@dataclass
class EncodedCorpus:
    """Id tensors of each split read, plus how many tokens became ``<unk>`` per split."""

    vocab: WordVocab
    ids: dict[str, Tensor]
    unseen: dict[str, int]


def load_corpus(
    corpus: str, root: Optional[str] = None, splits: Sequence[str] = SPLITS, vocab: Optional[WordVocab] = None
) -> EncodedCorpus:
    """Read and encode ``splits``; the vocabulary comes from ``train`` unless given."""
    paths = split_paths(corpus, root)
    tokens = {s: read_split(paths[s], s) for s in splits}
    if vocab is None:
        train = tokens["train"] if "train" in tokens else read_split(paths["train"], "train")
        vocab = WordVocab.from_tokens(train)
    ids, unseen = {}, {}
    for split, toks in tokens.items():
        ids[split], unseen[split] = vocab.encode(toks)
    return EncodedCorpus(vocab, ids, unseen)
