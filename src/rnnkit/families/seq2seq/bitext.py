"""A parallel corpus by name or path, normalised, filtered and split: the translation data section.

``dataset`` is ``multi30k`` (the folder ``multi30k`` under the data folder: train, val and
test2016 files per language), ``eng-fra`` (``eng-fra/eng-fra.txt``: English TAB French), any
folder of parallel files ``{train,valid|val|dev,test}.{lang}``, or any TSV file of pairs. A TSV
has no official split: a seeded one (``valid_fraction``, ``test_fraction``) is made and its
line numbers are kept in the checkpoint, so evaluation scores the very same pairs. Exact repeats
are dropped first and pairs that share a source or a target sentence stay in one split, so no
test (or validation) sentence occurs in training; a run saved before that rule keeps its own split.

Its options are :class:`BitextConfig` (the translate recipe's data section).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

from rnnkit.bounds import MAX_COUNT, batch
from rnnkit.data.corpus import data_dir as default_data_dir
from rnnkit.data.corpus import missing_data
from rnnkit.families.seq2seq.parallel import (
    TUTORIAL_PREFIXES,
    Pair,
    normalize_space,
    parallel_folder_files,
    read_pairs_tsv,
    read_parallel,
    tutorial_filter,
    tutorial_normalize,
)
from rnnkit.families.seq2seq.splits import split_groups, unique_pairs
from rnnkit.train.config import PATH, bound, only_with

NAMED = {"multi30k": "multi30k", "eng-fra": "eng-fra/eng-fra.txt"}
SPLITS = ("train", "valid", "test")
GROUPED = "sentence groups"  # the split rule of a TSV's saved split (absent in runs before it)


@dataclass
class BitextConfig:
    """Which sentence pairs, normalised and tokenised how.

    Attributes:
        dataset: ``multi30k``, ``eng-fra``, a folder of parallel files or a TSV file of pairs.
        data_dir: the data folder, holding named data sets (default ``$RNNKIT_DATA`` or ``../shared/data``).
        src, tgt: the languages (file suffixes of a folder, column names of a TSV).
        columns: the languages of a TSV's two columns, comma-separated.
        lowercase, ascii_fold: lowercase; strip accents (NFD, combining marks dropped).
        tutorial_punctuation: the PyTorch tutorial's rule: a space before ``. ! ?``, every other
            run of non-letters becomes a space.
        max_length: keep pairs whose sides have fewer words than this (0 = all); on a folder
            corpus only the training split is filtered.
        english_prefixes: keep only pairs whose English side starts with "i am", "he is"...
        skip_bad_lines: skip (and count) TSV lines without exactly two fields.
        valid_fraction, test_fraction: the seeded split of a TSV.
        tokenizer: ``regex`` (words and punctuation, detokenised exactly), ``bpe`` or
            ``unigram`` (sentencepiece subwords, trained per side on the training split).
        vocab_size: subword units per side (bpe / unigram).
        min_freq: regex tokens seen fewer times in training become ``<unk>``.
        batch_size: sentence pairs per batch (length-bucketed).
    """

    dataset: str = field(default="multi30k", metadata=PATH)
    data_dir: str = field(default="", metadata=PATH)
    src: str = "de"
    tgt: str = "en"
    columns: str = "en,fr"
    lowercase: bool = False
    ascii_fold: bool = False
    tutorial_punctuation: bool = False
    max_length: int = field(default=0, metadata=bound(0, 10_000))
    english_prefixes: bool = False
    skip_bad_lines: bool = False
    valid_fraction: float = field(default=0.1, metadata=bound(0, 0.5, open_low=True))
    test_fraction: float = field(default=0.1, metadata=bound(0, 0.5, open_low=True))
    tokenizer: str = "regex"
    vocab_size: int = field(default=8000, metadata={**bound(16, 10**6), **only_with("tokenizer", "bpe", "unigram")})
    min_freq: int = field(default=2, metadata={**bound(1, MAX_COUNT), **only_with("tokenizer", "regex")})
    batch_size: int = field(default=64, metadata=batch())

    def __post_init__(self) -> None:
        if self.tokenizer not in ("regex", "bpe", "unigram"):
            raise ValueError(f"tokenizer: expected regex, bpe or unigram, got {self.tokenizer!r}")
        if self.src == self.tgt:
            raise ValueError(f"src and tgt: expected two different languages, got {self.src!r} twice")


class Normalisation(Protocol):
    """The normalisation options :func:`preparer` reads (of :class:`BitextConfig` or chat's data)."""

    lowercase: bool
    ascii_fold: bool
    tutorial_punctuation: bool


@dataclass
class Bitext:
    """The pairs of each split, what they came from, and the split to keep in the checkpoint."""

    splits: dict[str, list[Pair]]
    origin: str
    split_lines: Optional[dict] = None
    skipped: int = 0


def preparer(config: Normalisation) -> Callable[[str], str]:
    """The normalisation both sides get before tokenising (whitespace at least)."""
    if not (config.lowercase or config.ascii_fold or config.tutorial_punctuation):
        return normalize_space
    options = dict(
        lowercase=config.lowercase,
        ascii=config.ascii_fold,
        split_punctuation=config.tutorial_punctuation,
        letters_only=config.tutorial_punctuation,
    )
    return lambda text: tutorial_normalize(text, **options)


def locate(config: BitextConfig) -> Path:
    """The folder or TSV file that ``dataset`` names; a named data set that is nowhere is an
    error naming the command that fetches it."""
    path = Path(config.dataset)
    if config.dataset in NAMED:  # the data folder's copy first; a local folder of that name only without one
        named = default_data_dir(config.data_dir or None) / NAMED[config.dataset]
        if named.exists():
            path = named
        elif not path.exists():
            raise missing_data(config.dataset, config.data_dir or None, named)
    if not path.exists():
        raise ValueError(
            f"--dataset {config.dataset}: no such folder or file ({path}); expected "
            f"multi30k, eng-fra, a folder of parallel files or a TSV of pairs "
            f"(named data sets are looked up under --data-dir / $RNNKIT_DATA)"
        )
    return path


def load_bitext(config: BitextConfig, seed: int, split_lines: Optional[dict] = None) -> Bitext:
    """The corpus of ``config``; a TSV uses ``split_lines`` (a checkpoint's) when given."""
    path, prepare = locate(config), preparer(config)
    if path.is_dir():
        files = parallel_folder_files(path, config.src, config.tgt)
        splits = {name: _prepared(read_parallel(*files[name]), prepare) for name in SPLITS}
        splits["train"] = _filtered(splits["train"], config)
        return Bitext(splits, f"{path} ({config.src}->{config.tgt})")
    pairs, skipped = read_pairs_tsv(path, config.skip_bad_lines, _columns(config, path))
    pairs = _filtered(_prepared(pairs, prepare), config)
    if split_lines is None or split_lines.get("rule") == GROUPED:
        pairs = unique_pairs(pairs)
    if len(pairs) < 3:
        raise ValueError(f"{path}: {len(pairs)} distinct pairs are left after the filters; expected at least 3")
    if split_lines is None:
        index = split_groups(pairs, seed, config.valid_fraction, config.test_fraction)
        split_lines = {"rule": GROUPED, **{name: [pairs[i].line for i in index[name]] for name in ("valid", "test")}}
    held = {name: set(split_lines[name]) for name in ("valid", "test")}
    splits = {name: [p for p in pairs if p.line in held[name]] for name in ("valid", "test")}
    splits["train"] = [p for p in pairs if p.line not in held["valid"] and p.line not in held["test"]]
    return Bitext(
        splits,
        f"{path} ({config.src}->{config.tgt}, {len(pairs):,} distinct pairs after filters)",
        split_lines,
        skipped,
    )


def _columns(config: BitextConfig, path: Path) -> tuple[int, int]:
    names = [c.strip() for c in config.columns.split(",")]
    if len(names) != 2:
        raise ValueError(f"--columns {config.columns}: expected two comma-separated languages, e.g. en,fr")
    for side in (config.src, config.tgt):
        if side not in names:
            raise ValueError(
                f"{path}: its columns are {','.join(names)} (--columns); {side!r} is not one of them (--src / --tgt)"
            )
    return names.index(config.src), names.index(config.tgt)


def _prepared(pairs: list[Pair], prepare: Callable[[str], str]) -> list[Pair]:
    return [dataclasses.replace(p, src=prepare(p.src), tgt=prepare(p.tgt)) for p in pairs]


def _filtered(pairs: list[Pair], config: BitextConfig) -> list[Pair]:
    if not config.max_length and not config.english_prefixes:
        return pairs
    english = "src" if config.src == "en" else "tgt"
    if config.english_prefixes and "en" not in (config.src, config.tgt):
        raise ValueError("--english-prefixes needs an English side (--src en or --tgt en)")
    return tutorial_filter(pairs, config.max_length, TUTORIAL_PREFIXES if config.english_prefixes else (), english)
