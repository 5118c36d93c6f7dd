"""Dialogue corpora for chatbots: conversations, (utterance, reply) pairs, splits.

Three sources:

* Tiny Shakespeare (bundled): consecutive speeches of a play as conversations,
  see :func:`rnnkit.recipes.chat.shakespeare.shakespeare_conversations`.
* Cornell Movie-Dialogs (Danescu-Niculescu-Mizil & Lee, 2011):
  ``movie_lines.txt`` and ``movie_conversations.txt``, see :func:`read_cornell`.
* Any tab-separated file of ``utterance<TAB>reply`` lines, see :func:`read_pairs`.

A conversation is the unit of splitting (:func:`split_conversations`), so the
reply to a training utterance never shows up as a validation or test source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from rnnkit.data.inputs import read_input
from rnnkit.families.seq2seq.parallel import Pair, read_pairs_tsv
from rnnkit.families.seq2seq.splits import split_indices

CORNELL_SEPARATOR = " +++$+++ "

_LINE_IDS = re.compile(r"\[\s*(?:'L\d+'(?:\s*,\s*'L\d+')*)?\s*\]")
_LINE_ID = re.compile(r"L\d+")


@dataclass(frozen=True)
class Turn:
    """One utterance; ``line`` is the 1-based line in its file where it starts."""

    text: str
    line: int


@dataclass(frozen=True)
class Conversation:
    """Turns in the order spoken; ``source`` names where they came from (a corpus, or ``file:line``)."""

    turns: tuple[Turn, ...]
    source: str


# --- Cornell Movie-Dialogs ----------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    """UTF-8 when the bytes are valid UTF-8, else Windows-1252, else latin-1 (which always succeeds)."""
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def _cornell_lines(path: str | Path) -> list[str]:
    """The decoded lines of a Cornell file (each decoded on its own, see :func:`_decode`), ends removed."""
    path = Path(path)
    raw = read_input(path, expected="a Cornell Movie-Dialogs file")
    if not raw.strip():
        raise ValueError(f"{path}: the file is empty; expected Cornell Movie-Dialogs lines")
    lines = raw.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [_decode(line[:-1] if line.endswith(b"\r") else line) for line in lines]


def _fields(path: str | Path, number: int, line: str, expected: int) -> list[str] | None:
    """The fields of one line, or None for a blank line; ValueError naming ``path:number`` for a wrong count."""
    if not line.strip():
        return None
    fields = line.split(CORNELL_SEPARATOR)
    if len(fields) != expected:
        raise ValueError(
            f"{path}:{number}: expected {expected} fields separated by {CORNELL_SEPARATOR!r}, "
            f"found {len(fields)} (use --skip-bad-lines / skip_bad_lines=True to skip such lines)"
        )
    return fields


def _line_ids(path: str | Path, number: int, field: str) -> list[str]:
    """The ids of a ``['L194', 'L195']`` field, read by pattern, never evaluated."""
    field = field.strip()
    if not _LINE_IDS.fullmatch(field):
        shown = field if len(field) <= 60 else field[:57] + "..."
        raise ValueError(
            f"{path}:{number}: expected a list of line ids like ['L194', 'L195'], found {shown!r} "
            "(use --skip-bad-lines / skip_bad_lines=True to skip such lines)"
        )
    return _LINE_ID.findall(field)


def read_cornell_lines(path: str | Path, skip_bad_lines: bool = False) -> tuple[dict[str, Turn], int]:
    """``movie_lines.txt`` as ``({line id: Turn}, bad lines skipped)``.

    Each line is ``L1045 +++$+++ u0 +++$+++ m0 +++$+++ BIANCA +++$+++ They do not!``
    (line id, character id, movie id, character name, text). The text is kept
    as it is, empty or not; blank lines are ignored. Bytes are decoded a line at
    a time: UTF-8 when valid, else Windows-1252 (the real files are mostly
    that), else latin-1, so ``b"caf\\xe9"`` reads ``"café"``.

    Raises:
        ValueError: a line without exactly 5 fields, naming ``path:line``
            (unless ``skip_bad_lines``); the file is missing or empty.
    """
    turns: dict[str, Turn] = {}
    bad = 0
    for number, line in enumerate(_cornell_lines(path), start=1):
        try:
            fields = _fields(path, number, line, 5)
        except ValueError:
            if not skip_bad_lines:
                raise
            bad += 1
            continue
        if fields is not None:
            turns[fields[0].strip()] = Turn(fields[4], number)
    return turns, bad


def _pieces(ids: Sequence[str], turns: dict[str, Turn]) -> tuple[list[list[Turn]], int]:
    """The runs of ``ids`` found in ``turns`` (a missing id ends a run) and the number missing."""
    pieces: list[list[Turn]] = [[]]
    missing = 0
    for line_id in ids:
        if line_id in turns:
            pieces[-1].append(turns[line_id])
        else:
            missing += 1
            pieces.append([])
    return [piece for piece in pieces if piece], missing


def read_cornell(
    lines_path: str | Path, conversations_path: str | Path, skip_bad_lines: bool = False
) -> tuple[list[Conversation], dict]:
    """Cornell Movie-Dialogs conversations: ``movie_conversations.txt`` resolved against ``movie_lines.txt``.

    Each conversations line is ``u0 +++$+++ u2 +++$+++ m0 +++$+++ ['L194', 'L195']``
    (two character ids, movie id, the line ids in the order spoken). The list
    is matched by a pattern (quoted ``L<digits>`` ids, commas, brackets), never
    evaluated. A line id missing from ``movie_lines.txt`` drops that turn and
    splits the conversation there, so no pair joins two turns across the gap;
    each non-empty piece is a conversation with ``source`` ``"{conversations_path}:{line}"``.

    Args:
        lines_path: ``movie_lines.txt`` (see :func:`read_cornell_lines`).
        conversations_path: ``movie_conversations.txt``.
        skip_bad_lines: skip (and count) lines with the wrong number of fields
            or a malformed id list, in either file, instead of raising. Default: False.

    Returns:
        ``(conversations, report)``, ``report`` = ``{"bad_lines": skipped lines of both files,
        "missing_line_ids": ids not found, "conversations": len(conversations)}``.

    Raises:
        ValueError: a bad line (unless ``skip_bad_lines``), naming ``path:line``; a missing or empty file.
    """
    turns, bad = read_cornell_lines(lines_path, skip_bad_lines)
    conversations: list[Conversation] = []
    missing = 0
    for number, line in enumerate(_cornell_lines(conversations_path), start=1):
        try:
            fields = _fields(conversations_path, number, line, 4)
            ids = None if fields is None else _line_ids(conversations_path, number, fields[3])
        except ValueError:
            if not skip_bad_lines:
                raise
            bad += 1
            continue
        if ids is None:
            continue
        pieces, lost = _pieces(ids, turns)
        missing += lost
        source = f"{conversations_path}:{number}"
        conversations.extend(Conversation(tuple(piece), source) for piece in pieces)
    report = {"bad_lines": bad, "missing_line_ids": missing, "conversations": len(conversations)}
    return conversations, report


# --- pairs and splits ---------------------------------------------------------------------------


def conversation_pairs(conversations: Iterable[Conversation]) -> list[Pair]:
    """Each turn and the next turn of the same conversation as ``Pair(src=turn, tgt=reply, line=turn.line)``.

    A conversation of n turns gives n - 1 pairs; no pair spans two conversations.
    """
    return [
        Pair(turn.text, reply.text, turn.line)
        for conversation in conversations
        for turn, reply in zip(conversation.turns, conversation.turns[1:])
    ]


def split_conversations(
    conversations: Sequence[Conversation], seed: int, valid_fraction: float = 0.1, test_fraction: float = 0.1
) -> dict[str, list[int]]:
    """A seeded split of conversation indices (:func:`rnnkit.families.seq2seq.splits.split_indices`).

    Whole conversations go to one split each, so a reply never leaks from
    train into valid or test as the next utterance's source.

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}``: sorted, disjoint indices into ``conversations``.
    """
    return split_indices(len(conversations), seed, valid_fraction, test_fraction)


def read_pairs(path: str | Path, skip_bad_lines: bool = False) -> list[Pair]:
    """``utterance<TAB>reply`` lines as pairs (:func:`rnnkit.families.seq2seq.parallel.read_pairs_tsv`).

    Raises:
        ValueError: a bad line (unless ``skip_bad_lines``), naming ``path:line``;
            a missing, empty or non-UTF-8 file, or one that gives no pairs.
    """
    pairs, skipped = read_pairs_tsv(path, skip_bad_lines)
    if not pairs:
        extra = f" ({skipped} bad line(s) skipped)" if skipped else ""
        raise ValueError(f"{path}: no utterance<TAB>reply pairs found{extra}")
    return pairs
