"""``--final-report full|quick|none``: the test report ``rnnkit train`` writes after a finished run.

``--max-minutes`` bounds the training loop and its validations; the recipe's report on the
test split (``report_test.json``, plots) comes after the budget and is not part of it. On a
small machine it can take minutes (translate's beam-5 decoding of the test set, say), so a
time-boxed run can shorten it (``quick``: what each recipe can leave out cheaply, e.g. names
draws no plots and translate decodes greedily only) or leave it out (``none``: make it later
with ``rnnkit eval``). The level is a training option, so it is kept in the run's
``config.json`` and may change on ``--resume``.
"""

from __future__ import annotations

from pathlib import Path

from . import rundir

LEVELS = ("full", "quick", "none")
DEFAULT = "full"
HELP = (
    "the test report after a finished run, which --max-minutes does not bound: full (the recipe's "
    "whole report), quick (names: no plots; translate: greedy decoding only, no beam 5) or none "
    "(nothing: make it later with rnnkit eval RUN)"
)


def check(value: str) -> None:
    """ValueError unless ``value`` is one of :data:`LEVELS`."""
    if value not in LEVELS:
        raise ValueError(f"final_report: expected {', '.join(LEVELS[:-1])} or {LEVELS[-1]}, got {value!r}")


def level(run_dir: str | Path) -> str:
    """The run's ``--final-report`` from its config.json (``full`` for runs made before the option)."""
    try:
        train = rundir.read_config(run_dir).get("train")
    except ValueError:
        return DEFAULT
    value = train.get("final_report", DEFAULT) if isinstance(train, dict) else DEFAULT
    return value if value in LEVELS else DEFAULT


def run(recipe, run_dir: str | Path) -> str:
    """What ``rnnkit train`` prints after a finished run: the recipe's report (its ``report``
    reads :func:`level` for ``quick``), or with ``none`` how to make it later."""
    if level(run_dir) == "none":
        return (
            f"no test report (--final-report none); make it with: rnnkit eval {run_dir} "
            f"(rnnkit eval {run_dir} --help lists its options)"
        )
    return recipe.report(Path(run_dir))
