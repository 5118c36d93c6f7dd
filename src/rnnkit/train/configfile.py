"""Config files: ``rnnkit train [RECIPE] --config FILE``, in TOML or JSON.

A config file has the keys of a run directory's ``config.json``, which is one (so
``rnnkit train --config runs/x/config.json`` repeats run x): ``task`` (the recipe; then
the command line may leave its name out), ``preset``, and one table per section of the
recipe's options (``data``, ``model``, ``train``), any of them optional::

    task = "charlm"
    preset = "cpu-quick"

    [model]
    hidden_size = 256

    [train]
    lr = 3e-3
    max_steps = 2000

A new run's options resolve as: the recipe's defaults <- the preset (``--preset``, else
the file's, else the recipe's default for the device) <- the file <- the flags given
beside ``--config``. The file's values pass the type and range checks of their flags;
their types are their own (``hidden_size = "16"`` is a string, refused; an integer
stands for a float). An unknown key, a value of the wrong type, a file that does not
parse: one line naming the file and the key (or line). Options the resolved run does not
use (``momentum`` with ``adam``) are kept without complaint, as ``config.json`` lists
every option; given as flags, they are refused as usual.

Relative paths in a file are relative to the working directory, as those of the flags
are (Joey NMT reads its YAML's paths so; Hydra's ``to_absolute_path`` resolves against
the original working directory); like the flags', a path naming an existing file is
stored absolute in the new run's ``config.json``, so that file repeats the run from
anywhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from . import config as cfg
from .recipe import Recipe

#: the keys of a config file besides the recipe's sections (as ``config.json`` has them)
TOP_KEYS = ("task", "preset")
SUFFIXES = (".toml", ".json")
LIMIT = 2**20  # bytes; a run's config.json is a few KB
HELP = (
    "options from a TOML or JSON file with config.json's sections (a run's own config.json "
    "repeats that run); flags given beside it override it; relative paths are relative to "
    "the working directory"
)


@dataclass(frozen=True)
class ConfigFile:
    """A config file's recipe (``task``), ``preset`` and section values, checked."""

    path: Optional[Path] = None
    task: Optional[str] = None
    preset: Optional[str] = None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


def read(path: str | Path) -> dict[str, Any]:
    """The table in the TOML or JSON file ``path`` (by its suffix), unchecked.

    Raises:
        ValueError: one line naming the file: missing, unreadable, too large, not UTF-8,
            not parsable (with the line), or not a table.
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"--config {path}: expected a .toml or .json file")
    text = _text(path)
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as err:  # its message names the line and column
        raise ValueError(f"{path}: not valid TOML: {err}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}, line {err.lineno}: not valid JSON: {err.msg}") from None
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply to be a config file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table of sections, got {type(data).__name__}")
    return data


def _text(path: Path) -> str:
    """The UTF-8 text of ``path`` (size checked before reading)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"--config {path}: not a regular file")
        if info.st_size > LIMIT:
            raise ValueError(f"--config {path}: {info.st_size:,} bytes, over the limit of {LIMIT:,}")
        with open(path, "rb") as handle:
            return handle.read(LIMIT + 1).decode("utf-8")
    except FileNotFoundError:
        raise ValueError(f"--config {path}: no such file") from None
    except OSError as err:
        raise ValueError(f"--config {path}: cannot read it: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None


def _name(data: Mapping[str, Any], key: str, path: Path) -> Optional[str]:
    """The string under top-level ``key`` (None when absent or null)."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{path}: {key}: expected a string, got {value!r}")
    return value


def load(path: str | Path, recipe: Recipe) -> ConfigFile:
    """The config file ``path`` for a run of ``recipe``, checked against its options.

    Raises:
        ValueError: as :func:`read`; or the file names another recipe or an unknown
            preset, has an unknown key or section, or a value of the wrong type or out of
            range (naming the file and the key).
    """
    path = Path(path)
    data = read(path)
    task, preset = _name(data, "task", path), _name(data, "preset", path)
    if task is not None and task != recipe.name:
        raise ValueError(
            f"{path} is a config of recipe {task!r}, but the command line names "
            f"{recipe.name!r}; leave the name out to train {task!r}"
        )
    if preset is not None and preset not in recipe.presets:
        raise ValueError(
            f"{path}: preset: expected one of {', '.join(recipe.presets) or 'none'} "
            f"({recipe.name} presets), got {preset!r}"
        )
    defaults = recipe.defaults()
    values = _sections(data, defaults, path)
    try:
        cfg.apply(defaults, values, typed=True)  # the types and ranges of the flags
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return ConfigFile(path, task, preset, cfg.absolute_paths(defaults, values))


def _sections(data: Mapping[str, Any], defaults: cfg.Sections, path: Path) -> dict[str, dict]:
    """The section tables of ``data``; ValueError naming an unknown key or a non-table."""
    values = {}
    for key, value in data.items():
        if key in TOP_KEYS:
            continue
        if key not in defaults:
            raise ValueError(
                f"{path}: unknown key {key!r}; expected {', '.join(TOP_KEYS)} or the sections {', '.join(defaults)}"
            )
        if not isinstance(value, dict):
            raise ValueError(f"{path}: {key}: expected a table of {key} options, got {value!r}")
        names = [item.name for item in dataclasses.fields(defaults[key])]
        for name in value:
            if name not in names:
                raise ValueError(f"{path}: unknown key {key}.{name}; {_hint(key, name, names)}")
        values[key] = dict(value)
    return values


def _hint(section: str, name: str, names: list[str]) -> str:
    """``did you mean model.hidden_size?``, or the section's keys."""
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean {section}.{close[0]}?" if close else f"the {section} section has {', '.join(names)}"


def merge(below: Mapping[str, Mapping], above: Mapping[str, Mapping]) -> dict[str, dict]:
    """``{section: {key: value}}`` of both, ``above``'s winning."""
    return {name: {**below.get(name, {}), **above.get(name, {})} for name in {*below, *above}}


def resolve(
    recipe: Recipe, preset: Optional[str], flags: dict, path: Optional[str | Path] = None
) -> tuple[cfg.Sections, Optional[str]]:
    """The sections and preset of a new run: defaults <- preset <- config file <- flags.

    ``preset``: the one given on the command line (None: the file's, else the recipe's
    default for the device). Only ``flags`` must apply to the resolved run
    (:func:`rnnkit.train.config.check_applies`).
    """
    from .runner import resolve_sections  # here: runner is the heavier module

    file = load(path, recipe) if path is not None else ConfigFile()
    given = merge(file.values, flags)
    device = given.get("train", {}).get("device", "auto")
    preset = preset or file.preset or recipe.default_preset(device)
    sections = resolve_sections(recipe, preset, given)
    cfg.check_applies(sections, flags)
    return sections, preset


def name_recipe(argv: list[str], known: Iterable[str]) -> list[str]:
    """``train --config FILE ...`` without a recipe: ``train RECIPE --config FILE ...``
    with the recipe the file names; any other command line comes back as it is.

    Raises:
        ValueError: the file cannot be read (:func:`read`) or names no known recipe.
    """
    known = list(known)
    rest = argv[1:]
    if argv[:1] != ["train"] or not rest or not rest[0].startswith("-") or rest[0] in ("-h", "--help"):
        return argv
    if rest[-1] == "--config":
        raise ValueError("--config: expected a file, TOML or JSON (a run's config.json repeats the run)")
    path = _config_argument(rest)
    if path is None:
        return argv
    task = _name(read(path), "task", Path(path))
    if task is None:
        raise ValueError(f'{path} names no recipe (no "task" key); name it: rnnkit train RECIPE --config {path}')
    if task not in known:
        raise ValueError(f"{path}: task: {task!r} is no rnnkit recipe; expected one of {', '.join(known)}")
    return ["train", task, *rest]


def _config_argument(args: list[str]) -> Optional[str]:
    """The value of ``--config FILE`` or ``--config=FILE`` in ``args`` (the last one)."""
    found = None
    for number, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--config" and number + 1 < len(args):
            found = args[number + 1]
        elif arg.startswith("--config="):
            found = arg.split("=", 1)[1]
    return found
