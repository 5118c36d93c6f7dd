"""Command-line entry point.

``rnnkit train RECIPE``, ``rnnkit list``, ``rnnkit plot RUN_DIR``, ``rnnkit bench ...``,
``rnnkit analyze ...``, ``rnnkit serve RUN`` (the use commands over HTTP)
and the use commands of trained models: ``rnnkit eval RUN`` for every recipe,
and what each recipe offers (``rnnkit sample RUN``, ``rnnkit predict RUN`` ...).
The commands and their options come from the recipe registry and the
checkpoint's recipe; this module parses and dispatches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Optional, Sequence

from rnnkit import __version__
from rnnkit.cli_train import add_train, train
from rnnkit.files import WriteError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors name the recipe the options were checked against."""

    recipe: Optional[str] = None

    def error(self, message: str):
        if self.recipe:  # a use command: one line, naming the option and what it expects
            self.exit(
                2, f"{self.prog}: error: {message} (options of a {self.recipe} model; see {self.prog} RUN --help)\n"
            )
        super().error(message)


def _use_verbs() -> dict[str, list[str]]:
    """Every use command any recipe offers -> the recipes offering it (eval: all)."""
    from rnnkit.recipes import recipes

    verbs: dict[str, list[str]] = {"eval": []}
    for recipe in recipes():
        verbs["eval"].append(recipe.name)
        for command in recipe.commands:
            verbs.setdefault(command.name, []).append(recipe.name)
    return verbs


def build_parser() -> argparse.ArgumentParser:
    """The ``rnnkit`` argument parser; use commands take their options from the checkpoint's recipe."""
    parser = _Parser(prog="rnnkit", description="rnnkit command-line tools")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train(sub)
    sub.add_parser("list", help="every recipe: summary, presets and use commands")
    for verb, offered in _use_verbs().items():
        what = "score a trained model" if verb == "eval" else f"use a trained model ({verb})"
        use = sub.add_parser(verb, add_help=False, help=f"{what}: {', '.join(offered)}")
        use.add_argument("rest", nargs=argparse.REMAINDER)
    plot = sub.add_parser("plot", help="draw a run's train/validation curves to PNG")
    plot.add_argument("run_dir", help="run directory")
    plot.add_argument("--out", default=None, help="PNG path (default RUN_DIR/curves.png)")
    from rnnkit.bench import add_parsers

    add_parsers(sub)
    from rnnkit.analysis import add_parsers as add_analyses

    add_analyses(sub)
    from rnnkit.serve import add_parser as add_serve

    add_serve(sub)
    from rnnkit.data.commands import add_parser as add_data

    add_data(sub)
    return parser


def _use_parser(verb: str, recipe) -> _Parser:
    """The options of ``rnnkit VERB RUN`` for a model of ``recipe``."""
    parser = _Parser(prog=f"rnnkit {verb}", description=f"{verb} with a {recipe.name} model")
    parser.recipe = recipe.name
    parser.add_argument("checkpoint", help="checkpoint file or run directory (its best checkpoint)")
    if verb == "eval":
        arguments = recipe.eval_arguments
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
    else:
        command = recipe.command(verb)
        parser.description = command.help
        arguments = command.arguments
    for argument in arguments:
        argument.add_to(parser)
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    return parser


def _check_texts(values, params) -> None:
    """ValueError for a text argument (a positional one: the texts a command reads) that is not
    valid UTF-8 (Python keeps such bytes as lone surrogates); paths may hold any bytes."""
    from rnnkit.data.inputs import lone_surrogate

    for param in params:
        if not param.positional or param.cli is False:
            continue
        given = values[param.name]
        for number, value in enumerate(given if isinstance(given, list) else [given], 1):
            if isinstance(value, str) and lone_surrogate(value) is not None:
                raise ValueError(
                    f"{param.name} {number}: not valid UTF-8 text ({value.encode('utf-8', 'replace')[:40]!r})"
                )


def _use(verb: str, rest: list[str]) -> int:
    """``rnnkit VERB CHECKPOINT [options]``: the options are the checkpoint's recipe's."""
    from rnnkit.recipes import read
    from rnnkit.train.params import values_of

    if not rest:  # as argparse answers a missing argument: the usage line, then the error
        print(
            f"usage: rnnkit {verb} CHECKPOINT [options]\nrnnkit {verb}: error: expected the checkpoint "
            f"(file or run directory) first; rnnkit {verb} --help says more",
            file=sys.stderr,
        )
        return 2
    if rest[0] in ("-h", "--help"):
        offered = ", ".join(_use_verbs()[verb])
        print(
            f"usage: rnnkit {verb} CHECKPOINT [options]\n\n{verb} for a model of: {offered}.\n"
            f"The options depend on the checkpoint's recipe: rnnkit {verb} RUN --help lists them."
        )
        return 0
    stored = read(rest[0])  # the recipe first: the options are its
    recipe = stored.recipe
    args = _use_parser(verb, recipe).parse_intermixed_args(rest)  # options before or after the texts
    params = recipe.eval_params if verb == "eval" else recipe.command(verb).params
    values = values_of(params, args)
    _check_texts(values, params)
    model = stored.model(args.device)
    if verb != "eval":
        return recipe.command(verb).run(model, values)
    result = model.evaluate(**values)
    print(json.dumps(result) if args.json else model.describe(result))
    return 0


def _list() -> int:
    from rnnkit.recipes import recipes

    for recipe in recipes():
        presets = ", ".join(recipe.presets) or "none"
        uses = ", ".join([c.name for c in recipe.commands] + ["eval"])
        print(
            f"{recipe.name}: {recipe.summary}\n    presets: {presets} (default on CPU: "
            f"{recipe.cpu_preset or 'none'}{f', on a GPU: {recipe.gpu_preset}' if recipe.gpu_preset else ''})"
            f"\n    use: {uses}"
        )
    return 0


def _dispatch(args) -> int:
    if args.command == "bench":
        from rnnkit.bench import run

        run(args)
    elif args.command == "train":
        return train(args)
    elif args.command == "list":
        return _list()
    elif args.command == "analyze":
        from rnnkit.analysis import run as analyze

        return analyze(args)
    elif args.command == "data":
        from rnnkit.data.commands import run as data

        return data(args)
    elif args.command == "serve":
        from rnnkit.serve import run as serve

        return serve(args)
    elif args.command == "plot":
        from rnnkit.train.plots import plot_run

        print(plot_run(args.run_dir, args.out))
    else:
        return _use(args.command, args.rest)
    return 0


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line are one line each: ``warning: <message>``."""
    return f"warning: {message}\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and dispatch; returns the exit code."""
    warnings.formatwarning = _warning_line
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _use_verbs() and argv[1:2] in ([], ["-h"], ["--help"]):
        return _use(argv[0], argv[1:])  # the verb's own help: options depend on the checkpoint
    if len(argv) > 1 and argv[0] in _use_verbs() and argv[1].startswith("-"):
        print(
            f"rnnkit {argv[0]}: error: expected the checkpoint (file or run directory) first, "
            f"e.g. rnnkit {argv[0]} RUN {argv[1]} ...",
            file=sys.stderr,
        )
        return 2
    from rnnkit.train.configfile import name_recipe

    try:  # rnnkit train --config FILE: the recipe comes from the file
        argv = name_recipe(argv, _use_verbs()["eval"])
    except ValueError as err:
        print(f"rnnkit train: error: {err}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print(f"rnnkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. rnnkit sample RUN | head: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as err:  # expected failures: bad input, missing files
        if args.command == "bench" and isinstance(err, ValueError) and not isinstance(err, WriteError):
            parser.error(str(err))  # a bad option; a failed write after the timing is not one
        print(f"rnnkit {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
