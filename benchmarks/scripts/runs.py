"""What the benchmark scripts share: a trained run as a command-line argument."""

from __future__ import annotations

import argparse
from typing import Callable

from rnnkit.recipes import load


def run_of(task: str) -> Callable[[str], object]:
    """An argparse ``type``: a run directory or checkpoint of recipe ``task`` -> its trained
    model; a missing, unreadable or other-task run is the parser's one-line error."""

    def trained(path: str):
        try:
            return load(path, task=task)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    trained.__name__ = f"{task} run"
    return trained
