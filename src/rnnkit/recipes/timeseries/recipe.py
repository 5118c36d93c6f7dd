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

import torch.nn.functional as F

from rnnkit.files import atomic_write_text
from rnnkit.objectives.supervised import SupervisedObjective, evaluating
from rnnkit.recipes import load
from rnnkit.recipes.timeseries.config import HELP, PRESETS, defaults
from rnnkit.recipes.timeseries.data import Prepared, SeriesDataConfig, collate, examples, prepare, series_meta
from rnnkit.recipes.timeseries.evaluate import evaluate_split
from rnnkit.recipes.timeseries.model import Forecaster
from rnnkit.recipes.timeseries.trained import HORIZON, TrainedForecaster
from rnnkit.recipes.timeseries.use import FORECAST
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke


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


def report(run_dir: Path) -> str:
    """After training: held-out tail figures of the best checkpoint (report_test.json, forecast_test.png)."""
    model = load(run_dir)
    result = model.evaluate("test", plot=str(run_dir / "forecast_test.png"))
    atomic_write_text(run_dir / "report_test.json", json.dumps(result, indent=1) + "\n")
    return model.describe(result)


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
