"""Recipes: one short module per task, and the registry the CLI builds its commands from.

Each module defines ``RECIPE`` (:class:`rnnkit.train.recipe.Recipe`). Adding a
recipe: write ``tasks/<name>.py`` and add one line here.
"""
from __future__ import annotations

from importlib import import_module

from rnnkit.train.recipe import Recipe

#: recipe name -> module under rnnkit.tasks
REGISTRY = {"charlm": "charlm", "wordlm": "wordlm", "names": "names", "names-gen": "namesgen",
            "postag": "postag", "translate": "translate", "chat": "chat", "seqmnist": "seqmnist",
            "timeseries": "timeseries", "adding": "adding", "copy": "copy",
            "embeddings": "embeddings"}


def recipe(name: str) -> Recipe:
    """The registered recipe called ``name``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(REGISTRY)}")
    found = import_module(f"rnnkit.tasks.{REGISTRY[name]}").RECIPE
    if found.name != name:
        raise ValueError(f"rnnkit.tasks.{REGISTRY[name]} declares recipe {found.name!r}, "
                         f"registered as {name!r}")
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
        raise CheckpointError(f"{path}: checkpoint metadata field 'task': expected the name of a recipe "
                              f"({', '.join(REGISTRY)}), got {shown(task)}")
    if task not in REGISTRY:
        raise CheckpointError(f"{path}: checkpoint of unknown task {shown(task)}")
    return recipe(task)


def load(path, device: str = "cpu", task: str | None = None):
    """The trained model in a checkpoint file or run directory, ready to use.

    Returns the recipe's trained model (e.g. :class:`rnnkit.tasks.charlm.CharLM`).
    ``task``: the recipe the run must come from (a CheckpointError naming both otherwise).
    """
    from rnnkit.train import checkpoint as ckpt
    from rnnkit.train.device import resolve_device
    state = ckpt.load(path)
    found = recipe_of(state.meta, state.path)
    if task is not None and found.name != task:
        raise ckpt.CheckpointError(f"{state.path}: a run of `rnnkit train {found.name}`; "
                                   f"expected one of `rnnkit train {task}`")
    return found.trained.from_checkpoint(state, device=str(resolve_device(device)))
