"""CoNLL-U files for tagging: reading with line numbers, sentences as CoNLL-U text, plain text.

A :class:`Sentence` keeps the tagging view (FORM, UPOS, XPOS, FEATS of the
words with integer IDs) and every original line. Writing takes the lines as
read and only the UPOS, XPOS and FEATS columns of the words from the tag lists,
so with unchanged tags the output equals the input byte for byte (apart from a
UTF-8 BOM, Windows line endings, which become ``\n``, and blank lines before
the first sentence). Multiword tokens (``3-4``) and empty nodes (``8.1``) are
not words: they are skipped for tagging and written back unchanged.
Tag sets, unseen tags and writing files: :mod:`rnnkit.data.conllu_tags`.

The lines are split here rather than by ``conllu.parse_incr``: that parser
keeps no line numbers (so errors and unseen-tag warnings could not say where),
accepts lines with fewer than 10 columns, and its ``serialize`` is not exact
(EWT train's MISC ``Cxn=free=rc-obj`` comes back as ``Cxn=free``). Comments
are read with ``conllu``'s own comment parser, so ``Sentence.comments`` equals
``conllu.parse(...)[i].metadata`` (``key = value`` comments and bare ``newdoc``
/ ``newpar``; other comments are kept in the rows only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Optional, Sequence

from conllu.parser import parse_comment_line

from .inputs import read_input
from .tokenize import space_after, tokenize

#: the tag columns (4, 5 and 6 of the 10) a caller may read and replace
COLUMNS = ("upos", "xpos", "feats")
_BREAKS = re.compile(r"[\t\n\r]")  # characters that would break a CoNLL-U line
_NEWLINE = re.compile(r"[\n\r]")  # ... or a comment line
_WORD_ID = re.compile(r"[0-9]+")
_OTHER_ID = re.compile(r"[0-9]+-[0-9]+|[0-9]+\.[0-9]+")  # multiword token, empty node


@dataclass
class Sentence:
    """One sentence: its words and tags, and its lines as read.

    Attributes:
        words, upos, xpos, feats: one entry per word (integer ID), ``_`` when
            absent; feats as in the file, e.g. ``Number=Sing|PronType=Prs``. The
            three tag lists may be replaced (see :meth:`to_conllu`); words are
            written as read.
        comments: metadata in file order (``sent_id``, ``text``, ``newdoc id``...;
            a bare ``# newdoc`` or ``# newpar`` maps to None).
        line: 1-based line where the sentence starts in its file.
        word_lines: the 1-based line of each word.
        rows: every line of the sentence without its newline (comments, words,
            multiword tokens, empty nodes); ``word_rows``: the row of each word.
        ending: the text after the last row (``"\\n\\n"``: newline and blank line;
            ``"\\n"`` or ``""`` for a last sentence without a trailing blank line).
        source: the file it was read from, for messages.
    """

    words: list[str]
    upos: list[str]
    xpos: list[str]
    feats: list[str]
    comments: dict[str, Optional[str]] = field(default_factory=dict)
    line: int = 0
    word_lines: list[int] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    word_rows: list[int] = field(default_factory=list)
    ending: str = "\n\n"
    source: str = ""

    @classmethod
    def from_words(
        cls,
        words: Sequence[str],
        comments: Optional[dict[str, Optional[str]]] = None,
        line: int = 0,
        misc: Optional[Sequence[str]] = None,
        source: str = "",
    ) -> "Sentence":
        """A new sentence: rows ``# key = value`` (``# key`` for None), then the words with
        ``_`` in every other column but MISC (``misc``, default ``_``)."""
        comments = dict(comments or {})
        misc = list(misc) if misc is not None else ["_"] * len(words)
        where = f"{source or '<sentences>'}:{line}:"
        for text in [*words, *misc]:
            _check_field(where, text, _BREAKS, "tabs or newlines")
        for text in [*comments, *(value for value in comments.values() if value is not None)]:
            _check_field(where, text, _NEWLINE, "newlines")
        rows = [f"# {key}" if value is None else f"# {key} = {value}" for key, value in comments.items()]
        first = len(rows)
        rows += [f"{i}\t{word}\t_\t_\t_\t_\t_\t_\t_\t{extra}" for i, (word, extra) in enumerate(zip(words, misc), 1)]
        blank = ["_"] * len(words)
        return cls(
            list(words),
            list(blank),
            list(blank),
            list(blank),
            comments,
            line,
            [line] * len(words),
            rows,
            list(range(first, len(rows))),
            source=source,
        )

    def where(self, word: Optional[int] = None) -> str:
        """``file:line`` of the sentence, or of its ``word``-th word (0-based)."""
        line = self.line if word is None else self.word_lines[word]
        return f"{self.source or '<sentences>'}:{line}"

    def tags(self, column: str) -> list[str]:
        """The ``upos``, ``xpos`` or ``feats`` list."""
        if column not in COLUMNS:
            raise ValueError(f"unknown tag column {column!r}; expected one of {', '.join(COLUMNS)}")
        return getattr(self, column)

    def with_tags(self, **given: Sequence[str]) -> "Sentence":
        """A copy with the given columns (``upos=[...]``, ``xpos``, ``feats``: one tag per word)."""
        given = {name: list(tags) for name, tags in given.items()}
        for name, tags in given.items():
            _check_tags(self, name, tags)
        return replace(self, **given)

    def to_conllu(self, last: bool = True) -> str:
        """The sentence as CoNLL-U: its rows, the UPOS, XPOS and FEATS columns of the words
        taken from the tag lists (so tags assigned to them are written), and its ending; one
        that is not ``last`` always ends with a blank line."""
        for name in COLUMNS:
            _check_tags(self, name, getattr(self, name))
        rows = list(self.rows)
        for i, row in enumerate(self.word_rows):
            columns = rows[row].split("\t")
            columns[3:6] = self.upos[i], self.xpos[i], self.feats[i]
            rows[row] = "\t".join(columns)
        ending = self.ending if last or self.ending.count("\n") >= 2 else "\n\n"
        return "\n".join(rows) + ending


def _check_field(where: str, text, breaks: re.Pattern, without: str) -> None:
    """A column or comment value must be a non-empty string without ``breaks``."""
    if not isinstance(text, str) or not text or breaks.search(text):
        raise ValueError(f"{where} {text!r}: expected a non-empty string without {without}")


def _check_tags(sentence: Sentence, name: str, tags: list[str]) -> None:
    sentence.tags(name)  # a known column
    if len(tags) != len(sentence.words):
        raise ValueError(
            f"{sentence.where()}: {len(tags)} {name.upper()} tags for a sentence of {len(sentence.words)} words"
        )
    for i, tag in enumerate(tags):
        _check_field(f"{sentence.where(i)}: {name.upper()} tag", tag, _BREAKS, "tabs or newlines")


def _read_text(path: Path) -> str:
    """The file's text: UTF-8, a BOM dropped, Windows line endings made ``\\n``."""
    raw = read_input(path, expected="a CoNLL-U file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{path}:{line}: not valid UTF-8 (byte offset {err.start}: {err.reason})") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def _blocks(text: str) -> Iterator[tuple[int, list[str], str]]:
    """(first line number, lines, ending) of each run of non-blank lines.

    The ending is the exact text after the run (its newline and the blank
    lines that follow), so the runs and endings rebuild ``text`` apart from
    blank lines before the first run.
    """
    pieces = text.split("\n")
    rows: list[str] = []
    start, ending, after_blank = 0, "", False
    for index, piece in enumerate(pieces):
        newline = "\n" if index < len(pieces) - 1 else ""
        if piece.strip():
            if rows and after_blank:
                yield start, rows, ending
                rows = []
            if not rows:
                start = index + 1
            rows.append(piece)
            ending, after_blank = newline, False
        elif rows:
            ending += piece + newline
            after_blank = True
    if rows:
        yield start, rows, ending


def _sentence(source: str, start: int, rows: list[str], ending: str) -> Sentence:
    """Parse one block of lines; errors name ``source`` and the line."""
    words, upos, xpos, feats, lines, word_rows = [], [], [], [], [], []
    comments: dict[str, Optional[str]] = {}
    for offset, row in enumerate(rows):
        number = start + offset
        if row.startswith("#"):
            comments.update(parse_comment_line(row))
            continue
        columns = row.split("\t")
        if len(columns) != 10:
            raise ValueError(f"{source}:{number}: expected 10 tab-separated columns, found {len(columns)}")
        ident = columns[0]
        if _WORD_ID.fullmatch(ident):
            if int(ident) != len(words) + 1:
                raise ValueError(
                    f"{source}:{number}: word ID {ident} where {len(words) + 1} was "
                    "expected (IDs count 1, 2, 3... in each sentence; is a blank "
                    "line missing between two sentences?)"
                )
            words.append(columns[1])
            upos.append(columns[3])
            xpos.append(columns[4])
            feats.append(columns[5])
            lines.append(number)
            word_rows.append(offset)
        elif not _OTHER_ID.fullmatch(ident):
            raise ValueError(
                f"{source}:{number}: ID {ident!r} is not an integer, a range N-M (multiword token) or N.M (empty node)"
            )
    if not words:
        raise ValueError(f"{source}:{start}: sentence has no words (no line with an integer ID)")
    return Sentence(words, upos, xpos, feats, comments, start, lines, rows, word_rows, ending, source)


def iter_conllu(path: str | Path) -> Iterator[Sentence]:
    """The sentences of a CoNLL-U file one by one (see :func:`read_conllu`)."""
    path = Path(path)
    text = _read_text(path)
    found = False
    for start, rows, ending in _blocks(text):
        found = True
        yield _sentence(str(path), start, rows, ending)
    if not found:
        raise ValueError(f"{path}:1: no sentences: the file is {'empty' if not text else 'only blank lines'}")


def read_conllu(path: str | Path) -> list[Sentence]:
    """All sentences of a CoNLL-U file.

    Raises:
        ValueError naming the file and line: missing or empty file, not UTF-8,
        a line without 10 tab-separated columns, an ID that is not an integer,
        ``N-M`` or ``N.M``, integer IDs not counting 1, 2, 3..., a sentence
        without words.
    """
    return list(iter_conllu(path))


def sentences_from_text(text: str, source: str = "<text>") -> list[Sentence]:
    """One sentence per non-empty line of plain text, tokenized by :func:`tokenize`.

    Each gets ``# sent_id = N`` (1, 2, ...) and ``# text = <the line, stripped>``
    comments, ``_`` tags, ``SpaceAfter=No`` where the text had no space, and
    the line number of its line. Empty lines (or text) give no sentence.
    """
    sentences = []
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        tokens = tokenize(line)
        comments = {"sent_id": str(len(sentences) + 1), "text": line}
        sentences.append(Sentence.from_words(tokens, comments, number, space_after(line, tokens), source))
    return sentences
