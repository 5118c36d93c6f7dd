"""What the case modules share: the registry read once, argv builders, checks."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from functools import lru_cache
from pathlib import Path
from typing import Optional

from ..core import Outcome, lines
from ..fixtures import FIXTURES

HUGE_INT = str(10**9)
HUGE_FLOAT = "1e308"


@lru_cache(maxsize=None)
def registry() -> dict:
    """recipe name -> {"commands": {name: Command}, "smoke": Smoke, "numeric": [(section, key, kind, only_with)]}."""
    from rnnkit.recipes import recipes
    from rnnkit.train import config as cfg
    from rnnkit.train.runner import resolve_sections

    found = {}
    for recipe in recipes():
        sections = resolve_sections(recipe, recipe.cpu_preset, {})
        numeric = []
        for section, values in sections.items():
            kinds = cfg._field_types(type(values))
            for item in dataclasses.fields(values):
                kind = _number_kind(kinds[item.name])
                if kind is not None:
                    numeric.append((section, item.name, kind, item.metadata.get("only_with")))
        found[recipe.name] = {
            "commands": {c.name: c for c in recipe.commands},
            "smoke": recipe.smoke,
            "numeric": numeric,
            "eval": recipe.eval_arguments,
            "outputs": recipe.outputs,
            "sections": sections,
        }
    return found


def _number_kind(kind) -> Optional[type]:
    if kind in (int, float):
        return kind
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if len(args) == 1 and args[0] in (int, float) else None


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def smoke_train(recipe: str, run: str = "{tmp}/run", **override: str) -> tuple:
    """``train RECIPE`` with its smoke options (``{fixtures}`` -> ``{fx}``), ``override``
    replacing or adding options (``None`` removes one), into ``run``."""
    args = [a.replace("{fixtures}", "{fx}") for a in registry()[recipe]["smoke"].train]
    return ("train", recipe, *replace_options(args, override), "--run-dir", run, "--quiet")


def replace_options(args: list, override: dict) -> list:
    """``args`` with each ``--flag value`` of ``override`` (keys: flags) replaced or appended."""
    args = list(args)
    for key, value in override.items():
        option = key if key.startswith("-") else flag(key)
        if option in args:
            at = args.index(option)
            takes = at + 1 < len(args) and not args[at + 1].startswith("--")
            del args[at : at + (2 if takes else 1)]
        if value is not None:
            args += [option] if value is True else [option, str(value)]
    return args


def smoke_use(recipe: str, command: str) -> list:
    return [a.replace("{fixtures}", "{fx}") for a in registry()[recipe]["smoke"].uses[command]]


def first_command(recipe: str) -> str:
    commands = [c for c in registry()[recipe]["commands"] if c not in ("export",)]
    return commands[0] if commands else "eval"


def use(recipe: str, command: Optional[str] = None, *extra: str, run: Optional[str] = None) -> tuple:
    """``COMMAND {run:RECIPE} SMOKE-ARGS EXTRA`` (command: the recipe's first use command)."""
    command = command or first_command(recipe)
    return (command, run or f"{{run:{recipe}}}", *smoke_use(recipe, command), *extra)


def option_kind(arg) -> Optional[type]:
    """int/float for a use-command option that takes a number, else None."""
    kind = arg.options.get("type")
    if kind is None or arg.options.get("action"):
        return None
    declared = getattr(getattr(kind, "__self__", None), "kind", None)  # e.g. a Bounded(kind=int).parse
    if declared in (int, float):
        return declared
    name = getattr(kind, "__name__", "")
    if kind is int or "int" in name or name in ("_positive",):
        return int
    if kind is float or "float" in name or name in ("_tolerance",):
        return float
    for text in ("1", "10", "0.5", "100"):  # an unknown parser: what it makes of numbers
        try:
            value = kind(text)
        except Exception:  # noqa: BLE001 - out of its range, or not a number parser
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return type(value)
    return None


# --- checks -------------------------------------------------------------------------------


def nonempty_output(outcome: Outcome) -> Optional[str]:
    """Success prints something, or says on stderr why it printed nothing (a model may answer
    an all-unknown line with an empty translation)."""
    if outcome.exit == 0 and not outcome.out.strip() and not outcome.err.strip():
        return "exit 0 with empty output and no note"
    return None


def finite_output(outcome: Outcome) -> Optional[str]:
    """No nan/inf printed on success."""
    if outcome.exit == 0 and re.search(r"(?i)(?<![a-z])(nan|[-+]?inf(inity)?)(?![a-z])", outcome.out):
        return f"exit 0 but the output holds nan/inf: {first_match(outcome.out)}"
    return None


def first_match(text: str) -> str:
    for line in text.splitlines():
        if re.search(r"(?i)(?<![a-z])(nan|inf)(?![a-z])", line):
            return line[:150]
    return ""


def no_empty_lines_of_output(outcome: Outcome) -> Optional[str]:
    """A translation per input: none empty on success."""
    if outcome.exit != 0:
        return None
    found = outcome.out.splitlines()
    if not found or any(not line.strip() for line in found):
        return "exit 0 but an empty translation was printed"
    return None


def all_of(*checks):
    def check(outcome: Outcome) -> Optional[str]:
        for one in checks:
            problem = one(outcome)
            if problem:
                return problem
        return None

    check.__name__ = "+".join(c.__name__ for c in checks)
    return check


def warns_or_refuses(outcome: Outcome) -> Optional[str]:
    """Silent acceptance is wrong: exit 2, or a warning/note on stderr."""
    if outcome.exit == 0 and not re.search(r"(?im)^(warning|note)\b|warning:|note:", outcome.err):
        return "accepted silently (exit 0, no warning)"
    return None


def json_file(path: Path):
    return json.loads(Path(path).read_text())


def metrics_consistent(run: Path) -> Optional[str]:
    """metrics.jsonl of ``run``: per split, steps strictly increasing (no duplicates, no going back)."""
    path = Path(run) / "metrics.jsonl"
    if not path.exists():
        return None
    last: dict = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        split, step = record.get("split"), record.get("step")
        if split in last and step is not None and step <= last[split]:
            return f"metrics.jsonl line {number}: {split} step {step} after step {last[split]} (two writers)"
        last[split] = step
    return None


def one_writer(run_of):
    """A check of concurrent writers to one run: exactly one exits 0, the others exit 2
    naming why, and the run's metrics are one run's."""

    def check(outcome: Outcome) -> Optional[str]:
        exits = [outcome.exit] + [r.exit for r in outcome.others]
        if exits.count(0) != 1 or any(e not in (0, 2) for e in exits):
            return f"exits {exits}: expected one writer (exit 0) and the others refused (exit 2)"
        return metrics_consistent(Path(outcome.env.expand(run_of)))

    check.__name__ = "one_writer"
    return check


def finite_numbers(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    return True


def stdout_lines(outcome: Outcome) -> list:
    return lines(outcome.out)


FX = FIXTURES
