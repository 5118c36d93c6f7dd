"""Recipes: one short module per task, and the registry the CLI looks them up in."""
from __future__ import annotations

from importlib import import_module
from types import ModuleType

#: task name -> module under rnnkit.tasks (each has TASK, defaults, PRESETS, build, and a
#: predictor class named in PREDICTORS)
REGISTRY = {"charlm": "charlm", "wordlm": "wordlm", "names": "names", "names-gen": "namesgen"}
PREDICTORS = {"charlm": "CharLM", "wordlm": "WordLM", "names": "NameClassifier",
              "names-gen": "NameGenerator"}


def task_module(name: str) -> ModuleType:
    if name not in REGISTRY:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(REGISTRY)}")
    return import_module(f"rnnkit.tasks.{REGISTRY[name]}")


def load(path, device: str = "cpu"):
    """The trained model in a checkpoint file or run directory, ready to use.

    Returns the task's predictor (e.g. :class:`rnnkit.tasks.charlm.CharLM`).
    """
    from rnnkit.train import checkpoint as ckpt
    from rnnkit.train.device import resolve_device
    state = ckpt.load(path)
    task = state.meta.get("task")
    if task not in REGISTRY:
        raise ckpt.CheckpointError(f"{state.path}: checkpoint of unknown task {task!r}")
    predictor = getattr(task_module(task), PREDICTORS[task])
    return predictor.from_checkpoint(state, device=str(resolve_device(device)))
