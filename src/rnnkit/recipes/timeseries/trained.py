"""Timeseries recipe, trained side: a forecaster loaded from a checkpoint (:class:`TrainedForecaster`).

It scores its own series' split (:mod:`rnnkit.recipes.timeseries.evaluate`) and forecasts after any series,
with the checkpoint's normaliser; the saved series and scales are checked on loading.
"""

from __future__ import annotations

from typing import Optional

import torch

from rnnkit.recipes.timeseries.config import defaults
from rnnkit.recipes.timeseries.data import Prepared, prepare
from rnnkit.recipes.timeseries.evaluate import describe_result, evaluate_split, future_rows
from rnnkit.recipes.timeseries.model import Forecaster
from rnnkit.recipes.timeseries.normaliser import Normaliser
from rnnkit.recipes.timeseries.series import check_range
from rnnkit.train.meta import Need
from rnnkit.train.params import Param
from rnnkit.train.recipe import TrainedModel

# the work of a forecast is horizon x samples model steps: both bounded (and checked by forecast())
HORIZON = Param("horizon", int, 12, "values to forecast", low=1, high=1_000)
SAMPLES = Param("samples", int, 200, "sampled paths for the 95% interval (gaussian head)", low=1, high=10_000)

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
