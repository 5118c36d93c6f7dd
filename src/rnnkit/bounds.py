"""The ranges of numeric options: field metadata that config dataclasses at every layer use.

Every int and float field of a recipe's config carries ``metadata=bound(low, high)``;
the config resolver (:mod:`rnnkit.train.config`) refuses a value outside it with one
line naming the option and its range, and ``--help`` shows the range. This module
imports nothing from rnnkit, so ``models`` and ``data`` can use it.

The upper ends are far beyond what any published recipe of this kind uses, yet low
enough that one option alone cannot exhaust a machine's memory; where memory
grows with a product of options, :mod:`rnnkit.train.limits` checks the estimate.
"""

from __future__ import annotations

from typing import Optional

#: seeds of torch's and Python's generators: [0, 2**32 - 1] (numpy's range too; a recipe
#: derives further seeds from it, which stay below torch's 2**64 limit)
MAX_SEED = 2**32 - 1
#: hidden units, embedding sizes: twice the largest published LSTM (Jozefowicz et al., 2016:
#: 8192 units); one such layer holds 4 * 16384 * 32768 = 2.1 G weights (8.6 GB in float32)
MAX_UNITS = 16384
#: stacked recurrent layers (GNMT used 8; deeper stacks stop training without residuals)
MAX_LAYERS = 64
#: examples (sequences, windows, names...) per batch
MAX_BATCH = 65536
#: steps of a sequence or a BPTT window
MAX_STEPS = 100_000
#: a generated validation or test set, in sequences
MAX_SET = 1_000_000
#: word counts and frequency thresholds
MAX_COUNT = 10**9
#: one input item of a use command: a name's or a word's characters, a sentence's words
#: (the longest surname in the bundled data has 20 letters, the longest UD English sentence 159 words)
MAX_ITEM = 1_000


def check_items(items, what: str, unit: str, size=len) -> None:
    """ValueError naming the first of ``items`` whose ``size`` is over :data:`MAX_ITEM` ``unit``."""
    for number, item in enumerate(items, 1):
        if size(item) > MAX_ITEM:
            shown = (" ".join(item) if isinstance(item, list) else str(item))[:30] + "..."
            raise ValueError(f"{what} {number} ({shown}) has {size(item):,} {unit}; expected at most {MAX_ITEM:,}")


def bound(
    low: Optional[float] = None, high: Optional[float] = None, open_low: bool = False, open_high: bool = False
) -> dict:
    """Field metadata: the value must lie in [low, high] (``(low`` with ``open_low``,
    ``high)`` with ``open_high``).

    Example: ``batch_size: int = field(default=64, metadata=bound(1, MAX_BATCH))``.
    """
    return {"bound": (low, high, open_low, open_high)}


def only_with(option: str, *values) -> dict:
    """Field metadata: the option applies only when ``option`` is one of ``values``
    (``--help`` lists it in its own group; giving it otherwise is an error).

    ``option`` names a field of the same section, or ``section.field`` of another one
    (e.g. ``only_with("model.output", "negative")``)."""
    return {"only_with": (option, values)}


def seed() -> dict:
    """Metadata of a seed field: [0, :data:`MAX_SEED`]."""
    return bound(0, MAX_SEED)


def units(low: int = 1) -> dict:
    """Metadata of a layer or embedding width: [low, :data:`MAX_UNITS`]."""
    return bound(low, MAX_UNITS)


def layers() -> dict:
    """Metadata of a count of stacked layers: [1, :data:`MAX_LAYERS`]."""
    return bound(1, MAX_LAYERS)


def batch() -> dict:
    """Metadata of a batch size: [1, :data:`MAX_BATCH`]."""
    return bound(1, MAX_BATCH)


def dropout() -> dict:
    """Metadata of a dropout probability: [0, 1)."""
    return bound(0, 1, open_high=True)


def parts(limits: tuple) -> tuple:
    """``(low, high, open_low, open_high)`` of a ``bound`` metadata tuple (older ones have three)."""
    low, high, open_low, *rest = limits
    return low, high, open_low, bool(rest and rest[0])


def describe(limits: tuple) -> str:
    """The range as users read it: ``[1, 65536]``, ``(0, 100]``, ``[0, 1)``, ``>= 0``."""
    low, high, open_low, open_high = parts(limits)
    if high is None:
        return f"{'>' if open_low else '>='} {_number(low)}" if low is not None else "any"
    if low is None:
        return f"{'<' if open_high else '<='} {_number(high)}"
    return f"{'(' if open_low else '['}{_number(low)}, {_number(high)}{')' if open_high else ']'}"


def _number(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def outside(value, limits: tuple) -> bool:
    """Whether ``value`` lies outside ``limits``."""
    low, high, open_low, open_high = parts(limits)
    if low is not None and (value <= low if open_low else value < low):
        return True
    return high is not None and (value >= high if open_high else value > high)
