"""The search options of translation (translate and chat): what a use command or a request
may ask of the search, their defaults, ranges and checks.

:class:`SearchOptions` collects them; :data:`MAX_RATIO` and :data:`MAX_SOURCE` are the use
commands' parameters defined here (the others: :mod:`rnnkit.train.ranges`); :data:`RANGES` is
every numeric option's range, checked by :meth:`SearchOptions.check`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from torch import Tensor

from rnnkit.data.token_vocab import Vocab
from rnnkit.decode import check_sampling, forbid, no_repeat_ngram, repetition_penalty
from rnnkit.decode.limits import MAX_STEPS, check_range
from rnnkit.train.params import Param
from rnnkit.train.ranges import BEAM, LENGTH_PENALTY, NO_REPEAT_NGRAM, REPETITION_PENALTY, SEED, TOP_K, TOP_P

#: source tokens of one line: the default (raise it with ``--max-source-tokens``) and the most allowed
MAX_SOURCE_TOKENS, MAX_SOURCE_TOKENS_CAP = 1_000, 10_000
#: output tokens per source token, and the tokens allowed beyond them
MAX_RATIO = Param(
    "max_ratio",
    float,
    2.0,
    f"at most this many output tokens per source token, plus 10, and never more than {MAX_STEPS:,}",
    low=0.0,
    high=10.0,
)
MAX_SOURCE = Param(
    "max_source_tokens",
    int,
    MAX_SOURCE_TOKENS,
    "most tokens of one source line; a longer line is refused (rnnkit serve always applies the default)",
    low=1,
    high=MAX_SOURCE_TOKENS_CAP,
    http=False,
)
#: the range of every numeric search option (the sampling ones: :func:`rnnkit.decode.check_sampling`), in the
#: order they are checked
RANGES = {
    **{p.name: (p.low, p.high) for p in (BEAM, LENGTH_PENALTY, MAX_RATIO)},
    "max_extra": (0, MAX_STEPS),
    **{p.name: (p.low, p.high) for p in (NO_REPEAT_NGRAM, REPETITION_PENALTY)},
    "batch_size": (1, 4096),
    MAX_SOURCE.name: (MAX_SOURCE.low, MAX_SOURCE.high),
}


@dataclass
class SearchOptions:
    """At most ``max_ratio`` * source length + ``max_extra`` tokens (ratio 0: a fixed cap), and never
    more than 10,000 (:data:`~rnnkit.decode.limits.MAX_STEPS`); a source line longer than
    ``max_source_tokens`` tokens is refused. ``beam`` 1 is greedy (or sampling with ``temperature``
    > 0, ``top_k``, ``top_p``, seeded by ``seed``); ``no_repeat_ngram`` n > 0 blocks repeated n-grams,
    ``repetition_penalty`` > 1 discourages emitted tokens and ``no_unk`` never emits ``<unk>``;
    ``attention`` keeps each step's attention in the result (``replace_unk`` needs it). Sentences are
    searched in batches that fit :data:`~rnnkit.decode.limits.MAX_SEARCH_FLOATS`.
    Defaults and ranges: the use commands' parameters (:mod:`rnnkit.train.ranges`, :data:`MAX_RATIO`,
    :data:`MAX_SOURCE`), :data:`RANGES` and :mod:`rnnkit.decode.limits`."""

    beam: int = BEAM.default
    length_penalty: float = LENGTH_PENALTY.default
    max_ratio: float = MAX_RATIO.default
    max_extra: int = 10
    replace_unk: bool = False
    batch_size: int = 64
    temperature: float = 0.0  # greedy unless asked
    top_k: int = TOP_K.default
    top_p: float = TOP_P.default
    seed: Optional[int] = SEED.default
    no_repeat_ngram: int = NO_REPEAT_NGRAM.default
    repetition_penalty: float = REPETITION_PENALTY.default
    no_unk: bool = False
    max_source_tokens: int = MAX_SOURCE.default
    attention: bool = True

    @classmethod
    def of(cls, values, **fixed) -> "SearchOptions":
        """The options a use command's ``values`` (command line or request) name, and ``fixed``."""
        names = [f.name for f in dataclasses.fields(cls) if f.name in values and f.name not in fixed]
        return cls(**{name: values[name] for name in names}, **fixed)

    def constraint(self):
        """The search's ``constrain`` for these options (None without any)."""
        steps = (
            ([no_repeat_ngram(self.no_repeat_ngram)] if self.no_repeat_ngram else [])
            + ([repetition_penalty(self.repetition_penalty)] if self.repetition_penalty != 1.0 else [])
            + ([forbid([Vocab.UNK])] if self.no_unk else [])
        )
        if not steps:
            return None

        def constrain(log_probs: Tensor, history: Tensor) -> Tensor:
            for step in steps:
                log_probs = step(log_probs, history)
            return log_probs

        return constrain

    def check(self) -> None:
        """ValueError naming the first option outside its range (:data:`RANGES`)."""
        if self.temperature and self.beam > 1:
            raise ValueError("--temperature samples one reply; it cannot be combined with --beam > 1")
        check_sampling(self.temperature, self.top_k, self.top_p)
        for name, (low, high) in RANGES.items():
            check_range(
                f"--{name.replace('_', '-')}",
                getattr(self, name),
                low,
                high,
                integer=isinstance(low, int) and isinstance(high, int),
            )
        if self.seed is not None:
            SEED.ensure(self.seed)
