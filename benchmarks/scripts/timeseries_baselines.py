"""Classical forecasters beside rnnkit's LSTM on the same held-out points of each series.

    pip install -e '.[bench]'   # statsmodels: not a dependency of rnnkit
    python benchmarks/scripts/timeseries_baselines.py RUN [RUN ...] [--json FILE] [--json-multistep FILE]

RUNs are ``rnnkit train timeseries`` run directories; runs of the same series and horizon (seeds)
form one row. For each row, on rnnkit's own split of the series (``TrainedForecaster.prepared``):

1. a bounded automatic search, fitted on the training part only, for each transform (none; for a
   series never negative, Box-Cox with lambda by Guerrero's method, and the square root where it
   holds zeros): the ARIMA(p, d, q) of lowest AIC (p <= 10, q <= 3, d by a KPSS test, constant or
   drift; for a calendar season, weekly or monthly dates, 0-3 Fourier pairs of the year chosen
   first) and the ETS variant of lowest AIC (error, trend, damping, season);
2. among those winners the one of lowest validation MASE (``horizon``-step forecasts of the
   validation points, parameters from the training fit) is the chosen model;
3. every winner is refitted on training + validation and forecasts the test tail (``test_mase``;
   null with ``refit_error`` where the refit fails, as on the noise-free sine). The LSTM is not
   refitted: its weights see the training part only, so the test MASE of the training-only fit
   (``test_mase_train_fit``) is reported beside it; the LSTM's is the mean, sd (n - 1), min and max
   over the seeds.

MASE, the naive and seasonal-naive forecasts and the points scored are rnnkit's
(``rnnkit.metrics.forecasting``, ``rnnkit.recipes.timeseries.evaluate.evaluate_split``); the test tail is
never used to choose anything. The search runs once per series (its horizons share it). Writes the
table, the one-step rows to ``--json`` and the multi-step rows to ``--json-multistep``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from timeseries_classical import Plan, family_winners

from rnnkit.metrics.forecasting import mase_scale, scores
from rnnkit.recipes.timeseries.evaluate import evaluate_split
from runs import run_of

RESULTS = Path(__file__).resolve().parents[1] / "results" / "timeseries"


def series_name(trained) -> str:
    data = trained.sections["data"]
    return Path(data.csv).stem if data.csv else data.signal


def calendar_period(times) -> float:
    """Steps per year when the time column holds YYYYMMDD dates a week or a month apart, else 0."""
    if not times or not all(len(t) == 8 and t.isdigit() for t in times[:50]):
        return 0.0
    days = np.diff([np.datetime64(f"{t[:4]}-{t[4:6]}-{t[6:]}") for t in times[:50]]).astype(int)
    spacing = float(np.median(days))
    return 365.25 / 7 if spacing == 7 else 12.0 if 28 <= spacing <= 31 else 0.0


def lstm_scores(trained, horizon: int) -> dict:
    """The run's validation and test results (rnnkit's evaluation, no intervals)."""
    data, prep = trained.sections["data"], trained.prepared()
    return {
        split: evaluate_split(trained.model, prep, split, horizon, data.window, data.season, intervals=False)
        for split in ("valid", "test")
    }


def spread(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def compare(name: str, runs: list, horizon: int, max_p: int, max_q: int, searched: dict) -> dict:
    """One row: the LSTM seeds and the classical search on the same split and points (``searched``
    keeps each series' family winners for its other horizons)."""
    start = time.perf_counter()
    first = runs[0]
    data, prep = first.sections["data"], first.prepared()
    per_run = [lstm_scores(trained, horizon) for trained in runs]
    for trained, result in zip(runs, per_run):
        if [r["targets"] for r in result.values()] != [r["targets"] for r in per_run[0].values()]:
            raise SystemExit(f"{trained.run_dir}: another split or window than {first.run_dir}")
    values = prep.series.values
    y, valid_t, test_t = values.numpy(), per_run[0]["valid"]["targets"], per_run[0]["test"]["targets"]
    scale = mase_scale(values[: prep.train_end], data.season)

    def mase(predicted: np.ndarray, targets: list[int]) -> float:
        return scores(torch.from_numpy(np.asarray(predicted, dtype=np.float64)), values[targets], scale)["mase"]

    period = calendar_period(prep.series.times)
    plan = Plan(data.season, max_p, max_q, calendar_period=period)
    print(
        f"{name}, h = {horizon}: train {prep.train_end}, validation {len(valid_t)}, test {len(test_t)} points; "
        f"season {data.season}{f', calendar year {period:.4g} steps' if period else ''}",
        flush=True,
    )
    key = (prep.series.source, prep.train_end, data.season)
    if key not in searched:
        search_start = time.perf_counter()
        searched[key] = (family_winners(y[: prep.train_end], plan), time.perf_counter() - search_start)
    winners, search_seconds = searched[key]
    candidates = []
    for fitted in winners:
        row = {
            "family": fitted.group,
            "transform": fitted.transform.label,
            "model": fitted.label,
            "aic_train": fitted.aic,
            **fitted.roots,
            "fits": fitted.searched,
            "failed_fits": fitted.failed,
            "search_seconds": round(fitted.seconds, 2),
            "valid_mase": mase(fitted.forecasts(y, valid_t, horizon), valid_t),
            "test_mase_train_fit": mase(fitted.forecasts(y, test_t, horizon), test_t),
        }
        try:
            refit = fitted.refit(y[: prep.valid_end])
            row.update(test_mase=mase(refit.forecasts(y, test_t, horizon), test_t), refit_roots=refit.roots)
        except (np.linalg.LinAlgError, ValueError, RuntimeError) as err:
            row.update(test_mase=None, refit_error=str(err))
        candidates.append(row)
    chosen = min(candidates, key=lambda c: c["valid_mase"])
    lstm_test = [r["test"]["methods"]["lstm"]["mase"] for r in per_run]
    lstm_valid = [r["valid"]["methods"]["lstm"]["mase"] for r in per_run]
    test_methods, valid_methods = per_run[0]["test"]["methods"], per_run[0]["valid"]["methods"]
    return {
        "series": name,
        "source": prep.series.source,
        "horizon": horizon,
        "train_values": prep.train_end,
        "valid_points": len(valid_t),
        "test_points": len(test_t),
        "first_test_target": test_t[0],
        "season": data.season,
        "mase_scale": scale,
        "selection": "orders and variants by AIC on the training part within each family and transform; "
        "the family winner of lowest validation MASE; refitted on training + validation for the "
        "test tail",
        "chosen": chosen,
        "lstm": {
            "runs": [str(t.run_dir) for t in runs],
            "seeds": [t.sections["train"].seed for t in runs],
            "test_mase": lstm_test,
            "valid_mase": lstm_valid,
            "test": spread(lstm_test),
        },
        "naive": {"valid_mase": valid_methods["naive"]["mase"], "test_mase": test_methods["naive"]["mase"]},
        **(
            {
                "seasonal_naive": {
                    "valid_mase": valid_methods["seasonal_naive"]["mase"],
                    "test_mase": test_methods["seasonal_naive"]["mase"],
                }
            }
            if data.season
            else {}
        ),
        "candidates": candidates,
        "search_seconds": round(search_seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def table(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        lstm = row["lstm"]["test"]
        lines += [
            f"\n{row['series']}, h = {row['horizon']}: {row['test_points']} test points "
            f"(validation {row['valid_points']}, training {row['train_values']} values)",
            f"  LSTM, {len(row['lstm']['seeds'])} seeds: test MASE {lstm['mean']:.4f} +- {lstm['sd']:.4f} "
            f"(min {lstm['min']:.4f}, max {lstm['max']:.4f}); naive {row['naive']['test_mase']:.4f}"
            + (f", seasonal naive {row['seasonal_naive']['test_mase']:.4f}" if "seasonal_naive" in row else ""),
            f"  {'family':<16} {'valid':>7} {'test':>7} {'test*':>7}  model (* fitted on training only)",
        ]
        for c in row["candidates"]:
            mark = "<" if c is row["chosen"] or c == row["chosen"] else " "
            refit = "failed" if c["test_mase"] is None else f"{c['test_mase']:.4f}"
            lines.append(
                f"{mark} {c['family']:<16} {c['valid_mase']:>7.4f} {refit:>7} "
                f"{c['test_mase_train_fit']:>7.4f}  {c['model']}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=run_of("timeseries"), help="timeseries run directories")
    parser.add_argument("--horizon", type=int, default=None, help="steps ahead (default: each run's)")
    parser.add_argument("--max-p", type=int, default=10, help="largest AR order searched")
    parser.add_argument("--max-q", type=int, default=3, help="largest MA order searched")
    parser.add_argument(
        "--json", type=Path, default=RESULTS / "timeseries_baselines.json", help="where the one-step rows go"
    )
    parser.add_argument(
        "--json-multistep",
        type=Path,
        default=RESULTS / "timeseries_baselines_multistep.json",
        help="where the rows of horizons above 1 go",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    groups: dict[tuple[str, int], list] = {}
    for trained in args.runs:
        horizon = args.horizon or trained.sections["data"].horizon
        groups.setdefault((series_name(trained), horizon), []).append(trained)
    searched: dict = {}
    rows = [compare(name, runs, horizon, args.max_p, args.max_q, searched) for (name, horizon), runs in groups.items()]
    print(table(rows))
    for path, part in (
        (args.json, [r for r in rows if r["horizon"] == 1]),
        (args.json_multistep, [r for r in rows if r["horizon"] > 1]),
    ):
        if part:
            path.write_text(json.dumps(part, indent=1) + "\n")
            print(f"written: {path}")
    print(f"whole script: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
