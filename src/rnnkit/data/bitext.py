"""A parallel corpus by name or path, normalised, filtered and split: the translation data section.

``dataset`` is ``multi30k`` (the folder ``multi30k`` under the data folder: train, val and
test2016 files per language), ``eng-fra`` (``eng-fra/eng-fra.txt``: English TAB French), any
folder of parallel files ``{train,valid|val|dev,test}.{lang}``, or any TSV file of pairs. A TSV
has no official split: a seeded one (``valid_fraction``, ``test_fraction``) is made and its
line numbers are kept in the checkpoint, so evaluation scores the very same pairs. Exact repeats
are dropped first and pairs that share a source or a target sentence stay in one split, so no
test (or validation) sentence occurs in training; a run saved before that rule keeps its own split.

``config`` below is the translation recipe's data section (``TranslateDataConfig`` in
:mod:`rnnkit.tasks.translate`): dataset, data_dir, src, tgt, columns, lowercase,
ascii_fold, tutorial_punctuation, max_length, english_prefixes, skip_bad_lines,
valid_fraction, test_fraction.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from .corpus import data_dir as default_data_dir
from .parallel import (TUTORIAL_PREFIXES, Pair, normalize_space, parallel_folder_files, read_pairs_tsv,
                       read_parallel, split_groups, tutorial_filter, tutorial_normalize, unique_pairs)

NAMED = {"multi30k": "multi30k", "eng-fra": "eng-fra/eng-fra.txt"}
SPLITS = ("train", "valid", "test")
GROUPED = "sentence groups"  # the split rule of a TSV's saved split (absent in runs before it)


@dataclass
class Bitext:
    """The pairs of each split, what they came from, and the split to keep in the checkpoint."""
    splits: dict[str, list[Pair]]
    origin: str
    split_lines: Optional[dict] = None
    skipped: int = 0


def preparer(config: Any) -> Callable[[str], str]:
    """The normalisation both sides get before tokenising (whitespace at least)."""
    if not (config.lowercase or config.ascii_fold or config.tutorial_punctuation):
        return normalize_space
    options = dict(lowercase=config.lowercase, ascii=config.ascii_fold,
                   split_punctuation=config.tutorial_punctuation, letters_only=config.tutorial_punctuation)
    return lambda text: tutorial_normalize(text, **options)


def locate(config: Any) -> Path:
    """The folder or TSV file that ``dataset`` names."""
    path = Path(config.dataset)
    if config.dataset in NAMED:  # the data folder's copy first; a local folder of that name only without one
        named = default_data_dir(config.data_dir or None) / NAMED[config.dataset]
        path = named if named.exists() or not path.exists() else path
    if not path.exists():
        raise ValueError(f"--dataset {config.dataset}: no such folder or file ({path}); expected "
                         f"multi30k, eng-fra, a folder of parallel files or a TSV of pairs "
                         f"(named data sets are looked up under --data-dir / $RNNKIT_DATA)")
    return path


def load_bitext(config: Any, seed: int, split_lines: Optional[dict] = None) -> Bitext:
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
    return Bitext(splits, f"{path} ({config.src}->{config.tgt}, {len(pairs):,} distinct pairs after filters)",
                  split_lines, skipped)


def _columns(config: Any, path: Path) -> tuple[int, int]:
    names = [c.strip() for c in config.columns.split(",")]
    if len(names) != 2:
        raise ValueError(f"--columns {config.columns}: expected two comma-separated languages, e.g. en,fr")
    for side in (config.src, config.tgt):
        if side not in names:
            raise ValueError(f"{path}: its columns are {','.join(names)} (--columns); "
                             f"{side!r} is not one of them (--src / --tgt)")
    return names.index(config.src), names.index(config.tgt)


def _prepared(pairs: list[Pair], prepare: Callable[[str], str]) -> list[Pair]:
    return [dataclasses.replace(p, src=prepare(p.src), tgt=prepare(p.tgt)) for p in pairs]


def _filtered(pairs: list[Pair], config: Any) -> list[Pair]:
    if not config.max_length and not config.english_prefixes:
        return pairs
    english = "src" if config.src == "en" else "tgt"
    if config.english_prefixes and "en" not in (config.src, config.tgt):
        raise ValueError("--english-prefixes needs an English side (--src en or --tgt en)")
    return tutorial_filter(pairs, config.max_length,
                           TUTORIAL_PREFIXES if config.english_prefixes else (), english)
