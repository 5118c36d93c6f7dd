"""Use-command parameters, each declared once: the command-line argument, the JSON field and the value.

A :class:`Param` declares one parameter of a use command (``rnnkit sample RUN --top-k 5``, or
``{"top_k": 5}`` posted to ``rnnkit serve``): its name, type, default, help and, for a number, its
range. From it come the argparse argument (:meth:`Param.arg`), the JSON field whose type and range
:mod:`rnnkit.serve.validate` checks (:meth:`Param.field`), and the typed value the command reads
(:class:`Values`: ``values.top_k`` or ``values["top_k"]``, from either form). Where the two forms
differ, the declaration says so (``cli=`` or ``http=``: a dict of the settings that differ there, or
False when the parameter has no such form), so nothing else can make them drift apart.

A number's range (:class:`~rnnkit.train.forms.Bounded`) is stated in both helps; outside it, the
command line exits 2 with one line naming the option and the range, and the server answers 422
naming the field.

Example::

    TOP_K = Param("top_k", int, 0, "keep the k most likely (0 = off)", low=0, high=MAX_TOP_K)
    NAMES = Param("names", "strings", REQUIRED, "names to classify", positional=True, size=(1, 256),
                  cli={"default": None, "help": "names to classify (default: one per line on stdin)"})
    Command("predict", "top languages of names", (NAMES, TOP_K), run, serve=Serving(handle))
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .forms import LIST_TYPES, REQUIRED, Arg, Bounded, Field, arg

#: the Python types of one value, and how JSON calls them
SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
#: what a form (``cli=`` / ``http=``) may set differently from the declaration
FORM_KEYS = ("help", "default", "low", "high", "choices")


@dataclass(frozen=True)
class Param:
    """One parameter of a use command (or of ``rnnkit eval``), declared once for both forms.

    Args:
        name: the value's name: the option's ``dest`` (``top_k`` -> ``--top-k``) and the JSON key.
        type: ``str``, ``int``, ``float``, ``bool`` (a flag; default False) or a list,
            ``"strings"``, ``"numbers"`` or ``"list"`` (texts or files on the command line).
        default: the value when not given; :data:`REQUIRED`: it must be given.
        help: what it means (a number's range is appended; the command line's also the default).
        low, high, open_low: a number's range (every number has one), ``(low`` with ``open_low``.
        choices: the allowed values (empty: any).
        size: ``(min, max)`` length of a string or list in a JSON request (None: no bound).
        check: ``check(value)`` -> an error text or None: what a JSON field's type cannot say.
        positional: an argument (texts, files, words), not an option, on the command line: a list
            takes ``nargs="+"`` when REQUIRED there, else ``"*"``.
        flag: the option's spelling when not ``--name-with-dashes``; ``metavar``: its placeholder.
        cli, http: True; False when the parameter has no such form (a file on the server, a JSON-only
            input); or a dict of :data:`FORM_KEYS` that differ there (e.g. ``http={"high": 20_000}``).
    """

    name: str
    type: Any = str
    default: Any = None
    help: str = ""
    low: Optional[float] = None
    high: Optional[float] = None
    open_low: bool = False
    choices: tuple = ()
    size: tuple = (None, None)
    check: Optional[Callable[[Any], Optional[str]]] = None
    positional: bool = False
    flag: Optional[str] = None
    metavar: Optional[str] = None
    cli: Any = True
    http: Any = True

    def __post_init__(self) -> None:
        where = f"parameter {self.name}"
        if self.type not in SCALARS and self.type not in LIST_TYPES:
            raise ValueError(f"{where}: type {self.type!r} is not str, int, float, bool or one of {LIST_TYPES}")
        for form in (self.cli, self.http):
            if not isinstance(form, bool) and not (isinstance(form, dict) and set(form) <= set(FORM_KEYS)):
                raise ValueError(f"{where}: a form is True, False or a dict of {', '.join(FORM_KEYS)}; got {form!r}")
        numeric = self.type in (int, float)
        for form in (self.cli, self.http):
            view = {
                "low": self.low,
                "high": self.high,
                "default": self.default,
                **(form if isinstance(form, dict) else {}),
            }
            if form is not False and numeric and (None in (view["low"], view["high"]) or view["default"] is REQUIRED):
                raise ValueError(f"{where}: a number needs a range (low and high) and a default")
        if self.type is bool and self.default is not False:
            raise ValueError(f"{where}: a flag's default is False")
        if self.positional and (numeric or self.type is bool):
            raise ValueError(f"{where}: only texts and lists are positional")
        if numeric and (self.check is not None or self.size != (None, None)):
            raise ValueError(f"{where}: a number's range is low and high (size and check are for texts and lists)")

    def form(self, where: str) -> Optional["Param"]:
        """The parameter as the command line (``"cli"``) or a JSON request (``"http"``) has it;
        None when it has no such form."""
        changes = getattr(self, where)
        if changes is False:
            return None
        return dataclasses.replace(self, **(changes if isinstance(changes, dict) else {}), cli=True, http=True)

    def replace(self, **changes) -> "Param":
        """A variant of this declaration (another default, help or range), e.g. for another command."""
        return dataclasses.replace(self, **changes)

    @property
    def bounded(self):
        """A number's range and default as a :class:`~rnnkit.train.forms.Bounded`, which makes both forms."""

        return Bounded(self.name, self.type, self.low, self.high, self.default, self.help, self.open_low)

    def ensure(self, value: Any, name: Optional[str] = None) -> None:
        """ValueError naming the option (or ``name``) when the number ``value`` is outside the range."""
        self.bounded.check(value, name)

    def arg(self) -> Arg:
        """The command-line argument (argparse keywords)."""
        p = self.form("cli")
        if p is None:
            raise ValueError(f"parameter {self.name} has no command-line form")
        text = p.help.replace("%", "%%")
        if p.positional:
            if p.type in LIST_TYPES:
                nargs = {"nargs": "+" if p.default is REQUIRED else "*"}
            else:
                nargs = {} if p.default is REQUIRED else {"nargs": "?", "default": p.default}
            return arg(p.name, **nargs, **({"help": text} if text else {}))
        flag = p.flag or "--" + p.name.replace("_", "-")
        if p.type in (int, float):
            return p.bounded.arg(flag)
        if p.type is bool:
            return arg(flag, dest=p.name, action="store_true", help=text)
        options: dict = {"required": True} if p.default is REQUIRED else {"default": p.default}
        options.update({"action": "append"} if p.type in LIST_TYPES else {})
        options.update({"choices": p.choices} if p.choices else {})
        options.update({"metavar": p.metavar} if p.metavar else {})
        return arg(flag, dest=p.name, help=text, **options)

    def field(self) -> Field:
        """The JSON field of ``rnnkit serve``."""
        p = self.form("http")
        if p is None:
            raise ValueError(f"parameter {self.name} has no JSON form")
        if p.type in (int, float):
            return p.bounded.field()
        return Field(
            p.name,
            SCALARS.get(p.type, p.type),
            p.default,
            p.help,
            minimum=p.size[0],
            maximum=p.size[1],
            choices=p.choices,
            check=p.check,
        )


class Values(dict):
    """The typed values of a command's parameters by name, from the command line or a JSON request
    alike: ``values.top_k`` or ``values["top_k"]`` (a parameter named like a dict method, e.g.
    ``values``, only the latter way)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}; the command has {', '.join(self) or 'none'}") from None

    def of(self, *names: str) -> dict:
        """The values of ``names``, e.g. as keywords of a call."""
        return {name: self[name] for name in names}


def values_of(params, args: argparse.Namespace) -> Values:
    """The values of the command-line forms of ``params`` in parsed ``args``."""
    return Values({p.name: getattr(args, p.name) for p in params if p.cli is not False})


def forms(params, where: str) -> tuple[Param, ...]:
    """The parameters with a ``where`` (``"cli"``, ``"http"``) form, as that form has them."""
    return tuple(view for view in (p.form(where) for p in params) if view is not None)


def check_unique(params, what: str) -> None:
    """ValueError when two of ``params`` share a name in the same form."""
    for where in ("cli", "http"):
        names = [p.name for p in forms(params, where)]
        if len(set(names)) != len(names):
            raise ValueError(f"{what}: parameter names must be unique; got {', '.join(names)} ({where})")
