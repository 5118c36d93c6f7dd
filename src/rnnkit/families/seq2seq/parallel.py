"""Parallel corpora for translation: readers, normalisation, the tutorial's filter.

Two layouts are read: a pair of line-aligned files (``train.de`` / ``train.en``,
as Multi30k) and one tab-separated file of pairs (``English<TAB>French``, as the
Tatoeba/manythings ``eng-fra.txt`` of the PyTorch translation tutorial).
Their seeded splits are in :mod:`rnnkit.families.seq2seq.splits`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from rnnkit.data.text import read_text

VALID_PREFIXES = ("valid", "val", "dev")
TEST_PREFIXES = ("test", "test2016", "test_2016_flickr")
TUTORIAL_PREFIXES = (
    "i am ",
    "i m ",
    "he is",
    "he s ",
    "she is",
    "she s ",
    "you are",
    "you re ",
    "we are",
    "we re ",
    "they are",
    "they re ",
)

_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"([.!?])")
_NOT_LETTER = re.compile(r"[^a-zA-Z.!?]+")


@dataclass(frozen=True)
class Pair:
    """One sentence pair; ``line`` is its 1-based line number in the file(s) it came from."""

    src: str
    tgt: str
    line: int


def _lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 file without their ``\\n`` (or ``\\r\\n``); no element for a final newline.

    Only ``\\n`` ends a line: U+2028, U+0085 and the like stay inside it.
    """
    lines = read_text(path).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> list[Pair]:
    """Line-aligned source and target files as pairs: line i of one translates line i of the other.

    Lines are kept as they are (leading, trailing and repeated spaces included;
    empty lines too); only the line end is removed.

    Raises:
        ValueError: a file is missing, empty or not UTF-8, or the line counts differ.
    """
    src, tgt = _lines(src_path), _lines(tgt_path)
    if len(src) != len(tgt):
        raise ValueError(
            f"{src_path} has {len(src):,} lines but {tgt_path} has {len(tgt):,}; "
            "parallel files must have one sentence per line each"
        )
    return [Pair(s, t, i) for i, (s, t) in enumerate(zip(src, tgt), start=1)]


def read_pairs_tsv(
    path: str | Path, skip_bad_lines: bool = False, columns: Sequence[int] = (0, 1)
) -> tuple[list[Pair], int]:
    """Pairs from a file of ``first<TAB>second`` lines; returns ``(pairs, skipped)``.

    Args:
        path: the file (UTF-8); blank lines at its end are ignored.
        skip_bad_lines: skip (and count) lines without exactly two fields
            instead of raising. Default: False.
        columns: the fields that become ``(src, tgt)``; ``(1, 0)`` reverses the
            direction (for ``eng-fra.txt``, French -> English). Default: (0, 1).

    Raises:
        ValueError: a line without exactly two tab-separated fields, naming ``path:line``.
    """
    if tuple(columns) not in ((0, 1), (1, 0)):
        raise ValueError(f"columns: expected (0, 1) or (1, 0), got {tuple(columns)}")
    lines = _lines(path)
    while lines and lines[-1] == "":
        lines.pop()
    first, second = columns
    pairs, skipped = [], 0
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if len(fields) == 2:
            pairs.append(Pair(fields[first], fields[second], number))
        elif skip_bad_lines:
            skipped += 1
        else:
            raise ValueError(
                f"{path}:{number}: expected 2 tab-separated fields, found {len(fields)} "
                "(use --skip-bad-lines / skip_bad_lines=True to skip such lines)"
            )
    return pairs, skipped


def _first_pair(folder: Path, prefixes: Sequence[str], src: str, tgt: str) -> tuple[Path, Path]:
    """The files ``{prefix}.{src}``, ``{prefix}.{tgt}`` for the first prefix that has both."""
    for prefix in prefixes:
        pair = folder / f"{prefix}.{src}", folder / f"{prefix}.{tgt}"
        if pair[0].is_file() and pair[1].is_file():
            return pair
    for prefix in prefixes:
        for have, lack in ((src, tgt), (tgt, src)):
            if (folder / f"{prefix}.{have}").is_file():
                raise ValueError(f"{folder}: found {prefix}.{have} but no {prefix}.{lack}")
    names = [f"{prefix}.{src}" for prefix in prefixes]
    either = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    raise ValueError(f"{folder}: no {either} (with its .{tgt} twin)")


def parallel_folder_files(folder: str | Path, src: str, tgt: str) -> dict[str, tuple[Path, Path]]:
    """The train, valid and test files of a folder of ``{prefix}.{language}`` files (as Multi30k).

    Prefixes: ``train``; valid from the first of ``valid``, ``val``, ``dev`` that
    exists for both languages; test from the first of ``test``, ``test2016``,
    ``test_2016_flickr``.

    Returns:
        ``{"train": (src_path, tgt_path), "valid": (...), "test": (...)}``.

    Raises:
        ValueError: the folder or one of the splits is missing, naming what was looked for.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    return {
        split: _first_pair(folder, prefixes, src, tgt)
        for split, prefixes in (("train", ("train",)), ("valid", VALID_PREFIXES), ("test", TEST_PREFIXES))
    }


def normalize_space(s: str) -> str:
    """Strip, and turn every run of whitespace (tabs, no-break spaces...) into one space."""
    return _SPACES.sub(" ", s).strip()


def _strip_accents(s: str) -> str:
    """Unicode NFD, then drop the combining marks (category Mn): ``"Ça"`` -> ``"Ca"``."""
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def tutorial_normalize(
    s: str, lowercase: bool = True, ascii: bool = True, split_punctuation: bool = True, letters_only: bool = True
) -> str:
    """``normalizeString`` of the PyTorch tutorial "NLP From Scratch: Translation", step by step.

    The steps, in the tutorial's order, each switchable:

    1. ``lowercase``: ``str.lower``; then strip.
    2. ``ascii``: NFD and drop combining marks (accents go, other non-ASCII stays until 4).
    3. ``split_punctuation``: a space before each ``.``, ``!`` and ``?``.
    4. ``letters_only``: every run of characters other than ``a-zA-Z.!?`` becomes one space.

    and finally strip and collapse spaces (as :func:`normalize_space`). The
    tutorial's latest revision also drops ``.`` in step 4 (``[^a-zA-Z!?]+``);
    this keeps it, as the earlier revisions and the examples below do.

    Example:
        >>> tutorial_normalize("J'ai froid."), tutorial_normalize("Ça va?")
        ('j ai froid .', 'ca va ?')
    """
    if lowercase:
        s = s.lower()
    s = s.strip()
    if ascii:
        s = _strip_accents(s)
    if split_punctuation:
        s = _SENTENCE_END.sub(r" \1", s)
    if letters_only:
        s = _NOT_LETTER.sub(" ", s)
    return normalize_space(s)


def tutorial_filter(
    pairs: Iterable[Pair],
    max_length: int = 10,
    english_prefixes: Sequence[str] = TUTORIAL_PREFIXES,
    english_side: str = "tgt",
) -> list[Pair]:
    """The tutorial's ``filterPairs``: short pairs whose English side starts like "i am", "he s"...

    Keeps a pair when both sides have fewer than ``max_length`` words (split at
    whitespace, the tutorial's ``len(p.split(' ')) < MAX_LENGTH``) and its
    English side starts with one of ``english_prefixes``. Expects normalised text
    (:func:`tutorial_normalize`); the prefixes are matched as they are.

    On ``eng-fra.txt`` read French -> English (``read_pairs_tsv(path,
    columns=(1, 0))``, the tutorial's ``reverse=True``) and normalised with the
    defaults of :func:`tutorial_normalize`, the defaults keep 10,599 of the
    135,842 pairs, the tutorial's "Trimmed to 10599 sentence pairs". (Its latest
    revision drops ``.`` in normalising, which shortens sentences by a word and
    keeps 11,445.)

    Args:
        pairs: the pairs.
        max_length: the word limit (exclusive); 0 means none. Default: 10.
        english_prefixes: the allowed starts of the English side; empty means
            any. Default: :data:`TUTORIAL_PREFIXES`.
        english_side: ``"src"`` or ``"tgt"``. Default: ``"tgt"``.
    """
    if english_side not in ("src", "tgt"):
        raise ValueError(f"english_side: expected 'src' or 'tgt', got {english_side!r}")
    if max_length < 0:
        raise ValueError(f"max_length: expected 0 (no limit) or more, got {max_length}")
    prefixes = tuple(english_prefixes)

    def keep(pair: Pair) -> bool:
        short = not max_length or (len(pair.src.split()) < max_length and len(pair.tgt.split()) < max_length)
        english = pair.tgt if english_side == "tgt" else pair.src
        return short and (not prefixes or english.startswith(prefixes))

    return [pair for pair in pairs if keep(pair)]
