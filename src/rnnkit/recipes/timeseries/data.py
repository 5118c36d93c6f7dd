"""The series of a timeseries run: its options, loading (a generated signal or a CSV column),
the split with the normaliser fitted on the training part, the one-step windows, and what a
checkpoint keeps of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from rnnkit.bounds import batch, seed
from rnnkit.data.catalog import find
from rnnkit.data.corpus import data_dir as default_data_dir
from rnnkit.data.corpus import missing_data
from rnnkit.recipes.timeseries.normaliser import Normaliser
from rnnkit.recipes.timeseries.series import (
    GAPS,
    Series,
    csv_columns,
    noisy_sines,
    read_csv_column,
    sine_wave,
    split_points,
    window_targets,
    windows,
)
from rnnkit.recipes.timeseries.timestamps import KEPT
from rnnkit.train.config import PATH, bound, only_with

SIGNALS = ("sine", "sines")


@dataclass
class SeriesDataConfig:
    """The series, its split and its windows.

    Attributes:
        signal: a generated ``sine`` (the seeds' exercise) or ``sines`` (three sines and noise);
            ``csv`` replaces it.
        csv: a CSV file, or its name under ``data_dir``/timeseries (``sunspots.csv``).
        column, time_column: the CSV's value column and (optional) time column.
        data_dir: the data folder, holding ``timeseries/`` (default ``$RNNKIT_DATA`` or ``../shared/data``).
        gaps: empty CSV values are ``interpolate`` d linearly or ``refuse`` d (never read as 0).
        length, period, noise, signal_seed: the generated signal.
        window: past values per input.
        horizon: steps ahead scored on validation and the held-out tail (predictions fed back).
        season: the seasonal-naive baseline's lag and MASE's (0 = no season).
        valid_fraction, test_fraction: the validation part and the held-out tail, at the end.
        normalise: scale by the training part's mean and standard deviation.
        target: ``level`` (the next value) or ``change`` (next minus last; for trends).
        batch_size: windows per batch.
    """

    signal: str = "sine"
    csv: str = field(default="", metadata=PATH)
    column: str = ""
    time_column: str = ""
    data_dir: str = field(default="", metadata=PATH)
    gaps: str = "interpolate"
    # a generated series of a million values makes a million windows (about 1 GB with the
    # tensors' overhead); a CSV is as long as its file
    length: int = field(default=1000, metadata=bound(2, 10**6))
    period: float = field(default=62.83185307179586, metadata=bound(1, 10**6))
    noise: float = field(default=0.2, metadata={**bound(0, 1000), **only_with("signal", "sines")})
    signal_seed: int = field(default=0, metadata=seed())
    window: int = field(default=20, metadata=bound(1, 10_000))
    horizon: int = field(default=1, metadata=bound(1, 10_000))
    season: int = field(default=63, metadata=bound(0, 10**6))
    valid_fraction: float = field(default=0.1, metadata=bound(0, 0.5, open_low=True))
    test_fraction: float = field(default=0.15, metadata=bound(0, 0.5, open_low=True))
    normalise: bool = True
    target: str = "level"
    batch_size: int = field(default=32, metadata=batch())


def csv_path(data: SeriesDataConfig) -> Path:
    """The CSV file: ``data.csv`` as given, else under the data directory's ``timeseries/`` (whatever
    is there: a folder or a FIFO of that name is refused by name when read). ValueError naming the
    fetch command when a file of the catalogue's ``timeseries`` is missing."""
    given = Path(data.csv)
    if given.exists():
        return given
    under = default_data_dir(data.data_dir or None) / "timeseries" / data.csv
    if under.exists():
        return under
    if data.csv in {spec.path for spec in find("timeseries").files}:  # sunspots.csv, co2.csv
        raise missing_data("timeseries", data.data_dir or None, under)
    raise ValueError(
        f"--csv {data.csv}: no such file (nor {under}; point --data-dir or RNNKIT_DATA at the "
        "folder holding timeseries/)"
    )


def load_series(data: SeriesDataConfig, path: Optional[str | Path] = None) -> Series:
    """The configured series: a CSV column (``path`` overrides the configured file) or a signal."""
    if data.gaps not in GAPS:
        raise ValueError(f"--gaps: expected {' or '.join(GAPS)}, got {data.gaps!r}")
    if data.target not in ("level", "change"):
        raise ValueError(f"--target: expected level or change, got {data.target!r}")
    if path is not None or data.csv:
        file = Path(path) if path is not None else csv_path(data)
        if not data.column:
            raise ValueError(
                f"--column: name the column of {file} to forecast; the columns are {', '.join(csv_columns(file))}"
            )
        return read_csv_column(file, data.column, data.time_column, data.gaps)
    if data.signal == "sine":
        return sine_wave(data.length, data.period, data.signal_seed)
    if data.signal == "sines":
        return noisy_sines(data.length, data.period, data.noise, data.signal_seed)
    raise ValueError(f"--signal: expected {' or '.join(SIGNALS)} (or give --csv), got {data.signal!r}")


@dataclass
class Prepared:
    """A series split for a run: values (T,), the split indices and the fitted normaliser."""

    series: Series
    train_end: int
    valid_end: int
    normaliser: Normaliser


def prepare(data: SeriesDataConfig, saved: Optional[dict] = None) -> Prepared:
    """Load, split and fit the normaliser on the training part only; ``saved`` (a checkpoint's
    metadata) must describe the same series."""
    series = load_series(data)
    train_end, valid_end = split_points(
        len(series), data.window, data.horizon, data.valid_fraction, data.test_fraction, series.source
    )
    if data.season and valid_end < data.season * -(-data.horizon // data.season) + 1:
        raise ValueError(f"--season {data.season}: the series is too short for a seasonal-naive forecast")
    if saved is not None and saved.get("series", {}).get("length") != len(series):
        raise ValueError(
            f"{series.source}: the series has {len(series)} values, the run was trained on "
            f"{saved.get('series', {}).get('length')}; the data changed since the run"
        )
    normaliser = Normaliser.fit(series.values[:train_end], data.target, data.normalise, series.source)
    normaliser.check(series.values, series.source)
    return Prepared(series, train_end, valid_end, normaliser)


def examples(prep: Prepared, start: int, end: int, window: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One-step (normalised input (W,), normalised target ()) pairs for targets in [start, end)."""
    raw_in, raw_out = windows(prep.series.values, window_targets(start, end, window), window)
    norm = prep.normaliser
    inputs, targets = norm.inputs(raw_in).float(), norm.encode_target(raw_out, raw_in).float()
    return list(zip(inputs, targets))


def collate(batch):
    """(inputs (N, W), targets (N,)) from (input (W,), target ()) pairs."""
    return torch.stack([x for x, _ in batch]), torch.stack([y for _, y in batch])


def series_meta(prep: Prepared) -> dict:
    """What a checkpoint keeps of its series: origin, length, split, normaliser, the last values."""
    values = prep.series.values
    return {
        "series": {
            "source": prep.series.source,
            "length": len(values),
            "train_end": prep.train_end,
            "valid_end": prep.valid_end,
            "gaps_interpolated": len(prep.series.gap_rows),
            "tail": values[-512:].tolist(),
            "times": (prep.series.times or [])[-KEPT:],
        },
        "normaliser": prep.normaliser.to_json(),
    }
