"""Typed configuration: dataclass sections, overrides with type checks, CLI flags.

A run's configuration is a dict of sections (``{"data": DataConfig(...),
"model": LMConfig(...), "train": TrainConfig(...)}``). Presets and command-line
flags are overrides applied in that order; unknown keys and values of the
wrong type are errors that name the key.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from rnnkit import bounds
from rnnkit.bounds import bound, only_with  # noqa: F401 - the recipes' field metadata

Sections = dict[str, Any]


#: field metadata: the value is a file or folder (made absolute when it names an existing one,
#: so ``--resume`` and ``eval`` work from any directory)
PATH = {"path": True}


def absolute_paths(sections: Sections, overrides: Mapping[str, Mapping[str, Any]]) -> dict:
    """``overrides`` with every :data:`PATH` field that names an existing path made absolute."""
    out = {name: dict(values) for name, values in overrides.items()}
    for name, values in out.items():
        if name not in sections:
            continue
        for item in dataclasses.fields(sections[name]):
            value = values.get(item.name)
            if item.metadata.get("path") and isinstance(value, str) and value and Path(value).exists():
                values[item.name] = str(Path(value).resolve())
    return out


def check_bound(value: Any, limits: tuple, key: str) -> None:
    """ValueError naming ``key`` when ``value`` is outside ``limits`` (see :func:`bound`)."""
    if bounds.outside(value, limits):
        kind = "an integer" if isinstance(value, int) else "a number"
        span = bounds.describe(limits)
        raise ValueError(f"{key}: expected {kind} {'in ' if span[0] in '[(' else ''}{span}, got {value}")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


@functools.cache  # get_type_hints is slow and a class's hints never change
def _field_types(cls) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def coerce(kind: type, value: Any, key: str, typed: bool = False) -> Any:
    """``value`` as type ``kind`` (int, float, str, bool or Optional of one).

    A string is parsed as the number or bool it spells (a flag's text), unless ``typed``
    (a value read from a config file, whose type is its own: ``"16"`` is no integer there).
    """
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        return None if value is None else coerce(args[0], value, key, typed)
    parse = isinstance(value, str) and not typed
    if kind is bool:
        if isinstance(value, bool):
            return value
        if parse and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if parse:
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif parse:
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None:
            if not math.isfinite(number):
                raise ValueError(f"{key}: expected a finite number, got {value!r}")
            return number
    elif kind is str and isinstance(value, str):
        return value
    raise ValueError(f"{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")


def replace(cfg, overrides: Mapping[str, Any], section: str, typed: bool = False):
    """A copy of dataclass ``cfg`` with ``overrides`` applied (type- and range-checked).

    ``typed``: the values come from a config file (see :func:`coerce`); a value out of
    range is then named ``section.key``, not by its flag.
    """
    types = _field_types(type(cfg))
    unknown = sorted(set(overrides) - types.keys())
    if unknown:
        raise ValueError(f"{section}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(types)}")
    values = {k: coerce(types[k], v, f"{section}.{k}", typed) for k, v in overrides.items()}
    limits = {f.name: f.metadata["bound"] for f in dataclasses.fields(cfg) if "bound" in f.metadata}
    for key, value in values.items():
        if key in limits and value is not None:
            check_bound(value, limits[key], f"{section}.{key}" if typed else flag(key))
    return dataclasses.replace(cfg, **values)


def apply(sections: Sections, overrides: Mapping[str, Mapping[str, Any]], typed: bool = False) -> Sections:
    """Apply ``{section: {key: value}}`` to every section; unknown sections are errors.
    ``typed``: as for :func:`replace`."""
    unknown = sorted(set(overrides) - sections.keys())
    if unknown:
        raise ValueError(f"unknown config section(s) {', '.join(unknown)}; expected some of {', '.join(sections)}")
    return {name: replace(cfg, overrides.get(name, {}), name, typed) for name, cfg in sections.items()}


def to_dict(sections: Sections) -> dict[str, dict[str, Any]]:
    """JSON-able ``{section: {key: value}}``."""
    return {name: dataclasses.asdict(cfg) for name, cfg in sections.items()}


#: keys that runs saved before under another name: (section, old key) -> (new key, new value of the old)
RENAMED = {("train", "bf16"): ("precision", lambda old: "auto" if old else "fp32")}


def absent(value: Any) -> dict:
    """Field metadata: a saved configuration without this key predates the option and meant
    ``value`` (e.g. an option added on by default, that older checkpoints were trained without)."""
    return {"absent": value}


def from_dict(defaults: Sections, data: Mapping[str, Mapping[str, Any]]) -> Sections:
    """Sections from a saved dict, checked against the defaults' types (keys of :data:`RENAMED`
    read under their new names; a key missing from a saved section takes its field's :func:`absent`
    value where it has one, else the default)."""
    saved = {name: _renamed(name, values) for name, values in data.items()}
    for name, values in saved.items():
        if name in defaults and isinstance(values, Mapping):
            older = {f.name: f.metadata["absent"] for f in dataclasses.fields(defaults[name]) if "absent" in f.metadata}
            saved[name] = {**{k: v for k, v in older.items() if k not in values}, **values}
    return apply(defaults, saved)


def _renamed(section: str, values: Any) -> Any:
    if not isinstance(values, Mapping):
        return values
    values = dict(values)
    for (where, old), (new, convert) in RENAMED.items():
        if where == section and old in values and new not in values:
            values[new] = convert(values.pop(old))
    return values


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, sections: Sections, helps: Mapping[str, str] = {}) -> None:
    """One flag per field (``hidden_size`` -> ``--hidden-size``), dest ``section.key``.

    Flags default to "not given" so only what the user typed overrides a preset.
    Each help shows the default once and, for numbers, the range.
    """
    for name, cfg in sections.items():
        group = parser.add_argument_group(f"{name} options")
        groups: dict[tuple, Any] = {}
        for item in dataclasses.fields(cfg):
            key, kind = item.name, _field_types(type(cfg))[item.name]
            target = group
            if "only_with" in item.metadata:
                option, values = item.metadata["only_with"]
                title = f"{name} options used only with {_condition(option, values)}"
                target = groups.get((option, values)) or groups.setdefault(
                    (option, values), parser.add_argument_group(title)
                )
            _add_field(target, name, key, kind, getattr(cfg, key), helps.get(key, ""), item.metadata.get("bound"))


def _add_field(group, name: str, key: str, kind: type, default: Any, text: str, limits: tuple | None = None) -> None:
    """One flag of a config field on ``group``."""
    facts = [] if "(default" in text else [f"default {default!r}"]  # a help may say it in words
    facts += [f"range {bounds.describe(limits)}"] if limits else []
    text = f"{text} ({'; '.join(facts)})" if text and facts else text or "; ".join(facts)
    if kind is bool:
        group.add_argument(
            flag(key), dest=f"{name}.{key}", action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=text
        )
    else:
        group.add_argument(
            flag(key),
            dest=f"{name}.{key}",
            default=argparse.SUPPRESS,
            type=_parser(kind, flag(key)),
            metavar=key.upper(),
            help=text,
        )


def _condition(option: str, values: tuple) -> str:
    """``--schedule cosine or linear``; a bool option reads ``--irnn`` / ``--no-irnn``."""
    option = option.rsplit(".", 1)[-1]
    if values and all(isinstance(v, bool) for v in values):
        return flag(option) if values[0] else "--no-" + option.replace("_", "-")
    return f"{flag(option)} {' or '.join(map(str, values))}"


def _setting(sections: Sections, section: str, option: str) -> Any:
    """The value of ``option`` (``field`` of ``section``, or ``other.field``)."""
    where, _, key = option.rpartition(".")
    return getattr(sections[where or section], key)


def check_applies(sections: Sections, given: Mapping[str, Mapping[str, Any]]) -> None:
    """ValueError when the user gave an option that the resolved config does not use,
    e.g. ``--momentum`` with ``--optimizer adam`` (see :func:`only_with`)."""
    for name, keys in given.items():
        cfg = sections[name]
        for item in dataclasses.fields(cfg):
            if item.name in keys and "only_with" in item.metadata:
                option, values = item.metadata["only_with"]
                setting = _setting(sections, name, option)
                if setting not in values:
                    raise ValueError(
                        f"{flag(item.name)} applies only with {_condition(option, values)}; "
                        f"this run uses {_condition(option, (setting,))}"
                    )


def _parser(kind: type, name: str):
    def parse(text: str):
        try:
            return coerce(kind, text, name)
        except ValueError as err:  # argparse names the flag itself
            raise argparse.ArgumentTypeError(str(err).removeprefix(f"{name}: ")) from None

    return parse


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The ``{section: {key: value}}`` the user gave on the command line."""
    out: dict[str, dict[str, Any]] = {}
    for dest, value in vars(args).items():
        if "." in dest:
            section, key = dest.split(".", 1)
            out.setdefault(section, {})[key] = value
    return out
