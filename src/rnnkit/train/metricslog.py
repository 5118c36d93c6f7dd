"""A run's ``metrics.jsonl``: one JSON record per line, appended as training goes.

Only the run's writer appends (the lock of :mod:`rnnkit.train.lock` makes it the only
one); the file is opened without following a symlink planted under its name, and its
name is listed in the run's manifest (:func:`rnnkit.files.record_written`) on the first
record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from rnnkit.files import atomic_write, record_written

METRICS = "metrics.jsonl"
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)


class MetricsLog:
    """Append-only JSON-lines log, flushed after every record; with ``enabled`` False
    (a process that is not the run's writer) it writes nothing."""

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path, self.enabled = Path(path), enabled
        self._recorded = False

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        fd = os.open(self.path, _APPEND, 0o666)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if not self._recorded:
            record_written(self.path)
            self._recorded = True

    def truncate_after(self, step: int) -> None:
        """Drop records logged after ``step`` (they came after the checkpoint resumed from)."""
        if not self.enabled:
            return
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
