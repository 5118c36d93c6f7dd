"""Tag columns across CoNLL-U sentences: the tag set of a column, the words whose tag is not in
a known set (with their lines), and writing the sentences back with predicted tags.

The sentences are :class:`rnnkit.data.conllu.Sentence`; each is written by its
:meth:`~rnnkit.data.conllu.Sentence.to_conllu`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, NamedTuple, Optional, Sequence

from rnnkit.files import atomic_write_text

from .conllu import Sentence


def tag_set(sentences: Iterable[Sentence], column: str = "upos") -> set[str]:
    """Every tag of ``column`` (``upos``, ``xpos`` or ``feats``) in the sentences."""
    return {tag for sentence in sentences for tag in sentence.tags(column)}


class UnknownTag(NamedTuple):
    """A word whose tag is not in a known set (see :func:`unknown_tags`)."""

    source: str
    line: int
    column: str
    tag: str

    def message(self, reference: str = "training") -> str:
        """``file:line: UPOS tag 'XYZ' not seen in training``."""
        return f"{self.source}:{self.line}: {self.column.upper()} tag {self.tag!r} not seen in {reference}"


def unknown_tags(sentences: Iterable[Sentence], known: set[str], column: str = "upos") -> list[UnknownTag]:
    """The words whose ``column`` tag is not in ``known``, in file order, with their lines."""
    return [
        UnknownTag(s.source, s.word_lines[i], column, tag)
        for s in sentences
        for i, tag in enumerate(s.tags(column))
        if tag not in known
    ]


def format_conllu(sentences: Iterable[Sentence]) -> str:
    """The sentences as CoNLL-U text (see :meth:`Sentence.to_conllu`)."""
    sentences = list(sentences)
    return "".join(s.to_conllu(last=i == len(sentences) - 1) for i, s in enumerate(sentences))


def write_conllu(
    path: str | Path,
    sentences: Iterable[Sentence],
    upos: Optional[Sequence[Sequence[str]]] = None,
    xpos: Optional[Sequence[Sequence[str]]] = None,
    feats: Optional[Sequence[Sequence[str]]] = None,
) -> None:
    """Write the sentences to ``path`` atomically, with the given tags replacing their columns.

    ``upos``/``xpos``/``feats``: one list per sentence, one tag per word;
    None keeps the column as read. Every other line and column is written as
    read. The text goes to a temporary file in the same folder that then
    replaces ``path``, so a crash never leaves a half-written file.
    """
    sentences = list(sentences)
    given = {name: list(tags) for name, tags in (("upos", upos), ("xpos", xpos), ("feats", feats)) if tags is not None}
    for name, tags in given.items():
        if len(tags) != len(sentences):
            raise ValueError(
                f"{path}: {len(tags)} {name.upper()} tag lists for {len(sentences)} "
                "sentences; expected one list per sentence"
            )
    tagged = [s.with_tags(**{name: tags[i] for name, tags in given.items()}) for i, s in enumerate(sentences)]
    atomic_write_text(path, format_conllu(tagged))
