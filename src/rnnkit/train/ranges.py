"""Numeric options with their ranges, and the use-command parameters several recipes share.

A :class:`Bounded` is a number option in a range: the range of every number
:class:`~rnnkit.train.params.Param` (which makes its command-line option and its JSON field from it),
and on its own an option of commands that are no use commands (``rnnkit analyze``). On the command
line a value outside the range is an argparse error (exit 2, one line naming the option and the
range); in a JSON request to ``rnnkit serve`` the field's ``minimum`` and ``maximum`` make the server
answer 422 with the range. The help of both ends with the range.

The shared parameters below (sampling, search, ``top``, a run's split) are declared here once; a
recipe takes them as they are or as a variant (``TOP.replace(default=3, help="languages per name")``).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from rnnkit.bounds import MAX_SEED
from rnnkit.decode.limits import (
    MAX_BEAM,
    MAX_LENGTH_PENALTY,
    MAX_NGRAM,
    MAX_REPETITION_PENALTY,
    MAX_TEMPERATURE,
    MAX_TOP_K,
    describe_range,
    in_range,
)

from .params import Arg, Field, Param, arg


@dataclass(frozen=True)
class Bounded:
    """A numeric option in ``[low, high]`` (``(low, high]`` with ``open_low``): the range of a number
    :class:`Param`, and on its own an option of a command that is no use command (``rnnkit analyze``).

    Args:
        name: the JSON key and the option's ``dest`` (``top_k`` -> ``--top-k``).
        kind: ``int`` or ``float``.
        low, high: the range, both ends included unless ``open_low``.
        default: the value when not given (None: the command decides).
        help: what it means; the range is appended.
    """

    name: str
    kind: type
    low: float
    high: float
    default: Any
    help: str
    open_low: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (int, float):
            raise ValueError(f"Bounded {self.name}: kind must be int or float, got {self.kind!r}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def expected(self) -> str:
        """The range in words, e.g. ``an integer from 1 to 64``."""
        return describe_range(self.low, self.high, self.kind is int, self.open_low)

    def contains(self, value: Any) -> bool:
        return in_range(value, self.low, self.high, self.kind is int, self.open_low)

    def parse(self, text: str):
        """argparse ``type``: the value, or an ArgumentTypeError naming the range."""
        try:
            value = self.kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {self.expected}, got {text!r}") from None
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"expected {self.expected}, got {text}")
        return value

    def check(self, value: Any, name: Optional[str] = None) -> None:
        """ValueError naming the option (or ``name``) when ``value`` is outside the range."""
        if not self.contains(value):
            raise ValueError(f"{name or self.flag}: expected {self.expected}, got {value!r}")

    def replace(self, **changes) -> "Bounded":
        return dataclasses.replace(self, **changes)

    def arg(self, *flags: str) -> Arg:
        """The command-line option (``flags`` default to ``--name-with-dashes``); its help ends with the
        range and the default."""
        default = "" if self.default is None else f"; default {_shown(self.default)}"
        help = f"{self.help}; {self.expected}{default}".replace("%", "%%")
        return arg(
            *(flags or (self.flag,)),
            dest=self.name,
            type=self.parse,
            default=self.default,
            help=help,
            metavar="N" if self.kind is int else "X",
        )

    def field(self) -> Field:
        """The JSON field (``minimum``/``maximum``; an open low end is checked too); its help ends with the range."""
        check = None
        if self.open_low:

            def check(value, low=self.low, expected=self.expected):
                return None if value > low else f"expected {expected}, got {value!r}"

        return Field(
            self.name,
            "integer" if self.kind is int else "number",
            self.default,
            f"{self.help}; {self.expected}",
            minimum=self.low,
            maximum=self.high,
            check=check,
        )


def bounded_of(argument: Arg) -> Optional[Bounded]:
    """The :class:`Bounded` behind a command-line option made by :meth:`Bounded.arg` (else None)."""
    owner = getattr(argument.options.get("type"), "__self__", None)
    return owner if isinstance(owner, Bounded) else None


def _shown(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


#: the sampling parameters of every sampling command (see :mod:`rnnkit.decode.limits`)
TEMPERATURE = Param(
    "temperature",
    float,
    1.0,
    "0 = greedy (a tiny one, down to 1e-300, acts as greedy; a large one draws almost uniformly)",
    low=0.0,
    high=MAX_TEMPERATURE,
)
TOP_K = Param("top_k", int, 0, "keep the k most likely (0 = off)", low=0, high=MAX_TOP_K)
TOP_P = Param(
    "top_p",
    float,
    1.0,
    "nucleus mass (1 = off; the most likely token is always kept)",
    low=0.0,
    high=1.0,
    open_low=True,
)
SEED = Param(
    "seed",
    int,
    None,
    "seed for a repeatable answer (null: random)",
    low=0,
    high=MAX_SEED,
    cli={"help": "seed for repeatable samples"},
)


def sampling_params(temperature: float = TEMPERATURE.default, seed_help: Optional[str] = None) -> tuple[Param, ...]:
    """``temperature``, ``top_k``, ``top_p`` and ``seed`` (with this default temperature, and this help
    of ``--seed`` on the command line)."""
    seed = SEED if seed_help is None else SEED.replace(cli={"help": seed_help})
    return TEMPERATURE.replace(default=temperature), TOP_K, TOP_P, seed


#: the search parameters of translate and chat (see :class:`rnnkit.families.seq2seq.translator.SearchOptions`)
BEAM = Param("beam", int, 1, "beam width (1 = greedy)", low=1, high=MAX_BEAM)
LENGTH_PENALTY = Param(
    "length_penalty",
    float,
    1.0,
    "rank finished beams by score / length ** this (0 = raw log-probability)",
    low=0.0,
    high=MAX_LENGTH_PENALTY,
)
NO_REPEAT_NGRAM = Param(
    "no_repeat_ngram", int, 0, "never repeat an n-gram of this size (0 = off)", low=0, high=MAX_NGRAM
)
REPETITION_PENALTY = Param(
    "repetition_penalty",
    float,
    1.0,
    "divide the probability of used words (1 = off)",
    low=1.0,
    high=MAX_REPETITION_PENALTY,
)

#: how many answers a ranking command shows (languages, neighbours...)
TOP = Param("top", int, 10, "answers shown", low=1, high=1_000)


def split_params(data_dir_help: str, split_note: str = "") -> tuple[Param, ...]:
    """``--split train|valid|test`` (default test) and ``--data-dir``: eval of a run's own splits."""
    return (
        Param(
            "split",
            str,
            "test",
            f"split of the run's data to score {split_note}".strip(),
            choices=("train", "valid", "test"),
        ),
        Param("data_dir", str, None, data_dir_help),
    )
