"""Scenes of things on a grid, and the caption grammar that describes them exactly.

A :class:`Scene` holds up to one :class:`Thing` per cell of a ``grid`` x ``grid`` board (cells
row-major). Shapes live on the 3x3 grid and carry a size and a colour; fashion-scenes articles
live on the 2x2 grid and carry only their kind.

The grammar (lowercase words, single spaces, no punctuation)::

    caption  := [lead-in] item ("and" item)*
    lead-in  := "there is" | "this picture shows" | "we see"
    item     := thing location | location thing | location "there is" thing
    thing    := ("a" | "an") [size colour] kind       # size and colour on the 3x3 grid only
    location := one fixed phrase per cell, see LOCATIONS

Every thing is given with its absolute position: captions never use relations between things
(a deliberate choice, so that every caption pins every cell and :func:`parse` recovers the scene
exactly; :func:`relations` derives the pairwise relations for the truth scores instead). The
grammar is unambiguous without commas: each item is exactly two chunks (a thing and a location,
in either order), and "and" stands before every item after the first, so a decoder decides after
each item whether another thing is left, without counting ahead (docs/recipes/caption.md, "What
was tried").

Paraphrases (:func:`captions`) vary the order of the things (reading order or its reverse), the
lead-in and where the location goes; the first caption is always the plain one in
reading order, location after the thing, no lead-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

SIZES = ("small", "large")
COLOURS = ("red", "green", "blue", "yellow", "purple", "cyan", "white")
LOCATIONS = {
    3: (
        "in the top left corner",
        "at the top",
        "in the top right corner",
        "on the left",
        "in the centre",
        "on the right",
        "in the bottom left corner",
        "at the bottom",
        "in the bottom right corner",
    ),
    2: ("in the top left", "in the top right", "in the bottom left", "in the bottom right"),
}
LEAD_INS = ("there is", "this picture shows", "we see")
# which lead-ins each placement of the location is generated with ("" = none); parse takes any
GENERATED = {"after": ("", *LEAD_INS), "before": ("", "we see"), "there": ("",)}
SPLIT_INDEX = {"train": 0, "valid": 1, "test": 2, "compositional": 3}
ATTRIBUTE_GRID = 3  # the grid whose things carry a size and a colour


@dataclass(frozen=True)
class Thing:
    """One thing: its ``kind`` (shape or article name), its ``cell`` and, for shapes, colour and size."""

    kind: str
    cell: int
    colour: Optional[str] = None
    size: Optional[str] = None

    def describe(self) -> tuple:
        """(kind, colour, size): the thing without its place."""
        return (self.kind, self.colour, self.size)


@dataclass(frozen=True)
class Scene:
    """Things sorted by cell, at most one per cell, on a ``grid`` x ``grid`` board."""

    things: tuple[Thing, ...]
    grid: int

    def __post_init__(self):
        cells = [thing.cell for thing in self.things]
        if cells != sorted(set(cells)) or any(not 0 <= cell < self.grid * self.grid for cell in cells):
            raise ValueError(f"Scene: expected distinct sorted cells in 0..{self.grid**2 - 1}, got {cells}")

    def to_json(self) -> dict:
        """Plain JSON data (lists, strings, ints); attributes that are None are left out."""
        things = [{k: v for k, v in vars(thing).items() if v is not None} for thing in self.things]
        return {"grid": self.grid, "things": things}

    @classmethod
    def from_json(cls, data: dict) -> Scene:
        things = sorted((Thing(**thing) for thing in data["things"]), key=lambda thing: thing.cell)
        return cls(tuple(things), int(data["grid"]))


def article(word: str) -> str:
    """The indefinite article before ``word`` ("an ankle boot", "an eight", but "a one")."""
    return "an" if word[0] in "aeiou" and word != "one" else "a"


def describe(thing: Thing) -> str:
    """'a small red circle', 'an ankle boot'."""
    words = " ".join(w for w in (thing.size, thing.colour, thing.kind) if w is not None)
    return f"{article(words)} {words}"


def _item(thing: Thing, grid: int, form: str) -> str:
    where = LOCATIONS[grid][thing.cell]
    if form == "after":
        return f"{describe(thing)} {where}"
    return f"{where} {'there is ' if form == 'there' else ''}{describe(thing)}"


def render(things: Sequence[Thing], grid: int, form: str = "after", lead_in: str = "") -> str:
    """One caption of ``things`` in this order, location placed by ``form``, after ``lead_in``."""
    items = [_item(thing, grid, form) for thing in things]
    body = " and ".join(items)  # "and" before every later thing: the decoder need not count ahead
    return f"{lead_in} {body}" if lead_in else body


def captions(scene: Scene, rng: np.random.Generator, count: int = 5) -> list[str]:
    """Up to ``count`` distinct captions of ``scene``: the plain one first, then random paraphrases."""
    if not scene.things:
        raise ValueError("captions: a scene needs at least one thing")
    things = list(scene.things)
    orders = (things, things[::-1])  # reading order and its reverse
    texts = []
    for order in orders:
        for form, leads in GENERATED.items():
            for lead in leads:
                text = render(order, scene.grid, form, lead)
                if text not in texts:
                    texts.append(text)
    rest = texts[1:]
    picked = rng.permutation(len(rest))[: max(count - 1, 0)]
    return ([texts[0]] + [rest[i] for i in picked])[: max(count, 0)]


def _kind_table(kinds: Sequence[str]) -> list[tuple[str, ...]]:
    """Kinds as token tuples, longest first (so 'ankle boot' is tried before a kind 'ankle')."""
    return sorted({tuple(kind.split()) for kind in kinds}, key=len, reverse=True)


def _chunk(tokens: list[str], pos: int, grid: int, table, attributes: Optional[bool]):
    """('thing', (kind, colour, size), end) or ('loc', cell, end) starting at ``pos``, or None.

    ``attributes``: True requires size and colour, False forbids them, None (lenient) allows
    either and does not check the article."""
    if pos < len(tokens) and tokens[pos] in ("a", "an"):
        start, pos = pos, pos + 1
        size = colour = None
        if attributes is not False and pos + 1 < len(tokens) and tokens[pos] in SIZES and tokens[pos + 1] in COLOURS:
            size, colour, pos = tokens[pos], tokens[pos + 1], pos + 2
        if attributes and size is None:
            return None
        for kind in table:
            if tuple(tokens[pos : pos + len(kind)]) == kind:
                if attributes is not None and tokens[start] != article(tokens[start + 1]):
                    return None
                return "thing", (" ".join(kind), colour, size), pos + len(kind)
        return None
    for cell, phrase in enumerate(LOCATIONS[grid]):
        words = phrase.split()
        if tokens[pos : pos + len(words)] == words:
            return "loc", cell, pos + len(words)
    return None


def _scene(pairs: list[tuple[int, tuple]], grid: int) -> Optional[Scene]:
    things = sorted((Thing(kind, cell, colour, size) for cell, (kind, colour, size) in pairs), key=lambda t: t.cell)
    if len({thing.cell for thing in things}) != len(things):
        return None  # two things in one cell
    return Scene(tuple(things), grid)


def parse(caption: str, grid: int, kinds: Sequence[str], attributes: Optional[bool] = None) -> Optional[Scene]:
    """The scene a caption of the grammar describes, or None for anything else.

    ``kinds``: the allowed kind names (multi-word ones allowed). ``attributes``: whether things
    carry a size and a colour (default: on the 3x3 grid only); a thing missing them, or having
    them where they do not belong, makes the caption invalid. Extra spaces are ignored."""
    if grid not in LOCATIONS:
        raise ValueError(f"parse: grid {grid}, expected one of {sorted(LOCATIONS)}")
    attributes = grid == ATTRIBUTE_GRID if attributes is None else attributes
    tokens, table = caption.split(), _kind_table(kinds)
    pos = 0
    for lead in LEAD_INS:
        if tokens[: len(lead.split())] == lead.split():
            pos = len(lead.split())
            break
    pairs, ands = [], []
    while pos < len(tokens):
        if tokens[pos] == "and" and pairs:
            ands.append(len(pairs))
            pos += 1
            continue
        first = _chunk(tokens, pos, grid, table, attributes)
        if first is None:
            return None
        pos = first[2]
        if first[0] == "loc" and tokens[pos : pos + 2] == ["there", "is"]:
            pos += 2
        second = _chunk(tokens, pos, grid, table, attributes)
        if second is None or second[0] == first[0]:
            return None
        pos = second[2]
        loc, thing = (first, second) if first[0] == "loc" else (second, first)
        pairs.append((loc[1], thing[1]))
    if not pairs or ands != list(range(1, len(pairs))):
        return None
    return _scene(pairs, grid)


def _chunks(caption: str, grid: int, kinds: Sequence[str]) -> list[tuple]:
    """The thing and location phrases of any text, in order, skipping words outside the grammar."""
    tokens, table = caption.split(), _kind_table(kinds)
    chunks, pos = [], 0
    while pos < len(tokens):
        chunk = _chunk(tokens, pos, grid, table, None)
        if chunk is None:
            pos += 1
            continue
        chunks.append(chunk)
        pos = chunk[2]
    return chunks


def things_named(caption: str, grid: int, kinds: Sequence[str]) -> int:
    """How many thing phrases ("a small red circle") any text holds, repeats included."""
    return sum(chunk[0] != "loc" for chunk in _chunks(caption, grid, kinds))


def salvage(caption: str, grid: int, kinds: Sequence[str]) -> dict[int, tuple]:
    """What can be read from any text: {cell: (kind, colour, size)} for every thing phrase next to
    a location phrase (either order), skipping words outside the grammar; the first claim of a
    cell wins. Partial credit for captions that :func:`parse` rejects."""
    chunks = _chunks(caption, grid, kinds)
    found: dict[int, tuple] = {}
    i = 0
    while i + 1 < len(chunks):
        first, second = chunks[i], chunks[i + 1]
        if first[0] == second[0]:
            i += 1
            continue
        loc, thing = (first, second) if first[0] == "loc" else (second, first)
        found.setdefault(loc[1], thing[1])
        i += 2
    return found


def relations(scene: Scene) -> set[tuple]:
    """(describe(A), relation, describe(B)) for every ordered pair of distinct things, relation in
    'left of', 'right of' (by column), 'above', 'below' (by row); describe = (kind, colour, size)."""
    found = set()
    for i, a in enumerate(scene.things):
        for j, b in enumerate(scene.things):
            if i == j:
                continue
            (ra, ca), (rb, cb) = divmod(a.cell, scene.grid), divmod(b.cell, scene.grid)
            for holds, name in ((ca < cb, "left of"), (ca > cb, "right of"), (ra < rb, "above"), (ra > rb, "below")):
                if holds:
                    found.add((a.describe(), name, b.describe()))
    return found
