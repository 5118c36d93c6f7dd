"""``rnnkit train ... --tensorboard``: the run's metrics as TensorBoard event files too.

:class:`TensorBoardLog` is a trainer callback that mirrors every record the trainer
appends to ``metrics.jsonl``, as it is written, into ``RUN_DIR/tensorboard/``:
``train/loss``, ``train/lr`` and ``train/tokens_per_s`` at each logged step, and
``val/<metric>`` for every metric of each evaluation, at the record's step. It reads
the records back rather than computing them again, so its figures are the logged ones
(TensorBoard keeps scalars as float32). Watch with ``tensorboard --logdir RUN_DIR``.

Nothing else about the run changes: no checkpoint holds anything of it, no number, no
other file. Only the run's writer (rank 0) writes. A resumed run adds a new event file
beside the earlier ones; TensorBoard shows them as one run. The folder is listed in the
run's manifest (:func:`rnnkit.files.record_written`), so ``--overwrite`` removes it with
the rest of the old run; a ``tensorboard`` entry there that rnnkit did not write is
refused before anything is touched.

The writer is ``torch.utils.tensorboard.SummaryWriter``, or, where that does not import
with the installed ``tensorboard``, that package's own ``tensorboard.summary.Writer``.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Optional

from rnnkit.files import read_manifest, record_written

from . import distributed
from .callbacks import Callback
from .metricslog import METRICS

FOLDER = "tensorboard"
MISSING = '--tensorboard needs the tensorboard package: pip install "rnnkit[tensorboard]"'
#: fields of a metrics record that are not figures to plot
NOT_FIGURES = ("split", "step", "epoch", "elapsed")
FLUSH_SECONDS = 10  # how soon a running TensorBoard sees the training records


def _writer_class():
    """The event writer class to use; ValueError naming the extra when there is none."""
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter
    except ImportError:
        pass
    try:
        from tensorboard.summary import Writer

        return Writer
    except ImportError:
        raise ValueError(MISSING) from None


def check(run_dir: Optional[str | Path], enabled: bool) -> None:
    """With ``enabled``: ValueError, before a run starts, when no writer imports or when
    ``run_dir`` holds a ``tensorboard`` entry that rnnkit did not write."""
    if not enabled:
        return
    _writer_class()
    if run_dir is not None:
        _refuse_foreign(Path(run_dir))


def _refuse_foreign(run_dir: Path) -> None:
    folder = run_dir / FOLDER
    if not os.path.lexists(folder):
        return
    try:
        listed = read_manifest(run_dir) or frozenset()
    except ValueError:
        listed = frozenset()
    if folder.is_symlink() or not folder.is_dir() or FOLDER not in listed:
        raise ValueError(
            f"--tensorboard: {folder} exists and rnnkit did not write it; move it "
            "away or choose another --run-dir (nothing was changed)"
        )


class TensorBoardLog(Callback):
    """Mirrors the records of ``run_dir/metrics.jsonl`` into TensorBoard event files
    in ``run_dir/tensorboard/``, between :meth:`open` and :meth:`close`."""

    name = "tensorboard"

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.writer: Any = None
        self.offset = 0  # bytes of metrics.jsonl already mirrored (or there before the run)

    def open(self) -> None:
        """Start the event file; the records already in ``metrics.jsonl`` (those of the run
        that is resumed) are not repeated."""
        _refuse_foreign(self.run_dir)
        folder = self.run_dir / FOLDER
        record_written(folder)  # listed first: a folder made but never listed would be refused
        folder.mkdir(exist_ok=True)
        kind = _writer_class()
        extra = {"flush_secs": FLUSH_SECONDS} if kind.__name__ == "SummaryWriter" else {}
        self.writer = kind(str(folder), **extra)
        metrics = self.run_dir / METRICS
        self.offset = metrics.stat().st_size if metrics.is_file() else 0

    def close(self) -> None:
        """Mirror the last records and close the event file."""
        if self.writer is not None:
            try:
                self.poll()
            finally:
                self.writer.close()
                self.writer = None

    def on_batch(self, trainer, batch) -> None:
        self.poll()  # the training record logged after the previous step

    def on_evaluate(self, trainer, result: dict[str, float], improved: bool) -> None:
        self.poll()
        if self.writer is not None:
            self.writer.flush()  # a watching TensorBoard shows each evaluation at once

    def poll(self) -> None:
        """Write the records appended to ``metrics.jsonl`` since the last call."""
        if self.writer is None:
            return
        metrics = self.run_dir / METRICS
        try:
            size = os.stat(metrics).st_size
        except FileNotFoundError:
            return
        if size <= self.offset:
            return
        with open(metrics, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(size - self.offset)
        end = data.rfind(b"\n") + 1  # whole lines only: the rest comes next time
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # not a record (the trainer writes one JSON object a line)
            if isinstance(record, dict):
                self._write(record)
        self.offset += end

    def _write(self, record: dict[str, Any]) -> None:
        split = record.get("split")
        if split not in ("train", "val") or not isinstance(record.get("step"), int):
            return  # events (e.g. NT-ASGD's switch) are no scalars
        for key, value in record.items():
            if key not in NOT_FIGURES and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{split}/{key}", value, record["step"])


def log(run_dir: str | Path, enabled: bool) -> Optional[TensorBoardLog]:
    """The run's :class:`TensorBoardLog` when ``enabled`` (on the writer only; else None)."""
    return TensorBoardLog(run_dir) if enabled and distributed.is_writer() else None


@contextlib.contextmanager
def opened(board: Optional[TensorBoardLog]) -> Iterator[None]:
    """``board`` open for the duration (nothing when it is None)."""
    if board is None:
        yield
        return
    board.open()
    try:
        yield
    finally:
        board.close()
