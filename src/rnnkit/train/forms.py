"""The two forms of a use-command parameter, and a number's range.

:class:`Arg` is one command-line argument (argparse keywords), :class:`Field` one JSON field of a
served command (checked by :mod:`rnnkit.serve.validate`); a :class:`~rnnkit.train.params.Param`
makes both. :class:`Bounded` is a number option in a range: the range of every number ``Param``, and
on its own an option of commands that are no use commands (``rnnkit analyze``). On the command line a
value outside the range is an argparse error (exit 2, one line naming the option and the range); in a
JSON request the field's ``minimum`` and ``maximum`` make the server answer 422 with the range. The
help of both ends with the range.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from rnnkit.decode.limits import describe_range, in_range


@dataclass(frozen=True)
class Arg:
    """One command-line argument: ``flags`` and ``argparse.add_argument`` keywords."""

    flags: tuple[str, ...]
    options: dict = field(default_factory=dict)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.flags, **self.options)


def arg(*flags: str, **options) -> Arg:
    return Arg(tuple(flags), options)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: the ``default`` of a parameter (or field) that must be given
REQUIRED: Any = _Required()
#: JSON field types: one value, or a list (``strings``, ``numbers``; ``list``: items checked by ``check``)
FIELD_TYPES = ("string", "integer", "number", "boolean", "strings", "numbers", "list")
LIST_TYPES = ("strings", "numbers", "list")


@dataclass(frozen=True)
class Field:
    """One JSON field of a served command (``rnnkit serve``), made by :meth:`Param.field`.

    Args:
        name: the JSON key (the parameter's name, e.g. ``top_k``).
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
class Bounded:
    """A numeric option in ``[low, high]`` (``(low, high]`` with ``open_low``): the range of a number
    :class:`Param`, and on its own an option of a command that is no use command (``rnnkit analyze``).

    Args:
        name: the JSON key and the option's ``dest`` (``top_k`` -> ``--top-k``).
        kind: ``int`` or ``float``.
        low, high: the range, both ends included unless ``open_low``.
        default: the value when not given (None: the command decides).
        help: what it means; the range is appended.
    """

    name: str
    kind: type
    low: float
    high: float
    default: Any
    help: str
    open_low: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (int, float):
            raise ValueError(f"Bounded {self.name}: kind must be int or float, got {self.kind!r}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def expected(self) -> str:
        """The range in words, e.g. ``an integer from 1 to 64``."""
        return describe_range(self.low, self.high, self.kind is int, self.open_low)

    def contains(self, value: Any) -> bool:
        return in_range(value, self.low, self.high, self.kind is int, self.open_low)

    def parse(self, text: str):
        """argparse ``type``: the value, or an ArgumentTypeError naming the range."""
        try:
            value = self.kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {self.expected}, got {text!r}") from None
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"expected {self.expected}, got {text}")
        return value

    def check(self, value: Any, name: Optional[str] = None) -> None:
        """ValueError naming the option (or ``name``) when ``value`` is outside the range."""
        if not self.contains(value):
            raise ValueError(f"{name or self.flag}: expected {self.expected}, got {value!r}")

    def replace(self, **changes) -> "Bounded":
        return dataclasses.replace(self, **changes)

    def arg(self, *flags: str) -> Arg:
        """The command-line option (``flags`` default to ``--name-with-dashes``); its help ends with the
        range and the default."""
        default = "" if self.default is None else f"; default {_shown(self.default)}"
        help = f"{self.help}; {self.expected}{default}".replace("%", "%%")
        return arg(
            *(flags or (self.flag,)),
            dest=self.name,
            type=self.parse,
            default=self.default,
            help=help,
            metavar="N" if self.kind is int else "X",
        )

    def field(self) -> Field:
        """The JSON field (``minimum``/``maximum``; an open low end is checked too); its help ends with the range."""
        check = None
        if self.open_low:

            def check(value, low=self.low, expected=self.expected):
                return None if value > low else f"expected {expected}, got {value!r}"

        return Field(
            self.name,
            "integer" if self.kind is int else "number",
            self.default,
            f"{self.help}; {self.expected}",
            minimum=self.low,
            maximum=self.high,
            check=check,
        )


def bounded_of(argument: Arg) -> Optional[Bounded]:
    """The :class:`Bounded` behind a command-line option made by :meth:`Bounded.arg` (else None)."""
    owner = getattr(argument.options.get("type"), "__self__", None)
    return owner if isinstance(owner, Bounded) else None


def _shown(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
