"""Timeseries recipe, use side: ``rnnkit forecast RUN`` (command line and ``POST /forecast``).

``model`` is a :class:`rnnkit.recipes.timeseries.trained.TrainedForecaster`, which checks the bounds of
:data:`~rnnkit.recipes.timeseries.trained.HORIZON` and :data:`~rnnkit.recipes.timeseries.trained.SAMPLES`.
"""

from __future__ import annotations

import sys

import torch

from rnnkit.bounds import MAX_SEED
from rnnkit.recipes.timeseries.series import GAPS, csv_columns, read_csv_column
from rnnkit.recipes.timeseries.timestamps import continue_times
from rnnkit.recipes.timeseries.trained import HORIZON, SAMPLES, TrainedForecaster
from rnnkit.train.params import Param
from rnnkit.train.recipe import Command, Serving


def _forecast(model: TrainedForecaster, given) -> int:
    data = model.sections["data"]
    if given.csv:
        column = given.column or data.column
        if not column:
            raise ValueError(
                f"--column: name the column of {given.csv}; the columns are {', '.join(csv_columns(given.csv))}"
            )
        series = read_csv_column(given.csv, column, given.time_column, given.gaps)
        if series.gap_rows:
            print(f"note: {series.gap_note()}", file=sys.stderr)
        values, source, times = series.values, series.source, series.times
    else:
        saved = model.meta["series"]
        values, source, times = torch.tensor(saved["tail"], dtype=torch.float64), saved["source"], saved["times"]
    rows = model.forecast(values, given.horizon, source, given.samples, given.seed)
    after, why = continue_times(times, len(rows))
    if why:
        print(f"note: {source}: {why}", file=sys.stderr)
    print("step," + ("time," if after else "") + "forecast,lower,upper")
    for k, mean, lower, upper in rows:
        when = f"{after[k - 1]}," if after else ""
        print(f"{k},{when}{mean:.6g},{lower:.6g},{upper:.6g}")
    return 0


def serve_forecast(model: TrainedForecaster, given) -> dict:
    """``POST /forecast``: the next values after ``values`` (default: the run's own series), each with
    its 95% interval, and its time when the run's series has an evenly spaced time column (dates as
    text in the column's format, numbers as numbers: :mod:`rnnkit.recipes.timeseries.timestamps`)."""
    if given["values"] is None:
        saved = model.meta["series"]
        values, source, times = torch.tensor(saved["tail"], dtype=torch.float64), saved["source"], saved["times"]
    else:
        values, source, times = torch.tensor(given["values"], dtype=torch.float64), "values", None
    rows = model.forecast(values, given["horizon"], source, given["samples"], given["seed"])
    after = continue_times(times, len(rows))[0]
    return {
        "source": source,
        "forecast": [
            {"step": k, **({"time": after[k - 1]} if after else {}), "forecast": mean, "lower": lower, "upper": upper}
            for k, mean, lower, upper in rows
        ],
    }


# not batched: each request brings its own series and seeds its own sampled paths
FORECAST = Command(
    "forecast",
    "the next values after a series, as CSV (step,forecast,lower,upper)",
    (
        Param("csv", str, None, "CSV file of the series (default: continue the run's own series)", http=False),
        Param("column", str, "", "its value column (default: the run's)", http=False),
        Param(
            "time_column",
            str,
            "",
            "its time column (dates YYYYMMDD, YYYY-MM-DD, YYYY-MM or numbers, evenly spaced: "
            "forecast times are printed)",
            http=False,
        ),
        Param("gaps", str, "interpolate", "empty values: interpolate or refuse", choices=GAPS, http=False),
        Param(
            "values",
            "numbers",
            None,
            "the series, oldest first (null: continue the run's own series)",
            size=(1, 100_000),
            cli=False,
        ),
        HORIZON,
        SAMPLES,
        Param("seed", int, 0, "seed of the sampled paths", low=0, high=MAX_SEED),
    ),
    _forecast,
    serve=Serving(serve_forecast, example={"horizon": 12}),
)
