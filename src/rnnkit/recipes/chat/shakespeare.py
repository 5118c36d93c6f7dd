"""Tiny Shakespeare as dialogue: consecutive speeches of a play as conversations
(:class:`~rnnkit.recipes.chat.dialogue.Conversation` of
:class:`~rnnkit.recipes.chat.dialogue.Turn`), scene breaks inferred from the layout."""

from __future__ import annotations

import re

from rnnkit.data.text import bundled_text
from rnnkit.recipes.chat.dialogue import Conversation, Turn

_SPEAKER = re.compile(r"[A-Za-z][A-Za-z' .,&-]*:")


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """The runs of non-blank lines as ``(first line number, lines)``; ``(0, [])`` for each extra blank line.

    One blank line separates two speeches; every further blank line in a row
    becomes an empty marker, so callers can see where a run of blank lines was.
    """
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start, blanks = 0, 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            if not current:
                if blanks > 1 and blocks:
                    blocks.append((0, []))
                start, blanks = number, 0
            current.append(line)
            continue
        if current:
            blocks.append((start, current))
            current = []
        blanks += 1
    if current:
        blocks.append((start, current))
    return blocks


def shakespeare_conversations(text: str | None = None, source: str = "tinyshakespeare") -> list[Conversation]:
    """Speeches of Tiny Shakespeare (or text in its layout) grouped into conversations.

    The corpus is blocks of ``SPEAKER:`` followed by the speech, one blank line
    between blocks. A turn is a speech with its speaker line removed and its
    lines stripped and joined with single spaces; ``Turn.line`` is the line of
    the speech's first line of text.

    The corpus keeps no ACT or SCENE headings and no stage directions, so the
    scene breaks are inferred. A conversation ends at:

    1. a speaker line with no speech under it (``TITUS:`` then a blank line,
       125 times: where the source had only a stage direction, an entrance or
       exit, the direction was dropped and the name left behind);
    2. two or more blank lines in a row (twice: between *Richard III* and
       *Romeo and Juliet*, and after the song in *Measure for Measure*);
    3. a block whose first line is not ``Name:`` (never in the corpus; other
       text in this layout may have headings or directions there).

    Such break blocks give no turn. Conversations of one turn are kept (they
    give no pairs). Breaks in a row end one conversation, not several. On the
    bundled corpus (7,222 speaker blocks, 125 of them empty) this gives 107
    conversations of 7,097 turns, and 6,990 pairs
    (:func:`~rnnkit.recipes.chat.dialogue.conversation_pairs`).

    Args:
        text: the corpus. Default: the bundled Tiny Shakespeare.
        source: ``Conversation.source`` of every conversation. Default: ``"tinyshakespeare"``.
    """
    if text is None:
        text = bundled_text("tinyshakespeare")
    conversations: list[Conversation] = []
    turns: list[Turn] = []

    def close() -> None:
        if turns:
            conversations.append(Conversation(tuple(turns), source))
            turns.clear()

    for start, lines in _blocks(text):
        speech = [line.strip() for line in lines[1:]]
        if not lines or not _SPEAKER.fullmatch(lines[0].strip()) or not speech:
            close()
            continue
        turns.append(Turn(" ".join(speech), start + 1))
    close()
    return conversations
