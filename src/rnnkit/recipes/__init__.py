"""Recipes: one place per recipe, and the registry the CLI builds its commands from.

Each recipe is a module (``recipes/charlm.py``) or a package (``recipes/names/``: its
``recipe.py`` with the companions it needs, such as ``model.py``, ``data.py``,
``evaluate.py``, ``use.py``) exposing ``RECIPE`` (:class:`rnnkit.train.recipe.Recipe`).
Adding a recipe: write ``recipes/<name>`` and add one line to :data:`REGISTRY`. A recipe
may import the shared layers (``nn``, ``data``, ``decode``, ``train``, ``objectives``,
``metrics``, ``families``) but never another recipe.

Loading a trained model is here too, once: :func:`read` finds a checkpoint and the recipe that
wrote it, :meth:`Stored.model` builds that recipe's trained model from it, and :func:`load` does
both. The CLI, the server, the recipes' reports (:func:`report_on_test` and their own) and
:func:`rnnkit.load` all go through :func:`read`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Callable

from rnnkit.train.recipe import Recipe

#: recipe name -> its module or package under rnnkit.recipes
REGISTRY = {
    "charlm": "charlm",
    "wordlm": "wordlm",
    "names": "names",
    "names-gen": "namesgen",
    "postag": "postag",
    "translate": "translate",
    "chat": "chat",
    "seqmnist": "seqmnist",
    "timeseries": "timeseries",
    "adding": "adding",
    "copy": "copy",
    "embeddings": "embeddings",
    "caption": "caption",
    "cnn": "cnn",
    "stn": "stn",
    "transfer": "transfer",
}


def recipe(name: str) -> Recipe:
    """The registered recipe called ``name``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown recipe {name!r}; expected one of {', '.join(REGISTRY)}")
    found = import_module(f"rnnkit.recipes.{REGISTRY[name]}").RECIPE
    if found.name != name:
        raise ValueError(f"rnnkit.recipes.{REGISTRY[name]} declares recipe {found.name!r}, registered as {name!r}")
    return found


def recipes() -> list[Recipe]:
    """Every registered recipe, in registry order."""
    return [recipe(name) for name in REGISTRY]


def outputs() -> tuple[str, ...]:
    """The files any recipe writes in a run directory besides the engine's."""
    return tuple(sorted({name for found in recipes() for name in found.outputs}))


def recipe_of(meta: dict, path) -> Recipe:
    """The recipe that wrote a checkpoint (its metadata's ``task``)."""
    from rnnkit.train.checkpoint import CheckpointError
    from rnnkit.train.meta import shown

    task = meta.get("task")
    if not isinstance(task, str):
        raise CheckpointError(
            f"{path}: checkpoint metadata field 'task': expected the name of a recipe "
            f"({', '.join(REGISTRY)}), got {shown(task)}"
        )
    if task not in REGISTRY:
        raise CheckpointError(f"{path}: checkpoint of unknown recipe {shown(task)}")
    return recipe(task)


@dataclass(frozen=True)
class Stored:
    """A checkpoint read from disk and the recipe that wrote it; :meth:`model` builds its trained model.

    The command line reads the checkpoint first, builds its options from the recipe, then the model
    on the device they name; everything else calls :func:`load`, which does both at once.
    """

    recipe: Recipe
    state: Any  # rnnkit.train.checkpoint.Checkpoint

    @property
    def path(self):
        return self.state.path

    def model(self, device: str = "cpu"):
        """The recipe's trained model (e.g. :class:`rnnkit.recipes.charlm.CharLM`) on ``device``."""
        from rnnkit.train.device import resolve_device

        return self.recipe.trained.from_checkpoint(self.state, device=str(resolve_device(device)))


def read(path, task: str | None = None) -> Stored:
    """The checkpoint in a file or run directory (its best one) and the recipe that wrote it; the
    one place a checkpoint is read to be used. ``task``: the recipe the run must come from (a
    CheckpointError naming both otherwise)."""
    from rnnkit.train import checkpoint as ckpt

    state = ckpt.load(path)
    found = recipe_of(state.meta, state.path)
    if task is not None and found.name != task:
        raise ckpt.CheckpointError(
            f"{state.path}: a run of `rnnkit train {found.name}`; expected one of `rnnkit train {task}`"
        )
    return Stored(found, state)


def load(path, device: str = "cpu", task: str | None = None):
    """The trained model in a checkpoint file or run directory, ready to use: what the CLI, the
    server, the recipes' reports and :func:`rnnkit.load` use (through :func:`read`).

    Returns the recipe's trained model (e.g. :class:`rnnkit.recipes.charlm.CharLM`).
    ``task``: the recipe the run must come from (a CheckpointError naming both otherwise).
    """
    return read(path, task).model(device)


def report_on_test(**options) -> Callable[[Path], str]:
    """A recipe's ``report``: the best checkpoint's ``evaluate("test", **options)`` written to
    ``report_test.json`` in the run directory, described for the terminal."""

    def report(run_dir: Path) -> str:
        from rnnkit.files import atomic_write_text

        model = load(run_dir)
        result = model.evaluate("test", **options)
        atomic_write_text(Path(run_dir) / "report_test.json", json.dumps(result, indent=1) + "\n")
        return model.describe(result)

    report.__doc__ = "After training: evaluate('test') of the best checkpoint (report_test.json)."
    return report
