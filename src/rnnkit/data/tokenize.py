"""Plain text to words for tagging: whitespace, then punctuation and English clitics split off.

See :func:`tokenize` for the rule.
"""

from __future__ import annotations

import re

_PUNCT = ".,;:!?()[]{}<>\"'`“”‘’«»…"
_LEAD = re.compile(r"\.+|!+|\?+|[" + re.escape(_PUNCT) + "]")  # a run of . ! or ? is one token
_TRAIL = re.compile("(?:" + _LEAD.pattern + ")$")
_CLITICS = ("n't", "'s", "'re", "'ll", "'ve", "'m", "'d")
_ABBREVIATIONS = {
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "Prof.",
    "Sr.",
    "Jr.",
    "St.",
    "Inc.",
    "Ltd.",
    "Co.",
    "Corp.",
    "vs.",
    "etc.",
}
_INITIALS = re.compile(r"(?:[^\W\d_]\.){2,}")  # U.S., e.g., a.m.
_WHOLE = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE
)  # URLs and e-mail addresses


def _clitic(text: str) -> str:
    """The clitic that ``text`` ends with (either apostrophe, any case), or ``""``."""
    low = text.lower().replace("’", "'")
    return next((c for c in _CLITICS if low.endswith(c)), "")


def _is_clitic(text: str) -> bool:
    return text.lower().replace("’", "'") in _CLITICS


def _abbreviation(chunk: str) -> bool:
    return chunk in _ABBREVIATIONS or _INITIALS.fullmatch(chunk) is not None


def _split_chunk(chunk: str) -> list[str]:
    """Rules 1-3 of :func:`tokenize` for one whitespace-free chunk."""
    head, tail = [], []
    while (lead := _LEAD.match(chunk)) and not _is_clitic(chunk.rstrip(_PUNCT)):
        head.append(lead.group())
        chunk = chunk[lead.end() :]
    while (trail := _TRAIL.search(chunk)) and not _abbreviation(chunk):
        tail.insert(0, trail.group())
        chunk = chunk[: trail.start()]
    if _WHOLE.fullmatch(chunk):
        return head + [chunk] + tail
    if chunk.lower() == "cannot":
        return head + [chunk[:3], chunk[3:]] + tail
    while (clitic := _clitic(chunk)) and len(chunk) > len(clitic):
        tail.insert(0, chunk[-len(clitic) :])
        chunk = chunk[: -len(clitic)]
    return head + ([chunk] if chunk else []) + tail


def tokenize(line: str) -> list[str]:
    """Split a line of plain text into EWT-like tokens.

    The rule, for each whitespace-separated chunk:

    1. Leading characters of ``.,;:!?()[]{}<>"'`“”‘’«»…`` become tokens of
       their own, one character each except that a run of ``.``, ``!`` or
       ``?`` stays one token (``...``); an apostrophe that starts a clitic
       (the chunk ``'s``, ``'re``...) stays.
    2. Trailing characters of that set are split off the same way, except
       that a final period stays on an abbreviation: two or more single
       letters each followed by a period (``U.S.``, ``e.g.``, ``a.m.``) or one
       of ``Mr. Mrs. Ms. Dr. Prof. Sr. Jr. St. Inc. Ltd. Co. Corp. vs. etc.``
    3. What is left stays whole if it is a URL (``scheme://...`` or
       ``www....``) or an e-mail address; otherwise the English clitics
       ``n't 's 're 'll 've 'm 'd`` (``'`` or ``’``, any case) are split off its
       end, repeatedly (``don't`` -> ``do n't``, ``can't`` -> ``ca n't``,
       ``shouldn't've`` -> ``should n't 've``), and ``cannot`` -> ``can not``.

    Punctuation inside a chunk is never split: ``3.5``, ``e-mail``, ``10:30``,
    ``and/or`` stay whole.
    """
    return [token for chunk in line.split() for token in _split_chunk(chunk)]


def space_after(line: str, tokens: list[str]) -> list[str]:
    """MISC per token: ``SpaceAfter=No`` where the next token follows without a space."""
    misc, position = [], 0
    for i, token in enumerate(tokens):
        position = line.index(token, position) + len(token)
        glued = i < len(tokens) - 1 and not line[position : position + 1].isspace()
        misc.append("SpaceAfter=No" if glued else "_")
    return misc
