"""Requests of ``rnnkit serve``: the JSON body read and checked against a command's fields.

Every failure is a :class:`RequestError` with the HTTP status and a message
that names what is wrong: 400 for a body that is not JSON, 422 for JSON that
does not fit the command's :class:`~rnnkit.train.params.Field` list (unknown
fields with the allowed ones, a missing field, a wrong type or a value out of
range, naming the field and what was expected).
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional

from rnnkit.data.inputs import lone_surrogate
from rnnkit.train.params import LIST_TYPES, REQUIRED, Field, Values
from rnnkit.train.recipe import Serving

#: what each field type reads as in messages
EXPECTED = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "strings": "a list of strings",
    "numbers": "a list of numbers",
    "list": "a list",
}


class RequestError(Exception):
    """A request the server answers with ``status`` and ``{"error": message, **details}``."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details

    def body(self) -> dict:
        return {"error": self.message, "status": self.status, **self.details}


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def parse_body(body: bytes) -> dict:
    """The JSON object in ``body`` (an empty body is ``{}``); 400 when it is not JSON, 422 when
    it is JSON but not an object."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as err:
        raise RequestError(400, f"malformed JSON: the body is not UTF-8 ({err.reason} at byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise RequestError(400, f"malformed JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except ValueError as err:  # NaN, Infinity
        raise RequestError(400, f"malformed JSON: {err}") from None
    except RecursionError:
        raise RequestError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise RequestError(422, f"the body must be a JSON object of fields, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    """A JSON value's kind, with a short look at it: ``string 'abc'``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    return "a list" if isinstance(value, list) else "an object"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def expected(spec: Field) -> str:
    """What a field takes, in words: ``an integer >= 1``, ``a list of strings (1 to 256 items)``."""
    text = EXPECTED[spec.type]
    if spec.choices:
        return f"one of {', '.join(json.dumps(c) for c in spec.choices)}"
    low = None if spec.minimum is None else _number(spec.minimum)
    high = None if spec.maximum is None else _number(spec.maximum)
    if spec.type in ("integer", "number"):
        if low is not None and high is not None:
            return f"{text} from {low} to {high}"
        if low is not None:
            return f"{text} >= {low}"
        return f"{text} <= {high}" if high is not None else text
    unit = "items" if spec.type in LIST_TYPES else "characters"
    if low is not None and high is not None:
        return f"{text} of {low} to {high} {unit}"
    if high is not None:
        return f"{text} of at most {high} {unit}"
    return f"{text} of at least {low} {unit}" if low is not None else text


def _type_ok(kind: str, value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return number and math.isfinite(value)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "numbers":
        return isinstance(value, list) and all(_type_ok("number", v) for v in value)
    return isinstance(value, list)


def check_field(spec: Field, value: Any) -> Any:
    """``value`` when it fits ``spec``; else a 422 naming the field and what it expected."""
    if value is None and spec.default is None:
        return None
    fail = RequestError(
        422,
        f"field {spec.name!r}: expected {expected(spec)}, got {_kind(value)}",
        field=spec.name,
        expected=expected(spec),
    )
    if not _type_ok(spec.type, value):
        raise fail
    surrogate = lone_surrogate(value)
    if surrogate is not None:
        raise RequestError(
            422,
            f"field {spec.name!r}: a lone UTF-16 surrogate ({surrogate}) is not text; expected valid Unicode",
            field=spec.name,
            expected=expected(spec),
        )
    if spec.choices and value not in spec.choices:
        raise fail
    size = value if spec.type in ("integer", "number", "boolean") else len(value)
    if (spec.minimum is not None and size < spec.minimum) or (spec.maximum is not None and size > spec.maximum):
        raise fail
    problem: Optional[str] = spec.check(value) if spec.check is not None else None
    if problem:
        raise RequestError(422, f"field {spec.name!r}: {problem}", field=spec.name, expected=expected(spec))
    return value


def validate(command: str, serving: Serving, body: dict) -> Values:
    """Every field of ``serving`` from ``body``: checked, defaults filled in (the values ``handle``
    gets); 422 on the first problem."""
    allowed = [f.name for f in serving.fields]
    unknown = [k for k in body if k not in allowed]
    if unknown:
        raise RequestError(
            422,
            f"unknown field{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)} for {command}; "
            f"allowed: {', '.join(allowed) or 'none'}",
            unknown_fields=unknown,
            allowed_fields=allowed,
        )
    request = Values()
    for spec in serving.fields:
        if spec.name in body:
            request[spec.name] = check_field(spec, body[spec.name])
        elif spec.default is REQUIRED:
            raise RequestError(
                422,
                f"missing field {spec.name!r} for {command}: expected {expected(spec)}",
                field=spec.name,
                expected=expected(spec),
            )
        else:
            request[spec.name] = spec.default
    return request


def describe(command: str, help: str, serving: Serving) -> dict:
    """A command's entry in ``GET /commands``: its fields (type, default, bounds) and an example."""
    fields = {}
    for spec in serving.fields:
        entry = {"type": spec.type, "expected": expected(spec), "help": spec.help}
        if spec.default is REQUIRED:
            entry["required"] = True
        else:
            entry["default"] = spec.default
        fields[spec.name] = entry
    return {
        "path": f"/{command}",
        "method": "POST",
        "help": help,
        "fields": fields,
        "example": serving.example,
        "batched": serving.batch,
    }
