"""Issue 28 on time series: values whose squares overflow are refused by file, row and column; a
date column is continued as dates at the series' own frequency (never printed as a float); a CSV
path that is a folder or a FIFO is named as such."""

import datetime as dt
import math
import os

import pytest
import torch
from test_timeseries import TINY, fails, run, write

import rnnkit
from rnnkit.recipes.timeseries.series import LIMIT, read_csv_column
from rnnkit.recipes.timeseries.timestamps import continue_times, time_axis
from rnnkit.recipes.timeseries.use import serve_forecast


def weekly_csv(path, weeks: int = 60, start=dt.date(2000, 11, 4), value=lambda k: 370 + math.sin(k / 8)):
    """A CO2-like file: ``date`` as YYYYMMDD integers a week apart, then ``co2``."""
    days = [start + dt.timedelta(weeks=k) for k in range(weeks)]
    return write(path, "date,co2\n" + "".join(f"{d:%Y%m%d},{value(k):.3f}\n" for k, d in enumerate(days)))


@pytest.fixture(scope="module")
def weekly_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weekly")
    csv = weekly_csv(folder / "co2.csv")  # ends on 2001-12-22
    assert (
        run(
            [
                "train",
                "timeseries",
                "--csv",
                csv,
                "--column",
                "co2",
                "--time-column",
                "date",
                "--window",
                "8",
                "--season",
                "4",
                "--run-dir",
                folder / "run",
                *TINY,
            ]
        )
        == 0
    )
    return folder / "run"


@pytest.mark.parametrize(
    "times, expected",
    [
        (["20011222", "20011229"], ["20020105", "20020112", "20020119"]),  # weekly, over a new year
        (["20000227", "20000228"], ["20000229", "20000301", "20000302"]),  # daily, over a leap day
        (["1958-03", "1958-04"], ["1958-05", "1958-06", "1958-07"]),  # monthly
        (["2001-01-31", "2001-02-28", "2001-03-31"], ["2001-04-30", "2001-05-31", "2001-06-30"]),  # month ends
        (["2001-01-15", "2001-04-15"], ["2001-07-15", "2001-10-15", "2002-01-15"]),  # quarterly
        (["1700", "1701"], [1702, 1703, 1704]),  # sunspots' years
        (["0.5", "0.75", "1.0"], [1.25, 1.5, 1.75]),
    ],
)
def test_times_continue_at_the_series_own_frequency(times, expected):
    assert continue_times(times, 3) == (expected, "")


@pytest.mark.parametrize(
    "times, why",
    [
        (["2000-01-01", "2000-01-02", "2000-01-04"], "not evenly spaced (YYYY-MM-DD)"),
        (["20011231", "2002-01-07"], "not all dates (YYYYMMDD, YYYY-MM-DD, YYYY-MM) or numbers"),
        (["Q1", "Q2"], "not all dates"),
        (["2001"], "one time value is not enough"),
    ],
)
def test_times_without_a_frequency_give_numbered_steps_and_say_why(times, why):
    after, note = continue_times(times, 3)
    assert after is None and why in note and note.endswith("steps are numbered")


def test_the_plot_axis_reads_dates_as_fractional_years():
    assert time_axis(["20000101", "20000701"], 2) == pytest.approx([2000.0, 2000 + 182 / 366])
    assert time_axis(["a", "b"], 2) == [0, 1] and time_axis(None, 3) == [0, 1, 2]


def test_forecast_continues_a_yyyymmdd_column_as_dates(weekly_run, tmp_path, capsys):
    """Issue 28: CO2's dates were printed as 2.00112e+07 and continued by adding 7 to the integer."""
    capsys.readouterr()
    assert run(["forecast", weekly_run, "--horizon", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "step,time,forecast,lower,upper"
    assert [line.split(",")[:2] for line in lines[1:]] == [["1", "20011229"], ["2", "20020105"], ["3", "20020112"]]
    model = rnnkit.load(weekly_run)
    served = serve_forecast(model, {"values": None, "horizon": 2, "samples": 10, "seed": 0})
    assert [row["time"] for row in served["forecast"]] == ["20011229", "20020105"]
    monthly = write(
        tmp_path / "m.csv", "month,v\n" + "".join(f"{1990 + k // 12}-{k % 12 + 1:02d},{k % 5}\n" for k in range(30))
    )
    assert (
        run(["forecast", weekly_run, "--csv", monthly, "--column", "v", "--time-column", "month", "--horizon", "2"])
        == 0
    )
    assert [line.split(",")[1] for line in capsys.readouterr().out.splitlines()[1:]] == ["1992-07", "1992-08"]
    irregular = write(
        tmp_path / "i.csv", "when,v\n" + "".join(f"2000-01-{d:02d},{d % 3}\n" for d in range(1, 20)) + "2000-01-25,1\n"
    )
    assert (
        run(["forecast", weekly_run, "--csv", irregular, "--column", "v", "--time-column", "when", "--horizon", "2"])
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "step,forecast,lower,upper"
    assert "i.csv column v: the time column's last values are not evenly spaced (YYYY-MM-DD)" in captured.err


@pytest.mark.parametrize("value", ["1e308", "-1.5e101", "1e150"])
def test_values_whose_squares_overflow_are_refused_by_file_row_and_column(tmp_path, capsys, value):
    """Issue 28: a CSV of 1e308 values trained to 'mse inf', said 'finished' and forecast inf/NaN."""
    rows = [f"{t},{t % 7}" for t in range(60)]
    rows[40] = f"40,{value}"
    csv = write(tmp_path / "huge.csv", "t,v\n" + "\n".join(rows) + "\n")
    err = fails(["train", "timeseries", "--csv", csv, "--column", "v", "--run-dir", tmp_path / "run", *TINY], capsys)
    assert err == (
        f"rnnkit train: error: {csv}, row 42: v value '{value}' is outside the range read, -1e+100 to "
        "1e+100 (squares and sums of larger values overflow); rescale the column"
    )
    assert not (tmp_path / "run").exists()


def test_values_at_the_limit_train_to_finite_figures_and_forecasts(tmp_path, capsys):
    csv = write(tmp_path / "big.csv", "t,v\n" + "".join(f"{t},{(t % 7 - 3) * LIMIT / 3:.6g}\n" for t in range(60)))
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
                "5",
                "--season",
                "7",
                "--run-dir",
                tmp_path / "run",
                *TINY,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("test, 1-step forecasts") and "inf" not in out and "nan" not in out
    assert run(["forecast", tmp_path / "run", "--horizon", "3"]) == 0
    rows = [list(map(float, line.split(",")[2:])) for line in capsys.readouterr().out.splitlines()[1:]]
    assert len(rows) == 3 and all(math.isfinite(v) for row in rows for v in row)
    model = rnnkit.load(tmp_path / "run")
    with pytest.raises(ValueError, match=r"^values: value 4 \(1e\+308\) is not a number from -1e\+100 to 1e\+100$"):
        model.forecast(torch.tensor([1.0] * 4 + [1e308], dtype=torch.float64), 2, "values", 10)


def test_a_series_too_flat_to_scale_is_refused(tmp_path, capsys):
    csv = write(tmp_path / "flat.csv", "t,v\n" + "".join(f"{t},{(t % 7) * 1e-120:.3g}\n" for t in range(60)))
    err = fails(
        [
            "train",
            "timeseries",
            "--csv",
            csv,
            "--column",
            "v",
            "--window",
            "5",
            "--season",
            "7",
            "--run-dir",
            tmp_path / "run",
            *TINY,
        ],
        capsys,
    )
    assert (
        f"{csv} column v: the training part's values vary by" in err and "less than 1e-100: too little to scale" in err
    )


def test_a_csv_that_is_a_folder_or_a_fifo_is_named(weekly_run, tmp_path, capsys):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    capsys.readouterr()
    for path, what in ((tmp_path, "is a directory"), (fifo, "not a regular file (a FIFO (named pipe))")):
        assert f"{path}: {what}; expected a CSV file" in fails(
            ["forecast", weekly_run, "--csv", path, "--column", "co2"], capsys
        )
        assert f"{path}: {what}; expected a CSV file" in fails(
            ["train", "timeseries", "--csv", path, "--column", "v", "--run-dir", tmp_path / "run", *TINY], capsys
        )
    with pytest.raises(ValueError, match="is a directory"):
        read_csv_column(tmp_path, "v")


@pytest.mark.parametrize(
    "target, normalise", [("level", "--normalise"), ("change", "--normalise"), ("level", "--no-normalise")]
)
def test_a_value_too_far_from_the_training_part_is_refused(tmp_path, capsys, target, normalise):
    """In range, but 1e50 where training saw 0 to 6: scaled, it would overflow float32 (inf, NaN)."""
    rows = [f"{t},{t % 7}" for t in range(60)]
    rows[58] = "58,1e50"  # in the held-out tail
    csv = write(tmp_path / "far.csv", "t,v\n" + "\n".join(rows) + "\n")
    err = fails(
        [
            "train",
            "timeseries",
            "--csv",
            csv,
            "--column",
            "v",
            "--window",
            "5",
            "--season",
            "7",
            "--target",
            target,
            normalise,
            "--run-dir",
            tmp_path / "run",
            *TINY,
        ],
        capsys,
    )
    assert f"{csv} column v: its " in err and "training standard deviations, more than the 1e+12 the network" in err


def test_forecast_of_a_series_far_from_the_runs_is_refused(weekly_run, tmp_path, capsys):
    far = weekly_csv(tmp_path / "far.csv", value=lambda k: 1e40 if k == 59 else 370.0)
    capsys.readouterr()
    err = fails(["forecast", weekly_run, "--csv", far, "--column", "co2"], capsys)
    assert f"{far} column co2: its distance from the training mean is" in err and "more than the 1e+12" in err
