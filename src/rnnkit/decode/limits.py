"""The bounds of decoding work, in one place.

Every sampler and search of :mod:`rnnkit.decode` checks its settings against these, so no
caller (the command line, ``rnnkit serve``, the Python API) can ask for unbounded work or for a
setting that breaks the arithmetic; the command-line options and JSON fields state the same
ranges (:mod:`rnnkit.train.ranges`).

=====================  ==================  =====================================================
setting                range               note
=====================  ==================  =====================================================
temperature            0 to 100            0 = greedy; a tiny one (down to 1e-300) acts as greedy
top_k                  0 to 100,000        0 = off
top_p                  (0, 1]              1 = off; the most likely token is always kept
beam                   1 to 64             each step ranks beam x vocabulary candidates
n_best                 1 to beam
length_penalty         0 to 10             score / length ** penalty stays finite
steps                  0 to 10,000         output tokens of one searched sequence
generated              0 to 100,000        ids one :func:`~rnnkit.decode.generate` call yields
no_repeat_ngram        0 to 100            0 = off
repetition_penalty     1 to 100            1 = off
=====================  ==================  =====================================================
"""

from __future__ import annotations

import math
from typing import Optional

from rnnkit import bounds

MAX_TEMPERATURE = 100.0
#: temperatures below this act as it: every token not tied with the best one gets probability 0
TINY_TEMPERATURE = 1e-30
MAX_TOP_K = 100_000
MAX_BEAM = 64
MAX_LENGTH_PENALTY = 10.0
MAX_STEPS = 10_000
MAX_GENERATED = 100_000
MAX_NGRAM = 100
MAX_REPETITION_PENALTY = 100.0


def describe_range(low: float, high: float, integer: bool, open_low: bool = False) -> str:
    """``an integer from 1 to 64``, ``a number from 0 to 10``, ``a number in (0, 1]``."""

    def shown(value: float) -> str:
        return f"{int(value):,}" if integer or float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"

    if integer:
        return f"an integer from {shown(low)} to {shown(high)}"
    if open_low:
        return f"a number in ({shown(low)}, {shown(high)}]"
    return f"a number from {shown(low)} to {shown(high)}"


def in_range(value, low: float, high: float, integer: bool, open_low: bool = False) -> bool:
    """True when ``value`` is a number (an int with ``integer``) in the range; NaN and inf never are."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if integer and not isinstance(value, int):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return not bounds.outside(value, (low, high, open_low))  # one comparison for every range


def check_range(
    name: str, value, low: float, high: float, integer: bool = False, open_low: bool = False, note: Optional[str] = None
) -> None:
    """ValueError ``name: expected <range>, got <value>`` when ``value`` is outside the range."""
    if not in_range(value, low, high, integer, open_low):
        extra = f" ({note})" if note else ""
        raise ValueError(f"{name}: expected {describe_range(low, high, integer, open_low)}{extra}, got {value!r}")


#: floats one batched search may hold (about 1 GB in float32): beam copies of each sentence's
#: encoder memory and, when kept, each step's attention over the source (see :func:`search_floats`)
MAX_SEARCH_FLOATS = 250_000_000


def search_floats(beam: int, source_length: int, steps: int, width: int, attention: bool) -> int:
    """Floats a search of one sentence holds: ``beam`` copies of its memory (``width`` per source
    position) and, with ``attention``, the (steps, source) weights of each beam."""
    return beam * source_length * (width + (steps if attention else 0))


def budget_batches(costs: list[int], batch_size: int, budget: int = MAX_SEARCH_FLOATS) -> list[list[int]]:
    """Consecutive groups of indices of ``costs`` (sorted by cost, ascending) of at most ``batch_size``
    items whose cost, counted as the largest one times the group size (padding), fits ``budget``;
    ValueError naming the first item that cannot fit alone."""
    groups: list[list[int]] = []
    for index, cost in enumerate(costs):
        if cost > budget:
            raise ValueError(
                f"item {index}: needs about {cost * 4 / 1e9:.1f} GB, over the "
                f"{budget * 4 / 1e9:.1f} GB a search may hold"
            )
        if groups and len(groups[-1]) < batch_size and cost * (len(groups[-1]) + 1) <= budget:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups
