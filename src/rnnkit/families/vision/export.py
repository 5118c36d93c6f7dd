"""``rnnkit export`` of an image classifier: one graph, ``classify``, from float images (N, C, S, S)
prepared as the JSON's ``input`` says to logits (N, K); the JSON also maps class names to ids.
``input(trained)`` gives the recipe's pixel preparation (a dict written as it is)."""

from __future__ import annotations

from typing import Callable

from rnnkit.export import graphs, ids
from rnnkit.export.write import export_command


def image_export(input: Callable[[object], dict]):
    """The export command of an image classifier recipe whose checkpoint meta has ``classes``,
    ``channels`` and ``side``."""

    def runtime(trained) -> dict:
        classes = trained.meta["classes"]
        return {
            "ids": {"classes": ids.table(classes, ["classify.logits"], "column k of logits is class k")},
            "input": input(trained),
        }

    def graph(trained):
        return graphs.image_classifier(trained.meta["channels"], trained.meta["side"])

    return export_command(graph, ("classes", "channels", "side"), runtime=runtime)
