"""Time series for forecasting: a CSV column reader with gap handling, generated signals, the
train/validation/test split and windows of past values (the normaliser fitted on training data
is in :mod:`rnnkit.recipes.timeseries.normaliser`, the time column in :mod:`rnnkit.recipes.timeseries.timestamps`).

A series is a 1-D float tensor ``y`` of T values. Its split is two indices ``train_end`` and
``valid_end``: training targets are ``y[:train_end]``, validation targets
``y[train_end:valid_end]`` and the held-out tail ``y[valid_end:]``. A window example for target
index ``t`` is ``(y[t - W:t], y[t])``: only past values are inputs. Training examples use
``t < train_end`` only, so no validation or test value ever reaches a training input, a
training target or the normaliser's statistics.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from rnnkit.data.inputs import open_input

GAPS = ("interpolate", "refuse")
#: the largest magnitude of a value read: squares and sums of a million such values stay finite in
#: float64, and a checkpoint keeps values and scales within it (a 1e308 CSV trained to ``mse inf``)
LIMIT = 1e100


@dataclass
class Series:
    """Values of one series and where they came from.

    Attributes:
        values: (T,) float64.
        source: a readable origin (file and column, or the generator and its seed).
        times: the time column's text per value, when there is one.
        gap_rows: file rows (header = row 1) whose value was empty and was interpolated.
        gap_index: the positions in ``values`` of those rows (scores leave them out).
    """

    values: Tensor
    source: str
    times: Optional[list[str]] = None
    gap_rows: list[int] = field(default_factory=list)
    gap_index: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    def gap_note(self) -> str:
        """One line on the interpolated gaps ('' when there were none)."""
        if not self.gap_rows:
            return ""
        return (
            f"{self.source}: {len(self.gap_rows)} empty values linearly interpolated between their "
            f"neighbours ({_rows(self.gap_rows)}; ends take the nearest value)"
        )


def _rows(rows: Sequence[int], shown: int = 10) -> str:
    text = ("row " if len(rows) == 1 else "rows ") + ", ".join(str(r) for r in rows[:shown])
    return text + (f" and {len(rows) - shown} more" if len(rows) > shown else "")


def read_csv_column(path: str | Path, column: str, time_column: str = "", gaps: str = "interpolate") -> Series:
    """The numbers of ``column`` in the CSV file ``path`` (a header row, then one row per time).

    Empty values are gaps: ``gaps="interpolate"`` fills them linearly from their neighbours
    (:func:`interpolate_gaps`), ``"refuse"`` raises naming the rows. A gap is never read as 0.

    Raises:
        ValueError: the file has no such column (the message lists the columns), a value is
            not a finite number (the message names the row; the header is row 1), or gaps
            are refused.
    """
    if gaps not in GAPS:
        raise ValueError(f"gaps: expected {' or '.join(GAPS)}, got {gaps!r}")
    path = Path(path)
    try:
        with _open_csv(path) as handle:
            rows = list(_numbered(csv.reader(handle)))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header row naming the columns)")
    header = [name.strip() for name in rows[0][1]]
    index = _column_index(path, header, column)
    time_index = _column_index(path, header, time_column) if time_column else None
    values: list[float] = []
    times: list[str] = []
    empty: list[int] = []
    for number, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue  # a blank line is no time step
        text = row[index].strip() if index < len(row) else ""
        if time_index is not None:
            times.append(row[time_index].strip() if time_index < len(row) else "")
        if not text:
            empty.append(number)
            values.append(math.nan)
            continue
        values.append(_number(path, number, column, text))
    if empty and gaps == "refuse":
        raise ValueError(
            f"{path}: {len(empty)} empty {column} values ({_rows(empty)}); use --gaps interpolate to fill them"
        )
    if empty and len(empty) == len(values):
        raise ValueError(f"{path}: every {column} value is empty")
    series = torch.tensor(values, dtype=torch.float64)
    gap_index = series.isnan().nonzero().flatten().tolist()
    return Series(
        interpolate_gaps(series), f"{path} column {column}", times if time_index is not None else None, empty, gap_index
    )


def csv_columns(path: str | Path) -> list[str]:
    """The names in the header row of the CSV file ``path``."""
    try:
        with _open_csv(Path(path)) as handle:
            return [name.strip() for name in next(csv.reader(handle), [])]
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def _open_csv(path: Path) -> io.TextIOWrapper:
    """The regular file ``path`` as UTF-8 text for :mod:`csv` (a folder or FIFO refused by name)."""
    return io.TextIOWrapper(open_input(path, expected="a CSV file"), encoding="utf-8-sig", newline="")


def _numbered(reader):
    for row in reader:
        yield reader.line_num, row


def _column_index(path: Path, header: list[str], name: str) -> int:
    if name not in header:
        raise ValueError(f"{path}: no column {name!r}; the columns are {', '.join(header)}")
    return header.index(name)


def _number(path: Path, row: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{path}, row {row}: {column} value {text!r} is not a finite number")
    if abs(value) > LIMIT:
        raise ValueError(
            f"{path}, row {row}: {column} value {text!r} is outside the range read, "
            f"{-LIMIT:g} to {LIMIT:g} (squares and sums of larger values overflow); rescale the column"
        )
    return value


def check_range(values: Tensor, source: str) -> None:
    """ValueError naming ``source`` and the first position of a value that is not finite or beyond
    :data:`LIMIT` (for series that come from elsewhere than a CSV file)."""
    bad = (~values.isfinite()) | (values.abs() > LIMIT)
    if bool(bad.any()):
        first = int(bad.nonzero()[0])
        raise ValueError(
            f"{source}: value {first} ({float(values[first])!r}) is not a number from {-LIMIT:g} to {LIMIT:g}"
        )


def interpolate_gaps(values: Tensor) -> Tensor:
    """``values`` (T,) with NaNs replaced linearly from the nearest known neighbours; leading and
    trailing NaNs take the nearest known value."""
    known = (~values.isnan()).nonzero().flatten()
    if len(known) == len(values):
        return values
    out = values.clone()
    for gap in values.isnan().nonzero().flatten().tolist():
        right = int(torch.searchsorted(known, gap))
        if right == 0:
            out[gap] = values[known[0]]
        elif right == len(known):
            out[gap] = values[known[-1]]
        else:
            lo, hi = int(known[right - 1]), int(known[right])
            out[gap] = values[lo] + (values[hi] - values[lo]) * (gap - lo) / (hi - lo)
    return out


def sine_wave(length: int, period: float, seed: int) -> Series:
    """The seeds' sine wave: ``sin(2 pi t / period + phase)``, phase drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    phase = float(torch.rand((), generator=generator, dtype=torch.float64)) * 2 * math.pi
    t = torch.arange(length, dtype=torch.float64)
    return Series(torch.sin(2 * math.pi * t / period + phase), f"sine (period {period:g}, seed {seed})")


def noisy_sines(length: int, period: float, noise: float, seed: int) -> Series:
    """A sum of three sines (periods ``period``, ``period / 2.7`` and ``period * 3.1``, amplitudes
    1, 0.5 and 0.3, phases from ``seed``) plus Gaussian noise of standard deviation ``noise``."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64)
    total = torch.zeros(length, dtype=torch.float64)
    for amplitude, p in ((1.0, period), (0.5, period / 2.7), (0.3, period * 3.1)):
        phase = float(torch.rand((), generator=generator, dtype=torch.float64)) * 2 * math.pi
        total += amplitude * torch.sin(2 * math.pi * t / p + phase)
    total += noise * torch.randn(length, generator=generator, dtype=torch.float64)
    return Series(total, f"sum of sines with noise {noise:g} (period {period:g}, seed {seed})")


def check_length(length: int, window: int, horizon: int, source: str) -> None:
    """ValueError when a series of ``length`` values cannot give a window and a horizon."""
    if length < window + horizon:
        raise ValueError(
            f"{source}: the series has {length} values, fewer than window {window} + "
            f"horizon {horizon} = {window + horizon}"
        )


def split_points(
    length: int, window: int, horizon: int, valid_fraction: float, test_fraction: float, source: str
) -> tuple[int, int]:
    """``(train_end, valid_end)``: the last ``test_fraction`` of the series is the held-out tail,
    the ``valid_fraction`` before it validation. Every part holds at least one target and the
    training part at least ``window + horizon`` values."""
    check_length(length, window, horizon, source)
    test = max(1, round(length * test_fraction))
    valid = max(1, round(length * valid_fraction))
    train_end, valid_end = length - test - valid, length - test
    if train_end < window + horizon:
        raise ValueError(
            f"{source}: the series has {length} values; after the validation ({valid}) and "
            f"test ({test}) parts, {train_end} remain for training, fewer than window "
            f"{window} + horizon {horizon} = {window + horizon}"
        )
    return train_end, valid_end


def window_targets(start: int, end: int, window: int, horizon: int = 1) -> list[int]:
    """Target indices ``t`` in ``[start, end)`` that have ``window + horizon - 1`` values before
    them: the inputs of an ``horizon``-step forecast of ``y[t]`` are ``y[t-horizon-window+1 :
    t-horizon+1]``."""
    return list(range(max(start, window + horizon - 1), end))


def windows(values: Tensor, targets: Sequence[int], window: int) -> tuple[Tensor, Tensor]:
    """One-step examples: inputs (N, W) = ``values[t-W:t]`` and targets (N,) = ``values[t]``."""
    index = torch.tensor(list(targets), dtype=torch.long)
    if len(index) and int(index.min()) < window:
        raise ValueError(f"windows: target {int(index.min())} has fewer than {window} values before it")
    offsets = torch.arange(-window, 0)
    return values[index[:, None] + offsets], values[index]
