"""Checkpoint metadata is untrusted input: the fields each recipe reads, declared and checked.

A checkpoint's JSON record may come from anywhere. Its size and nesting are checked before it is
parsed (:func:`rnnkit.train.checkpoint.parse_meta`); then, before anything is built from it:

* :func:`check`: every field a recipe reads has the type it expects (:class:`Need`), e.g.
  ``"series.train_end": Need("integer", minimum=1)``. Recipes declare theirs as
  ``TrainedModel.meta_fields`` (besides :data:`COMMON`), and their model sees only those
  (:class:`Declared`); resuming a run also checks the trainer's (:data:`RESUME`);
* :mod:`rnnkit.train.loading`: the shapes the metadata claims, against the file's tensors.

Each refusal is a :class:`CheckpointError`: one line naming the file and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from .checkpoint import Checkpoint, CheckpointError, shown

LARGEST_INT = 2**62
KINDS = ("string", "integer", "number", "boolean", "object", "list", "strings", "integers", "numbers", "scalars")


@dataclass(frozen=True)
class Need:
    """What one metadata field must be.

    Args:
        kind: one of :data:`KINDS` (``strings``, ``integers``, ``numbers``: lists of them;
            ``scalars``: a list of strings and numbers). Numbers must be finite (``finite``:
            or infinite, as a best score before any evaluation; never NaN).
        optional: the field may be absent or null.
        minimum, maximum: bounds of a number, or of each number of a list.
        positive: a number (or each of a list) must be > 0.
        unique: the items of a list must differ (a vocabulary).
        choices: the allowed values.
        check: ``check(value, meta)`` -> an error text or None, for what the type cannot say.
    """

    kind: str
    optional: bool = False
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    positive: bool = False
    unique: bool = False
    choices: tuple = ()
    check: Optional[Callable[[Any, dict], Optional[str]]] = None
    finite: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Need: kind {self.kind!r} is not one of {', '.join(KINDS)}")

    def problem(self, value: Any, meta: dict) -> Optional[str]:
        """What is wrong with ``value`` (None: nothing)."""
        items = value if self.kind in ("strings", "integers", "numbers", "scalars") else None
        if items is not None and not isinstance(items, list):
            return f"expected a list of {self.kind}, got {shown(value)}"
        for index, item in enumerate([value] if items is None else items):
            wrong = self._item_problem(item)
            if wrong:
                return wrong if items is None else f"item {index}: {wrong}"
        if self.unique and len(set(items)) != len(items):
            seen: set = set()
            twice = next(item for item in items if item in seen or seen.add(item))
            return f"expected distinct entries, {shown(twice)} is listed twice"
        return self.check(value, meta) if self.check else None

    def _item_problem(self, value: Any) -> Optional[str]:
        kind = {"strings": "string", "integers": "integer", "numbers": "number"}.get(self.kind, self.kind)
        if kind == "scalars":
            kind = "string" if isinstance(value, str) else "number"
        python = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "list": list}[
            kind
        ]
        if not isinstance(value, python) or (isinstance(value, bool) and kind != "boolean"):
            return f"expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}, got {shown(value)}"
        if kind in ("integer", "number"):
            return self._number_problem(value, kind)
        if self.choices and value not in self.choices:
            return f"expected one of {', '.join(map(repr, self.choices))}, got {shown(value)}"
        return None

    def _number_problem(self, value, kind: str) -> Optional[str]:
        if math.isnan(value) or (self.finite and math.isinf(value)) or (kind == "integer" and abs(value) > LARGEST_INT):
            return f"expected a finite {kind}, got {shown(value)}"
        if self.positive and value <= 0:
            return f"expected a number > 0, got {shown(value)}"
        if self.minimum is not None and value < self.minimum:
            return f"expected >= {self.minimum:g}, got {shown(value)}"
        if self.maximum is not None and value > self.maximum:
            return f"expected <= {self.maximum:g}, got {shown(value)}"
        return None


#: what every recipe's model reads: task, config sections, aliases, inference weights, the step
COMMON = {
    "task": Need("string"),
    "config": Need("object"),
    "config.*": Need("object"),
    "aliases": Need("object", optional=True),
    "aliases.*": Need("string"),
    "inference_weights": Need("string", optional=True),
    "averager": Need("object", optional=True),
    "averager.trigger_step": Need("integer", optional=True),
    "step": Need("integer", optional=True, minimum=-1),
}

#: what resuming a run reads besides its recipe's fields: the trainer's state (:mod:`rnnkit.train.snapshot`)
RESUME = {
    "step": Need("integer", minimum=0),
    "elapsed": Need("number", minimum=0),
    "best": Need("number", optional=True, finite=False),  # infinite before the first evaluation
    "bad_evals": Need("integer", minimum=0),
    "last_eval_step": Need("integer", minimum=-1),
    "window": Need(
        "numbers",
        check=lambda value, meta: (
            None if len(value) == 2 else f"expected 2 numbers (loss sum, count), got {len(value)}"
        ),
    ),
    "optimizer": Need("object", optional=True),
    "optimizer.param_groups": Need("list"),
    "optimizer.scalars": Need("object"),
    "optimizers": Need("object", optional=True),
    "optimizers.*": Need("object"),
    "optimizers.*.param_groups": Need("list"),
    "optimizers.*.scalars": Need("object"),
    "objective": Need("object"),
    "rng": Need("object"),
    "rng.python": Need("list"),
    "schedule": Need("object"),
    "callbacks": Need("object", optional=True),
}

MISSING = object()


def check(meta: dict, fields: dict[str, Need], path) -> None:
    """CheckpointError naming ``path`` and the field when ``meta`` does not match ``fields``.

    ``fields`` maps a dotted name (``"series.mean"``; ``*``: every entry of an object) to its
    :class:`Need`. A field under an absent optional one is not looked for.
    """
    for name, need in fields.items():
        for where, value in _values(meta, name.split(".")):
            if (value is MISSING or value is None) and need.optional:
                continue
            if value is MISSING:
                raise CheckpointError(
                    f"{path}: checkpoint metadata lacks field {where!r} ({_article(need.kind)} expected)"
                )
            problem = need.problem(value, meta) if value is not None else f"expected {_article(need.kind)}, got null"
            if problem:
                raise CheckpointError(f"{path}: checkpoint metadata field {where!r}: {problem}")


def _article(kind: str) -> str:
    return (
        f"a list of {kind}"
        if kind in ("strings", "integers", "numbers", "scalars")
        else (f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}")
    )


def _values(meta: Any, parts: list[str], where: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, value or MISSING) of every field ``parts`` names in ``meta``."""
    head, rest = parts[0], parts[1:]
    if not isinstance(meta, dict):
        return  # the parent's own Need reports it
    keys = list(meta) if head == "*" else [head]
    for key in keys:
        name = f"{where}.{key}" if where else key
        value = meta.get(key, MISSING)
        if not rest:
            yield name, value
        elif value is not MISSING and value is not None:
            yield from _values(value, rest, name)


def check_resume(trained: type, state: Checkpoint) -> None:
    """Before ``rnnkit train --resume`` builds anything from ``state``: the fields its recipe's
    model (``trained.meta_fields``) and the trainer read (:data:`RESUME`)."""
    check(state.meta, {**COMMON, **trained.meta_fields, **RESUME}, state.path)


class Declared(dict):
    """A checkpoint's metadata as its model sees it: only the top-level fields ``fields`` declares.

    Reading another one (``meta["x"]``, ``meta.get("x")``) is a bug in the recipe, not in the
    checkpoint: a KeyError saying to declare it, so that tests see it rather than a silent default.
    """

    def __init__(self, meta: dict, fields: dict[str, Need]) -> None:
        self.names = frozenset(name.split(".")[0] for name in fields)
        super().__init__({k: v for k, v in meta.items() if k in self.names})

    def _declared(self, key: str) -> None:
        if key not in self.names:
            raise KeyError(
                f"checkpoint metadata field {key!r} is read but not declared in the recipe's "
                "meta_fields (rnnkit.train.meta)"
            )

    def __getitem__(self, key: str):
        self._declared(key)
        return super().__getitem__(key)

    def get(self, key: str, default=None):
        self._declared(key)
        return super().get(key, default)


#: a vocabulary: distinct strings, their positions the ids
VOCAB = Need("strings", unique=True)


def is_permutation(size: int) -> Callable[[Any, dict], Optional[str]]:
    """A :class:`Need` check: the list is a permutation of ``0 .. size-1``."""

    def check(value: list, meta: dict) -> Optional[str]:
        if sorted(value) != list(range(size)):
            return f"expected a permutation of 0..{size - 1}, got {len(value)} numbers that are not"
        return None

    return check


def same_length_as(other: str) -> Callable[[Any, dict], Optional[str]]:
    """A :class:`Need` check: the list has as many entries as the top-level list ``other``."""

    def check(value: list, meta: dict) -> Optional[str]:
        if isinstance(meta.get(other), list) and len(value) != len(meta[other]):
            return f"expected one entry per {other} ({len(meta[other])}), got {len(value)}"
        return None

    return check


def digits(allowed: str) -> Callable[[Any, dict], Optional[str]]:
    """A :class:`Need` check: the string holds only characters of ``allowed`` (e.g. a split's "012")."""

    def check(value: str, meta: dict) -> Optional[str]:
        wrong = sorted(set(value) - set(allowed))
        return f"expected only the characters {allowed!r}, got {wrong[0]!r}" if wrong else None

    return check


def starts_with(first: tuple) -> Callable[[Any, dict], Optional[str]]:
    """A :class:`Need` check: the list begins with ``first`` (e.g. a vocabulary's special entries)."""

    def check(value: list, meta: dict) -> Optional[str]:
        if tuple(value[: len(first)]) != tuple(first):
            return f"expected it to begin with {', '.join(map(repr, first))}, got {shown(value[: len(first)])}"
        return None

    return check
