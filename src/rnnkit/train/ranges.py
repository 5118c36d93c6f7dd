"""The use-command parameters several recipes share (ranges: :class:`~rnnkit.train.forms.Bounded`).

The shared parameters below (sampling, search, ``top``, a run's split) are declared here once; a
recipe takes them as they are or as a variant (``TOP.replace(default=3, help="languages per name")``).
"""

from __future__ import annotations

from typing import Optional

from rnnkit.bounds import MAX_SEED
from rnnkit.decode.limits import (
    MAX_BEAM,
    MAX_LENGTH_PENALTY,
    MAX_NGRAM,
    MAX_REPETITION_PENALTY,
    MAX_TEMPERATURE,
    MAX_TOP_K,
)

from .params import Param

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


#: the search parameters of translate and chat (see :class:`rnnkit.families.seq2seq.search.SearchOptions`)
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
