"""Timeseries recipe, configuration: the default sections of a run, its presets and the help of its options."""

from __future__ import annotations

from rnnkit.recipes.timeseries.data import SeriesDataConfig
from rnnkit.recipes.timeseries.model import ForecasterConfig
from rnnkit.train.options import TrainConfig


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
