"""Truth scores: how much of what a generated caption says is true of its scene.

The caption is parsed back with the grammar of :mod:`rnnkit.recipes.caption.scenes` and
compared with the scene that was drawn, fact by fact. All precision/recall figures are micro
averages over the corpus (counts summed first):

- ``exact``: share of captions whose parse is the scene (same things, attributes, cells);
- ``parsed``: share of captions the grammar accepts;
- ``object_precision`` / ``object_recall``: things as (kind, colour, size, cell);
- ``attribute_precision`` / ``attribute_recall``: facts (cell, attribute, value) for kind,
  colour and size (attributes a data set does not have are skipped);
- ``relation_precision`` / ``relation_recall``: the pairwise relations
  (:func:`~rnnkit.recipes.caption.scenes.relations`) of the parse against the scene's, so
  scenes of one thing contribute nothing;
- ``article_accuracy``: share of the scene's things whose cell the caption gives the right kind
  (for fashion-scenes: the classification accuracy read from the captions);
- ``things``, ``captions``: the counts behind them;
- ``by_count``: for each number of things in a scene, ``{"captions", "exact", "more", "fewer"}``:
  how many scenes have that many things, and the shares of their captions that are exact, that
  name more things than the scene has ("... and" one too many, an object twice) and fewer.

A caption the grammar rejects mentions nothing for the object, attribute and relation figures;
``article_accuracy`` alone gives it partial credit from the thing-and-location pairs that can
still be read (:func:`~rnnkit.recipes.caption.scenes.salvage`). A precision with nothing
predicted is 1.0 when there was nothing to find and 0.0 otherwise; a recall with nothing to find
is 1.0.
"""

from __future__ import annotations

from typing import Optional, Sequence

from rnnkit.recipes.caption.scenes import Scene, parse, relations, salvage, things_named

FIGURES = ("object", "attribute", "relation")


def _objects(scene: Optional[Scene]) -> set[tuple]:
    return set() if scene is None else {(t.kind, t.colour, t.size, t.cell) for t in scene.things}


def _attributes(scene: Optional[Scene]) -> set[tuple]:
    facts = set()
    for thing in scene.things if scene is not None else ():
        for name in ("kind", "colour", "size"):
            if getattr(thing, name) is not None:
                facts.add((thing.cell, name, getattr(thing, name)))
    return facts


def _relations(scene: Optional[Scene]) -> set[tuple]:
    return set() if scene is None else relations(scene)


def _precision(hits: int, predicted: int, true: int) -> float:
    if predicted:
        return hits / predicted
    return 1.0 if true == 0 else 0.0


def truth_scores(hypotheses: list[str], scenes: list[Scene], kinds: Sequence[str]) -> dict:
    """Scores of ``hypotheses`` (one caption per scene) against ``scenes``; see the module docstring.

    ``kinds``: the kind names of the data set (for the parser)."""
    if len(hypotheses) != len(scenes):
        raise ValueError(f"truth_scores: {len(hypotheses)} captions for {len(scenes)} scenes; expected one each")
    extract = {"object": _objects, "attribute": _attributes, "relation": _relations}
    counts = {name: [0, 0, 0] for name in FIGURES}  # hits, predicted, true
    exact = parsed = right_kind = things = 0
    by_count: dict[int, list[int]] = {}  # captions, exact, more, fewer
    for caption, scene in zip(hypotheses, scenes):
        guess = parse(caption, scene.grid, kinds)
        exact += guess == scene
        _count(by_count, caption, scene, guess, kinds)
        parsed += guess is not None
        for name, facts in extract.items():
            said, true = facts(guess), facts(scene)
            counts[name][0] += len(said & true)
            counts[name][1] += len(said)
            counts[name][2] += len(true)
        if guess is not None:
            kind_at = {thing.cell: thing.kind for thing in guess.things}
        else:
            kind_at = {cell: described[0] for cell, described in salvage(caption, scene.grid, kinds).items()}
        right_kind += sum(kind_at.get(thing.cell) == thing.kind for thing in scene.things)
        things += len(scene.things)
    total = len(scenes)
    scores = {"exact": exact / total if total else 0.0, "parsed": parsed / total if total else 0.0}
    for name, (hits, predicted, true) in counts.items():
        scores[f"{name}_precision"] = _precision(hits, predicted, true)
        scores[f"{name}_recall"] = hits / true if true else 1.0
    scores["article_accuracy"] = right_kind / things if things else 0.0
    scores["things"], scores["captions"] = things, total
    scores["by_count"] = {
        str(n): {"captions": c, "exact": e / c, "more": m / c, "fewer": f / c}
        for n, (c, e, m, f) in sorted(by_count.items())
    }
    return scores


def _count(by_count: dict, caption: str, scene: Scene, guess: Optional[Scene], kinds: Sequence[str]) -> None:
    """Add one caption to ``by_count[len(scene.things)]``: (captions, exact, more, fewer); the things a
    caption names are its parse's, or, when the grammar rejects it, its thing phrases."""
    row = by_count.setdefault(len(scene.things), [0, 0, 0, 0])
    named = len(guess.things) if guess is not None else things_named(caption, scene.grid, kinds)
    row[0] += 1
    row[1] += guess == scene
    row[2] += named > len(scene.things)
    row[3] += named < len(scene.things)
