"""The timeseries recipe: multi-step forecasts of a pure sine, forecasts after a series, the
normaliser fitted on the training part only, the presets on the shared real series, and every bad
input of issue 16 as a one-line error."""

import math
import os
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.recipes.timeseries.config import PRESETS
from rnnkit.recipes.timeseries.data import SeriesDataConfig, examples, prepare
from rnnkit.recipes.timeseries.normaliser import Normaliser
from rnnkit.recipes.timeseries.series import noisy_sines, sine_wave
from rnnkit.train import config as cfg

SHARED = Path(os.environ.get("RNNKIT_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
FIXTURES = Path(__file__).parents[1] / "fixtures" / "timeseries"
TINY = (
    "--hidden-size",
    "8",
    "--batch-size",
    "8",
    "--max-steps",
    "4",
    "--eval-every",
    "2",
    "--warmup-steps",
    "0",
    "--quiet",
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run(argv) -> int:
    return main([str(a) for a in argv])


def fails(argv, capsys) -> str:
    """The one-line error of a command that must exit 2."""
    assert run(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    """A small LSTM trained on the generated sine, scored 10 steps ahead (a few seconds)."""
    folder, threads = tmp_path_factory.mktemp("sine") / "run", torch.get_num_threads()
    try:  # one thread: a small LSTM gains nothing from two, and loses much when the cores are busy
        assert (
            run(
                [
                    "train",
                    "timeseries",
                    "--run-dir",
                    folder,
                    "--hidden-size",
                    "32",
                    "--max-steps",
                    "1500",
                    "--eval-every",
                    "500",
                    "--horizon",
                    "10",
                    "--quiet",
                    "--threads",
                    "1",
                ]
            )
            == 0
        )
        yield folder
    finally:
        torch.set_num_threads(threads)


def test_multi_step_forecasts_of_a_pure_sine_reach_a_small_error(sine_run, capsys):
    capsys.readouterr()
    model = rnnkit.load(sine_run)
    result = model.evaluate("test", horizon=10, plot=None)
    lstm, naive = result["methods"]["lstm"], result["methods"]["naive"]
    assert result["points"] == 150 and lstm["mse"] < 1e-3 and lstm["mse"] < naive["mse"] / 100
    assert lstm["mse"] < result["methods"]["seasonal_naive"]["mse"]
    assert 0.5 <= result["interval_95_coverage"] <= 1.0
    # 30 values after the end of the series, fed back one after another, against the true sine
    assert run(["forecast", str(sine_run), "--horizon", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "step,forecast,lower,upper" and len(lines) == 31
    forecast = torch.tensor([float(line.split(",")[1]) for line in lines[1:]], dtype=torch.float64)
    truth = sine_wave(1030, 20 * torch.pi, 0).values[1000:]
    assert float((forecast - truth).pow(2).mean()) < 5e-3
    lower, upper = ([float(line.split(",")[k]) for line in lines[1:]] for k in (2, 3))
    assert all(lo <= f <= up for lo, f, up in zip(lower, forecast.tolist(), upper))


def test_eval_and_report_files(sine_run, capsys):
    for name in ("report_test.json", "forecast_test.png", "best.safetensors"):
        assert (sine_run / name).is_file(), name
    capsys.readouterr()
    assert run(["eval", str(sine_run), "--horizon", "1", "--plot", str(sine_run / "one.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("test, 1-step forecasts of 150 points of sine") and "seasonal_naive" in out
    assert (sine_run / "one.png").stat().st_size > 1000


def test_forecast_of_a_csv_and_its_bad_inputs(sine_run, tmp_path, capsys):
    good = write(
        tmp_path / "g.csv",
        "t,y\n" + "".join(f"{t},{v:.6f}\n" for t, v in enumerate(sine_wave(40, 20 * torch.pi, 5).values.tolist())),
    )
    assert (
        run(["forecast", str(sine_run), "--csv", str(good), "--column", "y", "--time-column", "t", "--horizon", "2"])
        == 0
    )
    assert capsys.readouterr().out.startswith("step,time,forecast,lower,upper\n1,40,")
    trained = str(sine_run)
    assert "no column 'x'; the columns are t, y" in fails(["forecast", trained, "--csv", good, "--column", "x"], capsys)
    short = write(tmp_path / "s.csv", "t,y\n1,0.5\n2,0.6\n")
    assert "the series has 2 values, fewer than the run's window 20" in fails(
        ["forecast", trained, "--csv", short, "--column", "y"], capsys
    )
    bad = write(tmp_path / "b.csv", "t,y\n1,0.5\n2,zero\n")
    assert "b.csv, row 3: y value 'zero' is not a finite number" in fails(
        ["forecast", trained, "--csv", bad, "--column", "y"], capsys
    )


def test_training_on_bad_csvs_is_a_one_line_error(tmp_path, capsys):
    opts = ["--run-dir", tmp_path / "run", *TINY]
    rows = "".join(f"{t},{t % 7}\n" for t in range(60))
    good = write(tmp_path / "ok.csv", "t,v\n" + rows)
    assert "no column 'value'; the columns are t, v" in fails(
        ["train", "timeseries", "--csv", good, "--column", "value", *opts], capsys
    )
    assert "--column: name the column of" in fails(["train", "timeseries", "--csv", good, *opts], capsys)
    gaps = write(tmp_path / "gaps.csv", "t,v\n" + rows + "60,\n61,3\n62,\n")
    assert "2 empty v values (rows 62, 64); use --gaps interpolate" in fails(
        ["train", "timeseries", "--csv", gaps, "--column", "v", "--gaps", "refuse", "--window", "5", *opts], capsys
    )
    text = write(tmp_path / "text.csv", "t,v\n" + rows + "60,n/a\n")
    assert "text.csv, row 62: v value 'n/a' is not a finite number" in fails(
        ["train", "timeseries", "--csv", text, "--column", "v", *opts], capsys
    )
    short = write(tmp_path / "short.csv", "t,v\n" + "".join(f"{t},{t}\n" for t in range(12)))
    assert "the series has 12 values, fewer than window 10 + horizon 3 = 13" in fails(
        ["train", "timeseries", "--csv", short, "--column", "v", "--window", "10", "--horizon", "3", *opts], capsys
    )
    assert "--csv nowhere.csv: no such file" in fails(
        ["train", "timeseries", "--csv", "nowhere.csv", "--column", "v", *opts], capsys
    )
    assert not (tmp_path / "run").exists()  # no run directory for a run that never started


def test_gaps_are_interpolated_and_reported(tmp_path, capsys):
    assert (
        run(
            [
                "train",
                "timeseries",
                "--csv",
                FIXTURES / "tiny.csv",
                "--column",
                "value",
                "--window",
                "8",
                "--season",
                "12",
                "--run-dir",
                tmp_path / "run",
                *TINY,
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "1 empty values linearly interpolated between their neighbours (row 32" in captured.err
    assert "1 empty values in the series were linearly interpolated" in captured.out


def test_a_checkpoint_of_another_recipe(tmp_path, capsys):
    """The recipe contract refuses it: ``forecast`` on a names run, --resume of a names run."""
    names = tmp_path / "names"
    assert (
        run(
            [
                "train",
                "names",
                "--data-dir",
                Path(__file__).parents[1] / "fixtures" / "names",
                "--hidden-size",
                "8",
                "--embedding-dim",
                "8",
                "--max-steps",
                "2",
                "--max-minutes",
                "0",
                "--run-dir",
                names,
                "--quiet",
                "--members",
                "1",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert "a names model has no command 'forecast'" in fails(["forecast", names, "--horizon", "3"], capsys)
    assert "that run is of recipe 'names', not 'timeseries'" in fails(
        ["train", "timeseries", "--resume", names], capsys
    )


def test_missing_data_dir_names_the_way_to_point_at_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    err = fails(["train", "timeseries", "--preset", "sunspots", "--run-dir", tmp_path / "run", *TINY], capsys)
    assert f"timeseries not found in {tmp_path}" in err and "get it with: rnnkit data get timeseries" in err


@pytest.mark.parametrize("target", ["level", "change"])
def test_the_normaliser_sees_the_training_part_only(tmp_path, target, capsys):
    """200 values: the first 150 (training) swing around 10, the validation and test parts around
    1000 with steps ten times larger, so statistics of the whole series would differ by orders of
    magnitude; the normaliser, the training windows and the checkpoint must hold the training part's."""
    values = [10 + math.sin(t / 3) + 0.1 * (t % 7) for t in range(150)] + [
        1000 + 10 * math.sin(t / 3) + (t % 5) for t in range(150, 200)
    ]
    csv = write(tmp_path / "levels.csv", "t,v\n" + "".join(f"{t},{v:.6f}\n" for t, v in enumerate(values)))
    data = SeriesDataConfig(csv=str(csv), column="v", time_column="t", window=8, season=12, target=target)
    prep = prepare(data)
    assert (prep.train_end, prep.valid_end) == (150, 170)
    train, whole = prep.series.values[:150], prep.series.values
    expected = Normaliser(float(train.mean()), float(train.std()), float(train.diff().std()), target)
    assert same(prep.normaliser, expected)
    everything = Normaliser.fit(whole, target)  # what a leak would give: far from the training part's
    assert abs(everything.std - expected.std) > 100 * expected.std
    assert abs(everything.step_std - expected.step_std) > expected.step_std
    inputs, targets = map(torch.stack, zip(*examples(prep, 0, prep.train_end, 8)))
    raw = train.unfold(0, 8, 1)[:-1]  # the windows before targets 8..149
    base = raw[:, -1:] if target == "change" else expected.mean
    assert torch.allclose(inputs.double(), (raw - base) / expected.std, atol=1e-5)
    step = train[8:] - raw[:, -1] if target == "change" else train[8:] - expected.mean
    assert torch.allclose(
        targets.double(), step / (expected.step_std if target == "change" else expected.std), atol=1e-5
    )
    run_dir = tmp_path / "run"  # and what the recipe trains with and keeps in its checkpoint
    assert (
        run(
            [
                "train",
                "timeseries",
                "--csv",
                csv,
                "--column",
                "v",
                "--window",
                "8",
                "--season",
                "12",
                "--target",
                target,
                "--run-dir",
                run_dir,
                "--threads",
                "1",
                *TINY,
            ]
        )
        == 0
    )
    assert same(rnnkit.load(run_dir).normaliser, expected)


def same(norm: Normaliser, expected: Normaliser) -> bool:
    return norm.target == expected.target and (norm.mean, norm.std, norm.step_std) == pytest.approx(
        (expected.mean, expected.std, expected.step_std), rel=1e-9
    )


@pytest.mark.skipif(not (SHARED / "timeseries").is_dir(), reason=f"{SHARED}/timeseries not present")
@pytest.mark.parametrize("preset, length, gaps", [("sunspots", 309, 0), ("co2", 2284, 59)])
def test_presets_read_the_shared_series(preset, length, gaps, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(SHARED))
    sections = cfg.apply({"data": SeriesDataConfig()}, {"data": PRESETS[preset]["data"]})
    prep = prepare(sections["data"])
    assert len(prep.series) == length and len(prep.series.gap_rows) == gaps
    assert prep.valid_end == length - round(length * 0.15)
    train = prep.series.values[: prep.train_end]
    assert prep.normaliser.mean == pytest.approx(float(train.mean()))  # the training part only


def test_the_classical_baselines_forecast_from_the_origin_only(monkeypatch):
    """benchmarks/scripts/timeseries_classical.py: an h-step forecast of y[t] is the same whatever follows
    y[t - h]; transforms invert exactly."""
    pytest.importorskip("statsmodels")
    import numpy as np

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks" / "scripts"))
    import timeseries_classical as classical

    y = 5 + noisy_sines(160, 20.0, 0.2, 3).values.numpy()
    for transform in classical.transforms_for(y[:120], 20):
        assert np.allclose(transform.inverse(transform.forward(y)), y)
    targets, h = [125, 140, 159], 3
    for family, model in (
        ("arima", classical.arima_spec(2, 0, 1)),
        ("ets", {"error": "add", "trend": "add", "damped_trend": True, "seasonal": None, "seasonal_periods": None}),
    ):
        fitted = classical.fit(family, classical.Transform("boxcox", 0.5), model, y[:120])
        for horizon in (1, h):
            forecasts = fitted.forecasts(y, targets, horizon)
            for t, value in zip(targets, forecasts):
                altered = y.copy()
                altered[t - horizon + 1 :] += 50.0  # everything after the origin
                assert fitted.forecasts(altered, [t], horizon)[0] == pytest.approx(value, rel=1e-9)
            assert np.isfinite(forecasts).all() and np.abs(forecasts - y[targets]).max() < 3
