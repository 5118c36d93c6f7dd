"""The recipe contract: what a task declares so that ``rnnkit train/eval/<use>`` work for it.

A recipe module under :mod:`rnnkit.recipes` defines one :class:`Recipe`:

* ``name``, ``summary``: what ``rnnkit list`` shows;
* ``defaults()`` -> config sections, ``presets`` (overrides per preset name) and
  which preset to use on a CPU and on a GPU;
* ``build(sections, resume_meta)`` -> :class:`Built` (model, objective, the
  JSON metadata every checkpoint keeps, optional trainer callbacks);
* ``trained``: the :class:`TrainedModel` subclass a checkpoint loads into;
* ``commands``: the use commands (``sample``, ``predict``...), each a
  :class:`Command` with its parameters (:class:`~rnnkit.train.params.Param`, each
  declared once for the command line and JSON) and its own output, and optionally
  its JSON form for ``rnnkit serve`` (:class:`Serving`: fields in, an object out);
* ``eval_params``: the parameters of ``rnnkit eval`` for this recipe, passed
  as keywords to ``trained.evaluate``;
* ``smoke``: a tiny run the test suite trains and uses (:class:`Smoke`);
* ``outputs``: the names of the files it writes in a run directory besides
  the engine's (``--overwrite`` sets them aside with the run).

The CLI builds every command from these; it knows no recipe by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from torch import nn

from . import config as cfg
from . import loading
from . import meta as untrusted
from .checkpoint import Checkpoint, CheckpointError
from .params import LIST_TYPES, REQUIRED, Arg, Field, Param, Values, check_unique, forms  # noqa: F401 - re-exported

RESERVED = ("train", "eval", "list", "plot", "bench", "serve")


@dataclass(frozen=True)
class Serving:
    """A use command as JSON for ``rnnkit serve``: an object of fields in, an object out.

    The fields are the JSON forms of the command's parameters (:meth:`Command.__post_init__` sets
    them). ``handle(model, values)`` gets every field (types and bounds checked, defaults filled in)
    as :class:`~rnnkit.train.params.Values` and returns a JSON-able dict; it raises ValueError (one
    line, naming the field) on input the model cannot take. ``example`` is a request body, shown by
    ``GET /commands`` and sent by the load test.

    Batching: ``batch`` names a list field whose items are answered independently
    and ``output`` the key of the result holding one entry per item, in order.
    Requests equal in every other field (and for which ``batchable(request)`` is
    true, when given) may then be merged into one ``handle`` call and its
    ``output`` list split back among them; the result's other keys go to each.
    """

    handle: Callable[[Any, Values], dict]
    example: dict = field(default_factory=dict)
    batch: Optional[str] = None
    output: Optional[str] = None
    batchable: Optional[Callable[[dict], bool]] = None
    fields: tuple[Field, ...] = ()

    def with_fields(self, fields: tuple[Field, ...]) -> "Serving":
        """This JSON form with its command's ``fields`` (checked: unique names, a list to batch)."""
        kinds = {f.name: f.type for f in fields}
        if len(kinds) != len(fields):
            raise ValueError(f"serving fields must be unique; got {', '.join(f.name for f in fields)}")
        if self.batch is not None and (kinds.get(self.batch) not in LIST_TYPES or not self.output):
            raise ValueError(f"serving: batch {self.batch!r} must name a list field, with an output key")
        return dataclasses.replace(self, fields=tuple(fields))


@dataclass(frozen=True)
class Command:
    """A use command of a trained model, e.g. ``rnnkit sample RUN ...``.

    ``params``: its parameters, each declared once; the command-line arguments (:attr:`arguments`)
    and the JSON fields of ``serve`` are made from them. ``run(model, values)`` gets their values
    (:class:`~rnnkit.train.params.Values`), does the work and prints the result; it returns the exit
    code. It raises ValueError (one line, naming the culprit) on bad input. ``serve``: its JSON form
    for ``rnnkit serve`` (None: not served over HTTP).
    """

    name: str
    help: str
    params: tuple[Param, ...]
    run: Callable[[Any, Values], int]
    serve: Optional[Serving] = None

    def __post_init__(self) -> None:
        check_unique(self.params, f"command {self.name}")
        if self.serve is not None:
            if self.serve.fields:
                raise ValueError(f"command {self.name}: its JSON fields come from its params; declare them there")
            fields = tuple(p.field() for p in forms(self.params, "http"))
            object.__setattr__(self, "serve", self.serve.with_fields(fields))

    @property
    def arguments(self) -> tuple[Arg, ...]:
        """The command-line arguments (argparse), one per parameter with a command-line form."""
        return tuple(p.arg() for p in forms(self.params, "cli"))


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
    """One recipe: its configuration, how to build it, what a trained one can do."""

    name: str
    summary: str
    defaults: Callable[[], cfg.Sections]
    presets: dict[str, dict]
    build: Callable[[cfg.Sections, Optional[dict]], Built]
    trained: type
    commands: tuple[Command, ...]
    eval_params: tuple[Param, ...]
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
            raise ValueError(
                f"recipe {self.name}: command names must be unique and not "
                f"{', '.join(RESERVED)}; got {', '.join(names)}"
            )
        for preset in (self.cpu_preset, self.gpu_preset):
            if preset is not None and preset not in self.presets:
                raise ValueError(
                    f"recipe {self.name}: default preset {preset!r} is not one of "
                    f"{', '.join(self.presets) or 'its (no) presets'}"
                )
        if not issubclass(self.trained, TrainedModel):
            raise ValueError(f"recipe {self.name}: trained must subclass TrainedModel")
        check_unique(self.eval_params, f"recipe {self.name} eval")
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

    @property
    def eval_arguments(self) -> tuple[Arg, ...]:
        """The command-line arguments of ``rnnkit eval RUN`` for this recipe."""
        return tuple(p.arg() for p in forms(self.eval_params, "cli"))

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

    def __init__(self, model: nn.Module, sections: cfg.Sections, meta: dict, path: Optional[Path] = None) -> None:
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
