"""Names-gen recipe, use side: ``sample`` (command line and ``POST /sample``), names in the style of a language."""

from __future__ import annotations

from rnnkit.recipes.namesgen.trained import COUNT, MAX_LENGTH, NameGenerator
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.ranges import sampling_params
from rnnkit.train.recipe import Command, Serving

SAMPLING = sampling_params()


def _sample_names(generator: NameGenerator, values) -> list[str]:
    return generator.sample_names(
        values["category"], start=values["start"], n=values["n"], **values.of(*(p.name for p in SAMPLING))
    )


def _sample(generator: NameGenerator, values) -> int:
    if values.category is None:
        raise ValueError(f"--category is required; expected one of {', '.join(generator.languages)}")
    print("\n".join(_sample_names(generator, values)))
    return 0


def serve_sample(generator: NameGenerator, values) -> dict:
    """``POST /sample``: ``{"category": ..., "names": [...]}``, as ``sample_names`` gives them."""
    return {"category": values["category"], "names": _sample_names(generator, values)}


# not batched: each request draws its names from its own seeded generator, one character at a time
SAMPLE = Command(
    "sample",
    "new names in the style of a language",
    (
        Param(
            "category",
            str,
            REQUIRED,
            "language to generate names in (an unknown one is answered with the list)",
            cli={"default": None, "help": "language to generate names in (required)"},
        ),
        Param(
            "start",
            str,
            "",
            "one name per start letter, e.g. RUS (letters the model saw in training)",
            size=(None, MAX_LENGTH),
            cli={
                "help": f"one name per start letter, e.g. RUS (at most {MAX_LENGTH} letters, "
                "each one the model saw in training)"
            },
        ),
        COUNT,
        *SAMPLING,
    ),
    _sample,
    serve=Serving(serve_sample, example={"category": "Russian", "start": "RUS", "seed": 1}),
)
