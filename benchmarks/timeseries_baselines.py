"""The classical forecaster beside rnnkit's LSTM: ARIMA or Holt-Winters from statsmodels, fitted on
the same training part of each run's series and scored on the same held-out points.

    pip install -e '.[bench]'   # statsmodels: not a dependency of rnnkit
    python benchmarks/timeseries_baselines.py RUN [RUN ...] [--model auto|arima|holt-winters] [--horizon H]

For each run (a ``rnnkit train timeseries`` run directory) it loads the best checkpoint, scores the LSTM,
naive and seasonal-naive forecasts of the held-out tail (rnnkit's own evaluation), then fits the
classical model on the training part only (parameters chosen there, by AIC for ARIMA) and makes the same
``horizon``-step forecasts of the same points with those parameters fixed, each from the values up to its
origin. ``auto`` takes Holt-Winters (additive trend and season) for runs that predict the change (a
trend, ``--target change``) with a season, else ARIMA. Writes the table and a JSON file.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import rnnkit
from rnnkit.data.series_eval import mase_scale, scores

ARIMA_GRID = {"p": (1, 2, 3, 4, 6, 9, 12), "q": (0, 1)}


def fit_arima(train: np.ndarray):
    """ARIMA(p, 0, q) with a constant, (p, q) by AIC on ``train``."""
    from statsmodels.tsa.arima.model import ARIMA
    best = None
    for p, q in itertools.product(ARIMA_GRID["p"], ARIMA_GRID["q"]):
        fitted = ARIMA(train, order=(p, 0, q), trend="c").fit()
        if best is None or fitted.aic < best.aic:
            best = fitted
    return best, f"ARIMA({best.model.order[0]},0,{best.model.order[2]})"


def arima_forecasts(fitted, values: np.ndarray, targets: list[int], horizon: int) -> np.ndarray:
    """``horizon``-step forecasts of ``values[t]`` from ``values[:t - horizon + 1]``, parameters fixed."""
    if horizon == 1:
        return fitted.apply(values).get_prediction().predicted_mean[targets]
    return np.array([fitted.apply(values[:t - horizon + 1]).forecast(horizon)[-1] for t in targets])


def fit_holt_winters(train: np.ndarray, season: int):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    fitted = ExponentialSmoothing(train, trend="add", seasonal="add", seasonal_periods=season,
                                  initialization_method="estimated").fit()
    return fitted, f"Holt-Winters (additive trend and season {season})"


def holt_winters_forecasts(fitted, values: np.ndarray, targets: list[int], horizon: int, season: int) -> np.ndarray:
    """The same forecasts with the training fit's smoothing parameters and initial states fixed."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    p = fitted.params

    def run(upto: np.ndarray):
        model = ExponentialSmoothing(upto, trend="add", seasonal="add", seasonal_periods=season,
                                     initialization_method="known", initial_level=p["initial_level"],
                                     initial_trend=p["initial_trend"], initial_seasonal=p["initial_seasons"])
        return model.fit(smoothing_level=p["smoothing_level"], smoothing_trend=p["smoothing_trend"],
                         smoothing_seasonal=p["smoothing_seasonal"], optimized=False)
    if horizon == 1:
        return run(values).fittedvalues[targets]  # one-step forecasts given the values before each
    return np.array([run(values[:t - horizon + 1]).forecast(horizon)[-1] for t in targets])


def compare(run: Path, model_kind: str, horizon: int | None) -> dict:
    """rnnkit's figures and the classical model's on the same points of one run."""
    trained = rnnkit.load(run)
    data = trained.sections["data"]
    prep = trained.prepared()
    result = trained.evaluate("test", horizon=horizon, plot=None)
    values, targets, h = prep.series.values.numpy(), result["targets"], result["horizon"]
    train = values[:prep.train_end]
    if model_kind == "auto":
        model_kind = "holt-winters" if data.target == "change" and data.season > 1 else "arima"
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter
        if model_kind == "arima":
            fitted, name = fit_arima(train)
            predicted = arima_forecasts(fitted, values, targets, h)
        else:
            fitted, name = fit_holt_winters(train, data.season)
            predicted = holt_winters_forecasts(fitted, values, targets, h, data.season)
    seconds = time.perf_counter() - start
    truth = torch.from_numpy(values[targets])
    methods = dict(result["methods"])
    methods["statsmodels"] = dict(scores(torch.from_numpy(np.asarray(predicted)), truth,
                                         mase_scale(torch.from_numpy(train), data.season)), model=name,
                                  seconds=round(seconds, 2))
    return {"run": str(run), "source": result["source"], "horizon": h, "points": result["points"],
            "train_values": prep.train_end, "season": data.season, "methods": methods}


def table(rows: list[dict]) -> str:
    lines = [f"{'series':<44} {'h':>2} {'pts':>4} {'method':<15} {'MSE':>11} {'MAE':>10} {'MASE':>7}  model"]
    for row in rows:
        for name, m in row["methods"].items():
            lines.append(f"{Path(row['source']).name[:44]:<44} {row['horizon']:>2} {row['points']:>4} {name:<15} "
                         f"{m['mse']:>11.5g} {m['mae']:>10.5g} {m['mase']:>7.4f}  {m.get('model', '')}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="timeseries run directories")
    parser.add_argument("--model", choices=("auto", "arima", "holt-winters"), default="auto")
    parser.add_argument("--horizon", type=int, default=None, help="steps ahead (default: each run's)")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("timeseries_baselines.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [compare(run, args.model, args.horizon) for run in args.runs]
    print(table(rows))
    args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
