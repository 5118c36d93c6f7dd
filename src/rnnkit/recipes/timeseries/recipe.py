"""Recipe: forecast a time series (a generated sine, noisy sines, or any CSV column).

Train: ``rnnkit train timeseries`` (the seeds' sine wave), ``--preset sines``, ``--preset sunspots``,
``--preset co2`` (from ``$RNNKIT_DATA`` / ``../shared/data``/timeseries), or ``--csv FILE --column NAME``
Forecast: ``rnnkit forecast RUN --horizon 12`` (after the run's own series) or ``--csv FILE --column NAME``
Evaluate: ``rnnkit eval RUN --split test --horizon 1`` (MSE, MAE, MASE beside naive and seasonal-naive
forecasts of the same points; forecast_test.png)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from rnnkit.bounds import MAX_SEED
from rnnkit.files import atomic_write_text
from rnnkit.objectives.supervised import SupervisedObjective, evaluating
from rnnkit.recipes import load
from rnnkit.recipes.timeseries.data import Prepared, SeriesDataConfig, collate, examples, prepare, series_meta
from rnnkit.recipes.timeseries.evaluate import describe_result, evaluate_split, future_rows
from rnnkit.recipes.timeseries.model import Forecaster, ForecasterConfig
from rnnkit.recipes.timeseries.normaliser import Normaliser
from rnnkit.recipes.timeseries.series import GAPS, check_range, csv_columns, read_csv_column
from rnnkit.recipes.timeseries.timestamps import continue_times
from rnnkit.train.meta import Need
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Command, Recipe, Serving, Smoke, TrainedModel


def defaults():
    return {
        "data": SeriesDataConfig(),
        "model": ForecasterConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=3e-3,
            schedule="cosine",
            max_steps=3000,
            warmup_steps=50,
            final_lr_ratio=0.02,
            eval_every=100,
            grad_clip=1.0,
            monitor="mse",
        ),
    }


_REAL = {"valid_fraction": 0.1, "test_fraction": 0.15}
PRESETS = {
    # the sine of period 20*pi steps (sin(0.1 t)), season 63; measured in docs/recipes/timeseries.md, "Issue 16"
    # (time series) and "Issue 27" (seeds and classical baselines)
    "cpu-quick": {},
    "sines": {"data": {"signal": "sines", "length": 2000, "period": 50.0, "season": 50, "window": 60}},
    "sunspots": {
        "data": {
            "csv": "sunspots.csv",
            "column": "SUNACTIVITY",
            "time_column": "YEAR",
            "window": 22,
            "season": 11,
            **_REAL,
        },
        "train": {"max_steps": 2000},
    },
    "co2": {
        "data": {
            "csv": "co2.csv",
            "column": "co2",
            "time_column": "date",
            "window": 60,
            "season": 52,
            "target": "change",
            **_REAL,
        },
        "train": {"max_steps": 2000},
    },
}
HELP = {
    "signal": "sine or sines (generated); --csv replaces it",
    "csv": "a CSV file, or its name under --data-dir/timeseries (sunspots.csv, co2.csv)",
    "data_dir": "folder holding timeseries/ (default $RNNKIT_DATA or ../shared/data)",
    "gaps": "empty CSV values: interpolate (linear) or refuse (error naming the rows)",
    "season": "seasonal-naive lag (0 = none)",
    "target": "level, or change (next minus last value)",
    "head": "gaussian (mean and variance, intervals) or point (mean, MSE loss)",
}


def forecast_loss(model: Forecaster, batch, reduction: str = "mean"):
    """Gaussian negative log-likelihood (``gaussian`` head) or squared error of normalised next values."""
    inputs, targets = batch
    device = next(model.parameters()).device
    mean, log_var = model(inputs.to(device))
    targets = targets.to(device)
    if model.config.head == "gaussian":
        loss = F.gaussian_nll_loss(mean.float(), targets, log_var.float().exp(), full=True, reduction=reduction)
    else:
        loss = F.mse_loss(mean.float(), targets, reduction=reduction)
    return loss, len(targets)


def validation_scores(prep: Prepared, window: int, horizon: int):
    """evaluate(model, valid): the one-step loss and the ``horizon``-step MSE and MAE (in the
    series' units) on the validation part."""

    def evaluate(model, valid) -> dict[str, float]:
        with evaluating(model):
            loss = sum(
                float(forecast_loss(model, collate(valid[i : i + 512]), "sum")[0]) for i in range(0, len(valid), 512)
            ) / len(valid)
            lstm = evaluate_split(model, prep, "valid", horizon, window, intervals=False)["methods"]["lstm"]
        return {"loss": loss, "mse": lstm["mse"], "mae": lstm["mae"]}

    return evaluate


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata of a timeseries run."""
    data: SeriesDataConfig = sections["data"]
    prep = prepare(data, resume_meta)
    if prep.series.gap_rows:
        print(f"note: {prep.series.gap_note()}", file=sys.stderr)
    train = examples(prep, 0, prep.train_end, data.window)
    valid = examples(prep, prep.train_end, prep.valid_end, data.window)
    print(
        f"timeseries: {prep.series.source}: {len(prep.series):,} values; windows of {data.window}: "
        f"train {len(train):,}, validation {len(valid):,}, held-out tail {len(prep.series) - prep.valid_end:,} "
        f"points",
        file=sys.stderr,
    )
    objective = SupervisedObjective(
        train,
        valid,
        collate,
        forecast_loss,
        length=lambda _: data.window,
        batch_size=data.batch_size,
        seed=sections["train"].seed,
        evaluate=validation_scores(prep, data.window, data.horizon),
        metrics={"loss": "min", "mse": "min", "mae": "min"},
        unit="windows",
    )
    return Built(Forecaster(sections["model"]), objective, series_meta(prep))


VALUE = 1e100  # the largest magnitude of a saved value or scale: forecasts stay finite


def _in_order(valid_end: int, meta: dict) -> Optional[str]:
    """The saved split points: 0 < train_end < valid_end <= length."""
    series = meta["series"]
    if not series["train_end"] < valid_end <= series["length"]:
        return f"expected train_end ({series['train_end']}) < valid_end <= length ({series['length']}), got {valid_end}"
    return None


class TrainedForecaster(TrainedModel):
    """A trained forecaster: scores on its series' split, forecasts after any series."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        "series": Need("object"),
        "series.source": Need("string"),
        "series.length": Need("integer", minimum=2),
        "series.train_end": Need("integer", minimum=1),
        "series.valid_end": Need("integer", check=_in_order),
        "series.tail": Need("numbers", minimum=-VALUE, maximum=VALUE),
        "series.times": Need("scalars"),
        "normaliser": Need("object"),
        "normaliser.mean": Need("number", minimum=-VALUE, maximum=VALUE),
        **{f"normaliser.{scale}": Need("number", minimum=1 / VALUE, maximum=VALUE) for scale in ("std", "step_std")},
        "normaliser.target": Need("string", choices=("level", "change")),
    }

    @classmethod
    def build_model(cls, sections, meta: dict) -> Forecaster:
        return Forecaster(sections["model"])

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.normaliser = Normaliser.from_json(meta["normaliser"])

    def prepared(self) -> Prepared:
        """The run's series and split, checked against the checkpoint."""
        prep = prepare(self.sections["data"], self.meta)
        return Prepared(
            prep.series, self.meta["series"]["train_end"], self.meta["series"]["valid_end"], self.normaliser
        )

    def evaluate(self, split: str = "test", horizon: Optional[int] = None, plot: Optional[str] = "auto") -> dict:
        """MSE, MAE, MASE of ``horizon``-step forecasts (default the run's) of every point of ``split``,
        beside the naive and seasonal-naive forecasts of the same points; a PNG of truth vs forecast."""
        data = self.sections["data"]
        horizon = horizon or data.horizon
        if plot == "auto":
            plot = str(self.run_dir / f"forecast_{split}.png") if self.run_dir else None
        return evaluate_split(self.model, self.prepared(), split, horizon, data.window, data.season, plot)

    def describe(self, result: dict) -> str:
        return describe_result(result)

    def forecast(self, values: torch.Tensor, horizon: int, source: str, samples: int = 200, seed: int = 0):
        """The next ``horizon`` values after ``values`` (T,): rows of (step, mean, lower, upper)."""
        HORIZON.ensure(horizon, "horizon")
        SAMPLES.ensure(samples, "samples")
        window = self.sections["data"].window
        if len(values) < window:
            raise ValueError(f"{source}: the series has {len(values)} values, fewer than the run's window {window}")
        check_range(values[-window:], source)  # a served series, or a crafted checkpoint's tail
        self.normaliser.check(values[-window:], source)
        return future_rows(self.model, values, window, horizon, self.normaliser, samples, seed)


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


def report(run_dir: Path) -> str:
    """After training: held-out tail figures of the best checkpoint (report_test.json, forecast_test.png)."""
    model = load(run_dir)
    result = model.evaluate("test", plot=str(run_dir / "forecast_test.png"))
    atomic_write_text(run_dir / "report_test.json", json.dumps(result, indent=1) + "\n")
    return model.describe(result)


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


# the work of a forecast is horizon x samples model steps: both bounded (and checked by forecast())
HORIZON = Param("horizon", int, 12, "values to forecast", low=1, high=1_000)
SAMPLES = Param("samples", int, 200, "sampled paths for the 95% interval (gaussian head)", low=1, high=10_000)

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

RECIPE = Recipe(
    name="timeseries",
    summary="forecast a time series (sine, noisy sines, sunspots, CO2 or any CSV column)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=TrainedForecaster,
    commands=(FORECAST,),
    eval_params=(
        Param("split", str, "test", "part of the run's series", choices=("valid", "test")),
        HORIZON.replace(default=None, help="steps ahead (default: the run's)"),
        Param("plot", str, "auto", "PNG of truth vs forecast (default forecast_SPLIT.png in the run)"),
    ),
    help=HELP,
    report=report,
    outputs=("report_test.json", "forecast_test.png", "forecast_valid.png"),
    smoke=Smoke(
        train=(
            "--csv",
            "{fixtures}/timeseries/tiny.csv",
            "--column",
            "value",
            "--time-column",
            "t",
            "--window",
            "8",
            "--season",
            "12",
            "--hidden-size",
            "8",
            "--batch-size",
            "8",
            "--max-steps",
            "6",
            "--eval-every",
            "3",
            "--warmup-steps",
            "0",
        ),
        uses={"forecast": ("--horizon", "3"), "eval": ("--split", "valid")},
        expect={"forecast": r"^step,time,forecast,lower,upper\n1,\d+,", "eval": r"^valid, 1-step"},
    ),
)
