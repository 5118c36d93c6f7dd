"""Issue 29, point 5: every use-command parameter is declared once (a :class:`Param`), and its
command-line option, its JSON field and the value the command reads are made from that one
declaration; one function loads a checkpoint into its recipe's trained model, and the CLI, the
server and the recipes' reports all go through it."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

import rnnkit
import rnnkit.recipes as registry
from rnnkit.cli import _use_parser, main
from rnnkit.recipes import recipes
from rnnkit.serve.validate import validate
from rnnkit.train.forms import bounded_of
from rnnkit.train.params import FORM_KEYS, LIST_TYPES, REQUIRED, Param, forms, values_of
from rnnkit.train.recipe import Command, Serving

SRC = Path(rnnkit.__file__).parent


def _commands():
    """(recipe, verb, params, Command or None) of every use command and ``eval``."""
    for found in recipes():
        for command in found.commands:
            yield found.name, command.name, command.params, command
        yield found.name, "eval", found.eval_params, None


CASES = list(_commands())
IDS = [f"{name}-{verb}" for name, verb, _, _ in CASES]


def _overridden(param: Param) -> set[str]:
    """What the declaration lets differ between its two forms."""
    return {key for form in (param.cli, param.http) if isinstance(form, dict) for key in form}


@pytest.mark.parametrize("name, verb, params, command", CASES, ids=IDS)
def test_the_command_line_and_the_json_form_come_from_the_same_declarations(name, verb, params, command):
    arguments = command.arguments if command else recipe_of(name).eval_arguments
    by_dest = {a.options.get("dest", a.flags[0]): a for a in arguments}
    assert list(by_dest) == [p.name for p in forms(params, "cli")], "one argument per parameter, in order"
    if command is None or command.serve is None:
        return
    fields = {f.name: f for f in command.serve.fields}
    made = tuple(p.field() for p in forms(params, "http"))  # nothing else makes a field
    assert [_plain(f) for f in command.serve.fields] == [_plain(f) for f in made]
    for param in params:
        if param.name not in by_dest or param.name not in fields:
            continue
        argument, field, free = by_dest[param.name], fields[param.name], _overridden(param)
        bounded = bounded_of(argument)
        assert (bounded is not None) == (param.type in (int, float)), param.name
        if bounded is not None:  # a number: the same range and default in both forms unless declared otherwise
            if not {"low", "high"} & free:
                assert (bounded.low, bounded.high) == (field.minimum, field.maximum), param.name
            assert bounded.expected in argument.options["help"].replace("%%", "%")
            assert param.form("http").bounded.expected in field.help  # each form states its own range
        if "default" not in free and not param.positional:
            assert argument.options.get("default", False if param.type is bool else None) == field.default
        if "choices" not in free:
            assert tuple(argument.options.get("choices", ())) == tuple(field.choices), param.name


def _plain(field):
    """A field without its check function (made anew each time), but whether it has one."""
    return dataclasses.replace(field, check=field.check is not None)


def recipe_of(name):
    return registry.recipe(name)


@pytest.mark.parametrize(
    "name, verb, params, command",
    [c for c in CASES if c[3] and c[3].serve],
    ids=[i for i, c in zip(IDS, CASES) if c[3] and c[3].serve],
)
def test_a_command_reads_the_same_values_from_its_defaults_on_the_command_line_and_over_http(
    name, verb, params, command
):
    """With nothing but the required inputs, the command line and a request give the command the same
    value of every parameter both forms have (unless the declaration says they differ)."""
    given = {p.name: command.serve.example[p.name] for p in forms(params, "http") if p.default is REQUIRED}
    texts = ["x" for p in forms(params, "cli") if p.positional and (p.type not in LIST_TYPES or p.default is REQUIRED)]
    cli = values_of(params, _use_parser(verb, recipe_of(name)).parse_intermixed_args(["RUN", *texts]))
    http = validate(verb, command.serve, given)
    both = [p for p in params if p.cli is not False and p.http is not False]
    assert both, "a served command shares its parameters with the command line"
    for param in both:
        if "default" not in _overridden(param) and param.default is not REQUIRED:
            assert cli[param.name] == http[param.name], param.name
            assert cli.get(param.name) == getattr(cli, param.name)  # values.name and values["name"]


def test_no_module_builds_an_option_or_a_field_of_a_use_command_but_from_a_declaration():
    """Recipes, objectives, families and export declare Params; argparse options, JSON fields and
    ranges are made only in rnnkit.train.params and rnnkit.train.ranges."""
    pattern = re.compile(r"\b(arg|Arg|Field|Bounded)\(|\.(arg|field)\(\)|add_argument\(|\bServing\(\(")
    found = []
    for folder in ("recipes", "objectives", "families", "export"):
        for path in sorted((SRC / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_a_parameter_declared_twice_or_a_field_given_beside_the_params_is_refused():
    top = Param("top", int, 3, "answers", low=1, high=10)
    with pytest.raises(ValueError, match="parameter names must be unique"):
        Command("x", "x", (top, top.replace(default=4)), lambda model, values: 0)
    with pytest.raises(ValueError, match="its JSON fields come from its params"):
        Command("x", "x", (top,), lambda model, values: 0, serve=Serving(lambda m, v: {}, fields=(top.field(),)))
    # one name in each form only is fine (e.g. image files on the command line, their pixels over HTTP)
    Command("x", "x", (top.replace(http=False), top.replace(cli=False, default=5)), lambda model, values: 0)


def test_a_declaration_makes_both_forms_and_states_what_differs():
    length = Param(
        "length",
        int,
        50,
        "words to generate",
        low=0,
        high=100_000,
        http={"high": 5_000},
        cli={"help": "words to generate (streamed)"},
    )
    argument, field = length.arg(), length.field()
    assert argument.flags == ("--length",) and argument.options["dest"] == field.name == "length"
    assert argument.options["default"] == field.default == 50
    assert bounded_of(argument).high == 100_000 and field.maximum == 5_000 and field.minimum == 0
    assert argument.options["help"] == "words to generate (streamed); an integer from 0 to 100,000; default 50"
    assert field.help == "words to generate; an integer from 0 to 5,000"
    names = Param("names", "strings", REQUIRED, "names", positional=True, size=(1, 256), cli={"default": None})
    assert names.arg().flags == ("names",) and names.arg().options["nargs"] == "*"
    assert names.replace(cli=True).arg().options["nargs"] == "+"
    assert (names.field().minimum, names.field().maximum, names.field().default) == (1, 256, REQUIRED)
    flag = Param("skip_unknown", bool, False, "drop them")
    assert flag.arg().options == {"dest": "skip_unknown", "action": "store_true", "help": "drop them"}
    assert flag.field().type == "boolean" and flag.field().default is False
    parser = argparse.ArgumentParser()
    for param in (length, names, flag):
        param.arg().add_to(parser)
    values = values_of((length, names, flag), parser.parse_args(["a", "--length", "7"]))
    assert values == {"length": 7, "names": ["a"], "skip_unknown": False} and values.length == 7


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(type=int), "a number needs a range"),
        (dict(type=float, low=0.0, high=1.0, http={"high": None}), "a number needs a range"),
        (dict(type=bool, default=True), "a flag's default is False"),
        (dict(type=int, low=0, high=1, default=0, positional=True), "only texts and lists"),
        (dict(cli={"flag": "--other"}), "a form is True, False or a dict of"),
        (dict(type=list), "is not str, int"),
    ],
)
def test_a_declaration_that_cannot_make_both_forms_is_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        Param("x", **bad)
    assert set(FORM_KEYS) == {"help", "default", "low", "high", "choices"}


# ---- one loader: the CLI, the server, the reports and rnnkit.load all read checkpoints through it ----


class Loaded(ValueError):
    """What the spy loader raises instead of reading anything."""


@pytest.fixture
def loads(monkeypatch):
    """The paths ``rnnkit.recipes.read`` was asked for; the spy raises :class:`Loaded` at once."""
    calls = []

    def spy(path, task=None):
        calls.append(Path(path))
        raise Loaded(f"spy loader: {path}")

    monkeypatch.setattr(registry, "read", spy)
    return calls


def test_the_command_line_loads_through_the_one_loader(loads, tmp_path, capsys):
    for verb in ("eval", "sample", "translate", "predict", "export"):
        assert main([verb, str(tmp_path / verb)]) == 2
        assert "spy loader" in capsys.readouterr().err
    assert loads == [tmp_path / v for v in ("eval", "sample", "translate", "predict", "export")]


def test_the_server_and_rnnkit_load_load_through_the_one_loader(loads, tmp_path, capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    assert main(["serve", str(tmp_path / "run"), "--port", "0"]) == 2
    assert "spy loader" in capsys.readouterr().err
    with pytest.raises(Loaded):
        rnnkit.load(tmp_path / "api")
    assert loads == [tmp_path / "run", tmp_path / "api"]


@pytest.mark.parametrize("name", [found.name for found in recipes() if found.report is not None])
def test_every_report_loads_through_the_one_loader(name, loads, tmp_path):
    with pytest.raises(Loaded):
        recipe_of(name).report(tmp_path)
    assert loads == [tmp_path]


def test_no_other_module_reads_a_checkpoint_into_a_trained_model():
    """``from_checkpoint`` is called only by the loader, and the CLI, the server and the recipes
    read no checkpoint file themselves."""
    calls, reads = [], []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        where = str(path.relative_to(SRC))
        if re.search(r"\.from_checkpoint\(", text) and where != "recipes/__init__.py":
            calls.append(where)
        if (
            (where in ("cli.py", "cli_train.py", "__init__.py") or where.startswith(("serve/", "recipes/")))
            and where != "recipes/__init__.py"
            and re.search(r"\b(ckpt|checkpoint)\.load\(", text)
        ):
            reads.append(where)
    assert not calls and not reads, (calls, reads)
