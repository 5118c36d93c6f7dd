"""The recipe contract: what a task declares so that ``rnnkit train/eval/<use>`` work for it.

A recipe module under :mod:`rnnkit.tasks` defines one :class:`Recipe`:

* ``name``, ``summary``: what ``rnnkit list`` shows;
* ``defaults()`` -> config sections, ``presets`` (overrides per preset name) and
  which preset to use on a CPU and on a GPU;
* ``build(sections, resume_meta)`` -> :class:`Built` (model, objective, the
  JSON metadata every checkpoint keeps, optional trainer callbacks);
* ``trained``: the :class:`TrainedModel` subclass a checkpoint loads into;
* ``commands``: the use commands (``sample``, ``predict``...), each a
  :class:`Command` with its own arguments and its own output, and optionally
  its JSON form for ``rnnkit serve`` (:class:`Serving`: fields in, an object out);
* ``eval_arguments``: the options of ``rnnkit eval`` for this recipe, passed
  as keywords to ``trained.evaluate``;
* ``smoke``: a tiny run the test suite trains and uses (:class:`Smoke`);
* ``outputs``: the names of the files it writes in a run directory besides
  the engine's (``--overwrite`` sets them aside with the run).

The CLI builds every command from these; it knows no recipe by name.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from torch import nn

from . import config as cfg
from . import loading, meta as untrusted
from .checkpoint import Checkpoint, CheckpointError

RESERVED = ("train", "eval", "list", "plot", "bench", "serve")


@dataclass(frozen=True)
class Arg:
    """One command-line option: ``flags`` and ``argparse.add_argument`` keywords."""
    flags: tuple[str, ...]
    options: dict = field(default_factory=dict)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.flags, **self.options)


def arg(*flags: str, **options) -> Arg:
    return Arg(tuple(flags), options)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: the ``default`` of a :class:`Field` that must be given
REQUIRED: Any = _Required()
#: JSON field types: one value, or a list (``strings``, ``numbers``; ``list``: items checked by ``check``)
FIELD_TYPES = ("string", "integer", "number", "boolean", "strings", "numbers", "list")
LIST_TYPES = ("strings", "numbers", "list")


@dataclass(frozen=True)
class Field:
    """One JSON field of a served command (``rnnkit serve``).

    Args:
        name: the JSON key (as the command-line option's ``dest``, e.g. ``top_k``).
        type: one of :data:`FIELD_TYPES`.
        default: the value when the field is absent; :data:`REQUIRED` when it must
            be given; ``None`` also lets it be ``null``.
        help: what it means (``GET /commands`` shows it).
        minimum, maximum: bounds of a number, or of the length of a string or a list.
        choices: the allowed values (empty: any).
        check: ``check(value)`` -> an error text, or None when the value is right:
            what the type cannot say (e.g. the items of a ``list``).
    """
    name: str
    type: str
    default: Any = REQUIRED
    help: str = ""
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: tuple = ()
    check: Optional[Callable[[Any], Optional[str]]] = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name}: type {self.type!r} is not one of {', '.join(FIELD_TYPES)}")


@dataclass(frozen=True)
class Serving:
    """A use command as JSON for ``rnnkit serve``: an object of ``fields`` in, an object out.

    ``handle(model, request)`` gets every field (types and bounds checked,
    defaults filled in) and returns a JSON-able dict; it raises ValueError (one
    line, naming the field) on input the model cannot take. ``example`` is a
    request body, shown by ``GET /commands`` and sent by the load test.

    Batching: ``batch`` names a list field whose items are answered independently
    and ``output`` the key of the result holding one entry per item, in order.
    Requests equal in every other field (and for which ``batchable(request)`` is
    true, when given) may then be merged into one ``handle`` call and its
    ``output`` list split back among them; the result's other keys go to each.
    """
    fields: tuple[Field, ...]
    handle: Callable[[Any, dict], dict]
    example: dict = field(default_factory=dict)
    batch: Optional[str] = None
    output: Optional[str] = None
    batchable: Optional[Callable[[dict], bool]] = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"serving fields must be unique; got {', '.join(names)}")
        if self.batch is not None:
            kinds = {f.name: f.type for f in self.fields}
            if kinds.get(self.batch) not in LIST_TYPES or not self.output:
                raise ValueError(f"serving: batch {self.batch!r} must name a list field, with an output key")


@dataclass(frozen=True)
class Command:
    """A use command of a trained model, e.g. ``rnnkit sample RUN ...``.

    ``run(model, args)`` does the work and prints the result; it returns the
    exit code. It raises ValueError (one line, naming the culprit) on bad input.
    ``serve``: its JSON form for ``rnnkit serve`` (None: not served over HTTP).
    """
    name: str
    help: str
    arguments: tuple[Arg, ...]
    run: Callable[[Any, argparse.Namespace], int]
    serve: Optional[Serving] = None


@dataclass(frozen=True)
class Built:
    """What a recipe's ``build`` hands the engine."""
    model: nn.Module
    objective: Any
    meta: dict
    callbacks: tuple = ()


@dataclass(frozen=True)
class Smoke:
    """A run of a few steps on a tiny fixture, for the test suite.

    ``train``: ``rnnkit train <recipe>`` options (``{fixtures}`` becomes the
    tests' fixture folder); ``uses``: arguments
    after ``rnnkit <command> RUN`` for every use command and ``eval``;
    ``expect``: a regular expression each command's output must match.
    """
    train: tuple[str, ...]
    uses: dict[str, tuple[str, ...]]
    expect: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """One task: its configuration, how to build it, what a trained one can do."""
    name: str
    summary: str
    defaults: Callable[[], cfg.Sections]
    presets: dict[str, dict]
    build: Callable[[cfg.Sections, Optional[dict]], Built]
    trained: type
    commands: tuple[Command, ...]
    eval_arguments: tuple[Arg, ...]
    smoke: Smoke
    cpu_preset: Optional[str] = "cpu-quick"
    gpu_preset: Optional[str] = None
    help: dict[str, str] = field(default_factory=dict)
    report: Optional[Callable[[Path], str]] = None  # after a finished run: test figures
    outputs: tuple[str, ...] = ()  # files it writes in a run directory besides the engine's

    def __post_init__(self) -> None:
        names = [c.name for c in self.commands]
        clash = sorted(set(names) & set(RESERVED))
        if clash or len(set(names)) != len(names):
            raise ValueError(f"recipe {self.name}: command names must be unique and not "
                             f"{', '.join(RESERVED)}; got {', '.join(names)}")
        for preset in (self.cpu_preset, self.gpu_preset):
            if preset is not None and preset not in self.presets:
                raise ValueError(f"recipe {self.name}: default preset {preset!r} is not one of "
                                 f"{', '.join(self.presets) or 'its (no) presets'}")
        if not issubclass(self.trained, TrainedModel):
            raise ValueError(f"recipe {self.name}: trained must subclass TrainedModel")
        missing = sorted((set(names) | {"eval"}) - set(self.smoke.uses))
        if missing:
            raise ValueError(f"recipe {self.name}: smoke run does not use {', '.join(missing)}")

    def default_preset(self, device: str) -> Optional[str]:
        """The GPU preset when training would run on a GPU, else the CPU one."""
        from .device import resolve_device
        try:
            on_gpu = resolve_device(device).type != "cpu"
        except ValueError:
            on_gpu = False
        return self.gpu_preset if on_gpu and self.gpu_preset else self.cpu_preset

    def command(self, name: str) -> Command:
        for command in self.commands:
            if command.name == name:
                return command
        offered = ", ".join([c.name for c in self.commands] + ["eval"])
        raise ValueError(f"a {self.name} model has no command {name!r}; it offers {offered}")


class TrainedModel:
    """A trained model loaded from a checkpoint, ready to use.

    Subclasses set ``config_defaults`` (their recipe's sections) and implement
    :meth:`build_model`, :meth:`evaluate` and :meth:`describe`.

    Attributes:
        model: the network, in eval mode.
        sections: the run's resolved config sections.
        meta: the checkpoint's metadata (vocabulary, split, ...).
        path: the checkpoint file.
    """

    @staticmethod
    def config_defaults() -> cfg.Sections:
        raise NotImplementedError

    @classmethod
    def build_model(cls, sections: cfg.Sections, meta: dict) -> nn.Module:
        raise NotImplementedError

    def __init__(self, model: nn.Module, sections: cfg.Sections, meta: dict,
                 path: Optional[Path] = None) -> None:
        self.model, self.sections, self.meta = model.eval(), sections, meta
        self.path = Path(path) if path is not None else None

    #: the metadata fields its model reads besides :data:`meta.COMMON`; nothing else reaches it
    meta_fields: dict = {}

    @classmethod
    def from_checkpoint(cls, state: Checkpoint, device: str = "cpu"):
        """The model of ``state`` on ``device`` (its averaged weights when it kept some), its
        metadata (:mod:`rnnkit.train.meta`) and the shapes it claims (:mod:`rnnkit.train.loading`)
        checked first."""
        fields = {**untrusted.COMMON, **cls.meta_fields}
        untrusted.check(state.meta, fields, state.path)
        try:
            sections = cfg.from_dict(cls.config_defaults(), state.meta["config"])
        except ValueError as err:  # a config value of the wrong type or range
            raise CheckpointError(f"{state.path}: checkpoint config: {err}") from None
        seen = untrusted.Declared(state.meta, fields)  # all the model may read
        with loading.reading(state.path):
            model = loading.build(cls, sections, state, seen)
            model.load_state_dict(state.section("model"))
            inference = loading.inference_section(state.meta)
            if inference:  # e.g. NT-ASGD's average: what evaluation used
                model.load_state_dict(state.section(inference), strict=False)
            return cls(model.to(device), sections, seen, state.path)

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def run_dir(self) -> Optional[Path]:
        return self.path.parent if self.path is not None else None

    def evaluate(self, **options) -> dict:
        """Figures of the model on data named by ``options`` (the recipe's eval arguments)."""
        raise NotImplementedError

    def describe(self, result: dict) -> str:
        """A readable summary of :meth:`evaluate`'s result."""
        raise NotImplementedError


def sampling_arguments(seed_help: str = "seed for repeatable samples", temperature: float = 1.0) -> tuple[Arg, ...]:
    """``--temperature``, ``--top-k``, ``--top-p``, ``--seed``: every sampling command has them
    (ranges: :mod:`rnnkit.train.ranges`)."""
    from .ranges import sampling_options
    return tuple(option.arg() for option in sampling_options(temperature, seed_help))


def sampling_fields(temperature: float = 1.0) -> tuple[Field, ...]:
    """The JSON twins of :func:`sampling_arguments`: ``temperature``, ``top_k``, ``top_p``, ``seed``."""
    from .ranges import sampling_options
    return tuple(option.field() for option in sampling_options(temperature, "seed for a repeatable answer "
                                                                            "(null: random)"))


def split_arguments(data_dir_help: str, split_note: str = "") -> tuple[Arg, ...]:
    """``--split train|valid|test`` (default test) and ``--data-dir``: eval of a run's own splits."""
    return (arg("--split", default="test", choices=("train", "valid", "test"),
                help=f"split of the run's data to score {split_note}".strip()),
            arg("--data-dir", default=None, help=data_dir_help))


def report_on_test(trained: type, **options) -> Callable[[Path], str]:
    """A recipe's ``report``: the best checkpoint's ``evaluate("test", **options)`` written to
    ``report_test.json`` in the run directory, described for the terminal."""
    def report(run_dir: Path) -> str:
        import json

        from rnnkit.files import atomic_write_text

        from .checkpoint import load
        model = trained.from_checkpoint(load(run_dir))
        result = model.evaluate("test", **options)
        atomic_write_text(Path(run_dir) / "report_test.json", json.dumps(result, indent=1) + "\n")
        return model.describe(result)
    report.__doc__ = f"After training: {trained.__name__}.evaluate('test') of the best checkpoint (report_test.json)."
    return report
