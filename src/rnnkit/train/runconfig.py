"""A run directory's ``config.json``: the resolved configuration of the run.

:func:`write_config` writes it atomically; :func:`read_config` reads it back, and
:func:`load_config` is the careful read both it and :func:`rnnkit.train.rundir.not_a_run`
use: a regular file of at most :data:`CONFIG_LIMIT` bytes holding JSON that is not nested
too deeply, else a ValueError saying why. :mod:`rnnkit.train.rundir` is where the rest of
rnnkit finds these.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from rnnkit.files import atomic_write

CONFIG = "config.json"
CONFIG_LIMIT = 2**20  # bytes; rnnkit writes configs of a few KB


def load_config(file: Path) -> Any:
    """The JSON in ``file``; ValueError saying why not (size checked before parsing)."""
    try:
        info = os.stat(file)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{CONFIG} is not a regular file")
        if info.st_size > CONFIG_LIMIT:
            raise ValueError(
                f"{CONFIG} is {info.st_size:,} bytes, over the limit of {CONFIG_LIMIT:,} (rnnkit writes a few KB)"
            )
        with open(file, "rb") as handle:
            return json.loads(handle.read(CONFIG_LIMIT + 1).decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{CONFIG} is nested too deeply to be rnnkit's") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{CONFIG} is not readable JSON ({err})") from None


def write_config(path: str | Path, config: dict[str, Any]) -> None:
    atomic_write(Path(path) / CONFIG, (json.dumps(config, indent=2) + "\n").encode())


def read_config(path: str | Path) -> dict[str, Any]:
    """The run's configuration; ValueError naming the file if it is not a readable JSON object."""
    file = Path(path) / CONFIG
    try:
        config = load_config(file)
    except ValueError as err:
        raise ValueError(f"{file}: cannot read the run's configuration: {err}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{file}: cannot read the run's configuration: not a JSON object")
    return config
