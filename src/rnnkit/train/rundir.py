"""Run directories and the metrics log.

A run directory holds ``config.json`` (the resolved configuration),
``metrics.jsonl`` (one JSON record per line), ``best.safetensors`` and
``last.safetensors`` (checkpoints) and ``curves.png``.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

from .checkpoint import atomic_write

CONFIG, METRICS = "config.json", "metrics.jsonl"


def default_run_dir(task: str, root: str | Path = "runs") -> Path:
    """``runs/<task>-<YYYYmmdd-HHMMSS>``."""
    return Path(root) / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def check(path: str | Path, resume: bool = False, overwrite: bool = False) -> Path:
    """What :func:`prepare` would refuse, without touching the disk.

    Raises:
        ValueError: the directory exists (and is not empty) without
            ``overwrite``/``resume``; or ``overwrite`` was given for a
            directory that does not look like an rnnkit run (never deleted).
    """
    path = Path(path)
    if resume:
        if not (path / CONFIG).is_file():
            raise ValueError(f"--resume {path}: not a run directory (no {CONFIG})")
        return path
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        if not overwrite:
            raise ValueError(f"run directory {path} already exists; pass --resume {path} to "
                             "continue it or --overwrite to start again in it")
        if not (path / CONFIG).is_file():
            raise ValueError(f"--overwrite {path}: refusing to delete a directory that is not an "
                             f"rnnkit run (no {CONFIG})")
    return path


def prepare(path: str | Path, resume: bool = False, overwrite: bool = False) -> Path:
    """Create a run directory (emptied first with ``overwrite``), refusing what :func:`check` refuses."""
    path = check(path, resume, overwrite)
    if resume:
        return path
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_config(path: str | Path, config: dict[str, Any]) -> None:
    atomic_write(Path(path) / CONFIG, (json.dumps(config, indent=2) + "\n").encode())


def read_config(path: str | Path) -> dict[str, Any]:
    file = Path(path) / CONFIG
    try:
        return json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{file}: cannot read the run's configuration: {err}") from None


class MetricsLog:
    """Append-only JSON-lines log, flushed after every record."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop records logged after ``step`` (they came after the checkpoint resumed from)."""
        kept = [r for r in read_metrics(self.path, skip_torn_tail=True) if r.get("step", 0) <= step]
        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())


def read_metrics(path: str | Path, skip_torn_tail: bool = False) -> list[dict[str, Any]]:
    """Records of a metrics file (or of ``RUN_DIR/metrics.jsonl``); [] if none yet.

    ``skip_torn_tail`` drops a half-written last line (a crash mid-append).
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS
    if not path.is_file():
        return []
    records = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if skip_torn_tail and number == len(lines):
                    break
                raise ValueError(f"{path}, line {number}: not a JSON record") from None
    return records


def select(records: Iterable[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("split") == split]
