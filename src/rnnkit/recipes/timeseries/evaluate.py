"""The timeseries recipe's figures: forecasts of a split's points beside the naive baselines,
95% intervals, the truth-vs-forecast plot and forecasts after the end of a series.

Shape legend: N forecast points, W window, H horizon, S sampled paths.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from rnnkit.metrics.forecasting import coverage, mase_scale, naive, scores, seasonal_naive
from rnnkit.objectives.supervised import evaluating
from rnnkit.recipes.timeseries.model import recursive_forecast, sample_paths
from rnnkit.recipes.timeseries.series import window_targets
from rnnkit.recipes.timeseries.timestamps import time_axis

Z95 = 1.959964  # two-sided 95% normal quantile
CHUNK = 8192  # windows per forward pass when sampling paths


def contexts(values: Tensor, targets: list[int], window: int, horizon: int) -> Tensor:
    """(N, W) the windows that end at each target's forecast origin ``t - horizon``."""
    index = torch.tensor(targets, dtype=torch.long)[:, None] - horizon - window + 1 + torch.arange(window)
    return values[index]


def forecast_with_interval(
    model, context: Tensor, horizon: int, scaler, samples: int = 200, seed: int = 0, intervals: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """Means (N, H) fed back step by step, and the 95% interval's lower and upper bounds (N, H).

    ``gaussian`` head: step 1 is mean +- 1.96 sd; later steps take the 2.5% and 97.5% quantiles
    of ``samples`` sampled paths (seeded). ``point`` head, or ``intervals=False``: the bounds
    equal the means.
    """
    with evaluating(model):
        means, sds = recursive_forecast(model, context, horizon, scaler)
        if not intervals or model.config.head != "gaussian":
            return means, means.clone(), means.clone()
        lower, upper = means - Z95 * sds, means + Z95 * sds
        if horizon > 1:
            generator = torch.Generator().manual_seed(seed)
            per_call = max(1, CHUNK // max(len(context), 1))
            paths = torch.cat(
                [
                    sample_paths(model, context, horizon, scaler, min(per_call, samples - done), generator)
                    for done in range(0, samples, per_call)
                ]
            )  # (S, N, H)
            lower[:, 1:] = paths[:, :, 1:].quantile(0.025, dim=0)
            upper[:, 1:] = paths[:, :, 1:].quantile(0.975, dim=0)
    return means, lower, upper


def evaluate_split(
    model,
    prep,
    split: str,
    horizon: int,
    window: int,
    season: int = 0,
    plot: Optional[str] = None,
    intervals: bool = True,
) -> dict:
    """Scores of ``horizon``-step forecasts of every point of ``split`` ('valid' or 'test').

    Each point ``y[t]`` is forecast from the window ending at ``t - horizon`` (earlier predictions
    fed back); the naive forecast is ``y[t - horizon]`` and the seasonal-naive one the value a whole
    number of seasons before, known at the same origin. MASE divides by the training part's
    in-sample (seasonal) naive MAE. Points that were empty in the file (interpolated) are inputs
    but never scored.
    """
    values, total = prep.series.values, len(prep.series)
    start, end = {"valid": (prep.train_end, prep.valid_end), "test": (prep.valid_end, total)}[split]
    filled = set(prep.series.gap_index)
    targets = [t for t in window_targets(start, end, window, horizon) if t not in filled]
    if not targets:
        raise ValueError(
            f"{prep.series.source}: the {split} part has no point with {window + horizon - 1} values before it"
        )
    truth = values[targets]
    means, lower, upper = forecast_with_interval(
        model, contexts(values, targets, window, horizon), horizon, prep.normaliser, intervals=intervals
    )
    predicted, lower, upper = means[:, -1], lower[:, -1], upper[:, -1]
    scale = mase_scale(values[: prep.train_end], season)
    methods = {"lstm": scores(predicted, truth, scale), "naive": scores(naive(values, targets, horizon), truth, scale)}
    if season:
        methods["seasonal_naive"] = scores(seasonal_naive(values, targets, season, horizon), truth, scale)
    result = {
        "split": split,
        "horizon": horizon,
        "points": len(targets),
        "first_target": targets[0],
        "source": prep.series.source,
        "window": window,
        "season": season,
        "mase_scale": scale,
        "gaps_interpolated": len(prep.series.gap_rows),
        "unscored_gaps": len(filled.intersection(range(start, end))),
        "methods": methods,
    }
    if intervals and model.config.head == "gaussian":
        result["interval_95_coverage"] = coverage(lower, upper, truth)
    if plot:
        result["plot"] = str(plot_forecast(plot, prep, targets, predicted, lower, upper, result))
    result["targets"], result["forecast"] = targets, predicted.tolist()
    return result


def describe_result(result: dict) -> str:
    """The scores as a small table, the interval's coverage and the plot."""
    lines = [
        f"{result['split']}, {result['horizon']}-step forecasts of {result['points']} points of "
        f"{result['source']} (MASE scale {result['mase_scale']:.4g}"
        f"{', season ' + str(result['season']) if result['season'] else ''})",
        f"{'method':<16} {'MSE':>12} {'MAE':>12} {'MASE':>8}",
    ]
    for name, row in result["methods"].items():
        lines.append(f"{name:<16} {row['mse']:>12.6g} {row['mae']:>12.6g} {row['mase']:>8.4f}")
    if "interval_95_coverage" in result:
        lines.append(f"95% interval coverage: {result['interval_95_coverage']:.3f}")
    if result.get("gaps_interpolated"):
        lines.append(
            f"{result['gaps_interpolated']} empty values in the series were linearly interpolated "
            f"({result['unscored_gaps']} of them in this part, not scored)"
        )
    if "plot" in result:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)


def plot_forecast(path: str, prep, targets: list[int], predicted: Tensor, lower: Tensor, upper: Tensor, result: dict):
    """Truth (with some history before the split) against the forecast and its interval, as a PNG."""
    from rnnkit.train.plots import pyplot, save_figure

    plt = pyplot()
    values = prep.series.values
    first = max(0, targets[0] - len(targets) // 2)
    x = time_axis(prep.series.times, len(values))
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=120)
    ax.plot(x[first : targets[-1] + 1], values[first : targets[-1] + 1].tolist(), color="black", lw=1.0, label="truth")
    xs = [x[t] for t in targets]
    lstm = result["methods"]["lstm"]
    ax.plot(
        xs,
        predicted.tolist(),
        color="tab:red",
        lw=1.0,
        label=f"LSTM {result['horizon']}-step (MASE {lstm['mase']:.3f})",
    )
    if not torch.equal(lower, upper):
        ax.fill_between(xs, lower.tolist(), upper.tolist(), color="tab:red", alpha=0.2, label="95% interval")
    ax.axvline(xs[0], color="grey", ls="--", lw=0.8)
    naive_mase = result["methods"]["naive"]["mase"]
    ax.set_title(f"{result['source']}: {result['split']} part, naive MASE {naive_mase:.3f}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def future_rows(
    model, values: Tensor, window: int, horizon: int, scaler, samples: int = 200, seed: int = 0
) -> list[tuple[int, float, float, float]]:
    """(step, mean, lower, upper) for the ``horizon`` values after ``values`` (T,)."""
    context = values[-window:].double()[None]
    means, lower, upper = forecast_with_interval(model, context, horizon, scaler, samples, seed)
    return [(k + 1, float(means[0, k]), float(lower[0, k]), float(upper[0, k])) for k in range(horizon)]
