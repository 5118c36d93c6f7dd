"""Numeric options of the use commands, with their ranges stated once for both forms.

A :class:`Bounded` declares one option (``--top-k`` on the command line, ``top_k`` in a JSON
request to ``rnnkit serve``): its type, its range and its default. :meth:`Bounded.arg` gives the
command-line option, whose value outside the range is an argparse error (exit 2, one line naming
the option and the range); :meth:`Bounded.field` gives the JSON field, whose ``minimum`` and
``maximum`` make the server answer 422 with the range. The help of both ends with the range.

Example::

    BEAM = Bounded("beam", int, 1, 64, 1, "beam width (1 = greedy)")
    Command("translate", ..., (BEAM.arg(), ...), serve=Serving((BEAM.field(), ...), ...))
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from rnnkit.decode.limits import (MAX_BEAM, MAX_LENGTH_PENALTY, MAX_NGRAM, MAX_REPETITION_PENALTY, MAX_TEMPERATURE,
                                  MAX_TOP_K, describe_range, in_range)

from rnnkit.bounds import MAX_SEED

from .recipe import Arg, Field, arg


@dataclass(frozen=True)
class Bounded:
    """A numeric use-command option in ``[low, high]`` (``(low, high]`` with ``open_low``).

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
        """A copy with other settings (e.g. another default or a smaller ``high`` over HTTP)."""
        return dataclasses.replace(self, **changes)

    def arg(self, *flags: str) -> Arg:
        """The command-line option (``flags`` default to ``--name-with-dashes``)."""
        default = "" if self.default is None else f"; default {_shown(self.default)}"
        help = f"{self.help}; {self.expected}{default}".replace("%", "%%")
        return arg(*(flags or (self.flag,)), dest=self.name, type=self.parse, default=self.default, help=help,
                   metavar="N" if self.kind is int else "X")

    def field(self) -> Field:
        """The JSON field of ``rnnkit serve`` (``minimum``/``maximum``; an open low end is checked too)."""
        check = None
        if self.open_low:
            def check(value, low=self.low, expected=self.expected):
                return None if value > low else f"expected {expected}, got {value!r}"
        return Field(self.name, "integer" if self.kind is int else "number", self.default,
                     f"{self.help}; {self.expected}", minimum=self.low, maximum=self.high, check=check)


def bounded_of(argument: Arg) -> Optional[Bounded]:
    """The :class:`Bounded` behind a command-line option made by :meth:`Bounded.arg` (else None)."""
    kind = argument.options.get("type")
    owner = getattr(kind, "__self__", None)
    return owner if isinstance(owner, Bounded) else None


def _shown(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


#: the sampling options every sampling command has (see :mod:`rnnkit.decode.limits`)
TEMPERATURE = Bounded("temperature", float, 0.0, MAX_TEMPERATURE, 1.0,
                      "0 = greedy (a tiny one, down to 1e-300, acts as greedy; a large one draws almost uniformly)")
TOP_K = Bounded("top_k", int, 0, MAX_TOP_K, 0, "keep the k most likely (0 = off)")
TOP_P = Bounded("top_p", float, 0.0, 1.0, 1.0, "nucleus mass (1 = off; the most likely token is always kept)",
                open_low=True)
SEED = Bounded("seed", int, 0, MAX_SEED, None, "seed for repeatable samples (default: random)")


def sampling_options(temperature: float = 1.0, seed_help: Optional[str] = None) -> tuple[Bounded, ...]:
    """``temperature``, ``top_k``, ``top_p`` and ``seed`` (with this default temperature and seed help)."""
    seed = SEED if seed_help is None else SEED.replace(help=seed_help)
    return TEMPERATURE.replace(default=temperature), TOP_K, TOP_P, seed


#: the search options of translate and chat (see :class:`rnnkit.train.translation.SearchOptions`)
BEAM = Bounded("beam", int, 1, MAX_BEAM, 1, "beam width (1 = greedy)")
LENGTH_PENALTY = Bounded("length_penalty", float, 0.0, MAX_LENGTH_PENALTY, 1.0,
                         "rank finished beams by score / length ** this (0 = raw log-probability)")
NO_REPEAT_NGRAM = Bounded("no_repeat_ngram", int, 0, MAX_NGRAM, 0, "never repeat an n-gram of this size (0 = off)")
REPETITION_PENALTY = Bounded("repetition_penalty", float, 1.0, MAX_REPETITION_PENALTY, 1.0,
                             "divide the probability of used words (1 = off)")

#: how many answers a ranking command shows (languages, neighbours...)
TOP = Bounded("top", int, 1, 1_000, 10, "answers shown")
