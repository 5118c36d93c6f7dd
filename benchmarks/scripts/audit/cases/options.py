"""Train options set to absurd values: each recipe's own numeric options (``train-option``)
and the engine's, shared by every recipe (``engine-option``, on the cheapest recipes).

A value is either refused with one line naming the option and its range, or accepted
and the run ends, bounded, with exit 0. Every case starts from the recipe's smoke run,
so an accepted value trains for a few steps only.
"""

from __future__ import annotations

from ..core import Case
from .common import HUGE_FLOAT, HUGE_INT, finite_output, flag, registry, smoke_train

#: values tried on every recipe-specific option
RECIPE_VALUES = {int: ("-1", HUGE_INT), float: ("-1", HUGE_FLOAT)}
#: values tried on every engine option (on ``adding``); fewer on ``charlm``
ENGINE_VALUES = {int: ("-1", "0", HUGE_INT, str(2**64), "x"), float: ("-1", "0", HUGE_FLOAT, "nan", "1e-320")}
ENGINE_OTHER = {int: (HUGE_INT,), float: (HUGE_FLOAT,)}
#: options that set how long training runs: their cases also get --max-minutes 0.1
LENGTHS = ("max_steps", "max_epochs")


def _enabling(only_with, sections) -> dict:
    """The option that makes an ``only_with`` option apply (e.g. ``--optimizer sgd`` for ``--momentum``)."""
    if not only_with:
        return {}
    option, values = only_with
    for section in sections.values():
        if hasattr(section, option) and getattr(section, option) in values:
            return {}
    return {flag(option): values[0]}


def cases() -> list[Case]:
    found = []
    for recipe, info in registry().items():
        for section, key, kind, only_with in info["numeric"]:
            if section == "train":
                continue
            for value in RECIPE_VALUES[kind]:
                override = {**_enabling(only_with, info["sections"]), flag(key): value}
                found.append(
                    Case(
                        f"train-option/{recipe}/{key}={value}",
                        "train-option",
                        smoke_train(recipe, **override),
                        check=finite_output,
                        timeout=60,
                        note=f"{section}.{key} ({kind.__name__})",
                    )
                )
    for recipe, values in (("adding", ENGINE_VALUES), ("charlm", ENGINE_OTHER)):
        info = registry()[recipe]
        for section, key, kind, only_with in info["numeric"]:
            if section != "train":
                continue
            for value in values[kind]:
                override = {**_enabling(only_with, info["sections"]), flag(key): value}
                if key in LENGTHS:  # a long run is what was asked for: bound it by time, as a user would
                    override["--max-minutes"] = "0.1"
                found.append(
                    Case(
                        f"engine-option/{recipe}/{key}={value}",
                        "engine-option",
                        smoke_train(recipe, **override),
                        check=finite_output,
                        timeout=60,
                        note=f"train.{key} ({kind.__name__})",
                    )
                )
    return found
