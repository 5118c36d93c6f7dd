"""``rnnkit train``: its parser (a subcommand per registered recipe) and running it.

The recipes come from the registry; like :mod:`rnnkit.cli`, this module knows none by name.
:func:`add_train` builds the parser, :func:`train` starts or resumes a run through the engine
(:mod:`rnnkit.train.runner`) and :func:`report` prints how it ended and gives the exit code.
"""

from __future__ import annotations

import argparse
import math


def add_train(sub) -> None:
    """``rnnkit train RECIPE [options]``: one subcommand per registered recipe, with its
    engine and recipe options (from the recipe's CPU preset) and the run options."""
    from rnnkit.recipes import recipes
    from rnnkit.train import config as cfg
    from rnnkit.train.configfile import HELP as CONFIG_HELP
    from rnnkit.train.options import HELP as ENGINE_HELP
    from rnnkit.train.runner import resolve_sections

    train = sub.add_parser(
        "train",
        help="train a recipe (rnnkit list shows them)",
        description="train a recipe: rnnkit train RECIPE [options]; rnnkit train --config FILE "
        "takes the recipe from the file (a run's config.json repeats that run)",
    )
    named = train.add_subparsers(dest="recipe", metavar="recipe", required=True)
    for recipe in recipes():
        # each help states its own default (and range) once: no ArgumentDefaultsHelpFormatter
        parser = named.add_parser(recipe.name, help=recipe.summary, description=recipe.summary)
        on_cpu = recipe.cpu_preset
        gpu_note = f", {recipe.gpu_preset} on a GPU" if recipe.gpu_preset else ""
        if recipe.presets:
            parser.add_argument(
                "--preset",
                choices=list(recipe.presets),
                default=argparse.SUPPRESS,
                help=f"starting configuration (default {on_cpu} on CPU{gpu_note}); "
                "the values shown below are the CPU preset's",
            )
        parser.add_argument("--run-dir", default=None, help="run directory (default runs/<recipe>-<time>)")
        parser.add_argument(
            "--resume",
            metavar="RUN_DIR",
            default=None,
            help="continue the run in RUN_DIR from its last checkpoint "
            "(or from a checkpoint file inside a run directory)",
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="start again in an existing --run-dir (the old run is replaced "
            "once the new one saves its first checkpoint)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress output")
        parser.add_argument("--config", metavar="FILE", default=None, help=CONFIG_HELP)
        parser.add_argument(
            "--tensorboard",
            action="store_true",
            help="also write the metrics as TensorBoard events in RUN_DIR/tensorboard (the rnnkit[tensorboard] extra)",
        )
        cfg.add_arguments(parser, resolve_sections(recipe, on_cpu, {}), {**ENGINE_HELP, **recipe.help})


def train(args) -> int:
    """Run ``rnnkit train``: a new run (preset, config file and options resolved) or ``--resume``;
    the exit code (:func:`report`)."""
    from rnnkit.recipes import REGISTRY, outputs
    from rnnkit.recipes import recipe as find_recipe
    from rnnkit.train import config as cfg
    from rnnkit.train.configfile import resolve
    from rnnkit.train.runner import resume
    from rnnkit.train.runner import train as run

    recipe = find_recipe(args.recipe)
    overrides = cfg.absolute_paths(recipe.defaults(), cfg.overrides_from_args(args))
    chosen_preset = getattr(args, "preset", None)  # the flag is absent from args unless given
    if args.resume:
        changed = sorted(f"--{k.replace('_', '-')}" for s, d in overrides.items() if s != "train" for k in d)
        changed += [
            flag
            for flag, given in (
                ("--preset", chosen_preset),
                ("--run-dir", args.run_dir),
                ("--overwrite", args.overwrite),
                ("--config", args.config),
            )
            if given
        ]
        if changed:
            raise ValueError(
                f"--resume continues the run as it was; cannot combine it with "
                f"{', '.join(changed)} (only training options may change)"
            )
        outcome = resume(
            recipe,
            args.resume,
            overrides.get("train", {}),
            progress=not args.quiet,
            report=True,
            tensorboard=args.tensorboard,
        )  # the report: under the run's lock
    else:
        sections, preset = resolve(recipe, chosen_preset, overrides, args.config)
        outcome = run(
            recipe,
            sections,
            args.run_dir,
            overwrite=args.overwrite,
            progress=not args.quiet,
            preset=preset,
            outputs=outputs(),
            tasks=tuple(REGISTRY),
            report=True,
            tensorboard=args.tensorboard,
        )
    return report(recipe, outcome)


def report(recipe, outcome) -> int:
    """Print how a run ended (and the recipe's test report when it finished); the exit code.

    The other ranks of a multi-process run print nothing: rank 0 reports for the job."""
    result = outcome.result
    if not outcome.writer:
        return {"interrupted": 130, "diverged": 1}.get(result.status, 0)
    if outcome.report is not None:  # the recipe's report of a finished run
        print(outcome.report)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result.last_eval.items())
    best = f"best val {result.monitor} {result.best:.4f}" if math.isfinite(result.best) else "no evaluation yet"
    print(f"{result.status}: {result.message}; step {result.step}; {best}" + (f"; last eval {shown}" if shown else ""))
    print(f"run directory: {outcome.run_dir}")
    if outcome.kept_previous:
        print(f"the new run saved no checkpoint, so the previous run in {outcome.run_dir} was kept")
    if result.status == "interrupted":
        print(f"resume with: rnnkit train {recipe.name} --resume {outcome.run_dir}")
        return 130
    return 1 if result.status == "diverged" else 0
