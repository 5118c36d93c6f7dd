"""The time-series data layer: the CSV column reader and its gaps and errors, generated signals,
the split, windows that never leak held-out values, the normaliser, baselines and scores."""

import math

import pytest
import torch
from test_timeseries import SHARED, write

from rnnkit.metrics.forecasting import mase_scale, naive, scores, seasonal_naive
from rnnkit.recipes.timeseries.normaliser import Normaliser
from rnnkit.recipes.timeseries.series import (
    interpolate_gaps,
    noisy_sines,
    read_csv_column,
    sine_wave,
    split_points,
    window_targets,
    windows,
)


def test_reader_reads_a_quoted_header_and_a_time_column(tmp_path):
    path = write(tmp_path / "s.csv", '"YEAR","SUN"\n1700,5\n1701,11\n1702,16\n')
    series = read_csv_column(path, "SUN", "YEAR")
    assert series.values.tolist() == [5.0, 11.0, 16.0] and series.times == ["1700", "1701", "1702"]
    assert series.gap_rows == [] and series.gap_note() == ""


def test_gaps_are_interpolated_linearly_never_read_as_zero(tmp_path):
    path = write(tmp_path / "g.csv", "t,v\n1,1.0\n2,\n3,\n4,4.0\n5,\n")
    series = read_csv_column(path, "v")
    assert series.values.tolist() == [1.0, 2.0, 3.0, 4.0, 4.0]
    assert series.gap_rows == [3, 4, 6]
    assert "3 empty values linearly interpolated" in series.gap_note() and "rows 3, 4, 6" in series.gap_note()


def test_gaps_refused_name_the_rows(tmp_path):
    path = write(tmp_path / "g.csv", "t,v\n1,1.0\n2,\n3,3\n4, \n")
    with pytest.raises(ValueError, match=r"g.csv: 2 empty v values \(rows 3, 5\); use --gaps interpolate"):
        read_csv_column(path, "v", gaps="refuse")


def test_a_non_numeric_value_names_the_file_and_row(tmp_path):
    path = write(tmp_path / "bad.csv", "t,v\n1,1.0\n2,2.5\n3,abc\n")
    with pytest.raises(ValueError, match=r"bad.csv, row 4: v value 'abc' is not a finite number"):
        read_csv_column(path, "v")
    with pytest.raises(ValueError, match=r"row 2: v value 'inf'"):
        read_csv_column(write(tmp_path / "inf.csv", "t,v\n1,inf\n"), "v")


def test_a_missing_column_lists_the_columns(tmp_path):
    path = write(tmp_path / "c.csv", "date,co2\n1,2\n")
    with pytest.raises(ValueError, match=r"c.csv: no column 'CO2'; the columns are date, co2"):
        read_csv_column(path, "CO2")
    with pytest.raises(ValueError, match=r"no column 'when'; the columns are date, co2"):
        read_csv_column(path, "co2", time_column="when")


def test_interpolate_gaps_edges_take_the_nearest_value():
    values = torch.tensor([math.nan, 2.0, math.nan, 6.0, math.nan], dtype=torch.float64)
    assert interpolate_gaps(values).tolist() == [2.0, 2.0, 4.0, 6.0, 6.0]


def test_generated_signals_are_seeded():
    assert torch.equal(sine_wave(100, 20.0, 3).values, sine_wave(100, 20.0, 3).values)
    assert not torch.equal(sine_wave(100, 20.0, 3).values, sine_wave(100, 20.0, 4).values)
    a, b = noisy_sines(200, 50.0, 0.2, 1), noisy_sines(200, 50.0, 0.2, 1)
    assert torch.equal(a.values, b.values) and len(a) == 200


def test_split_leaves_the_tail_for_testing_and_refuses_short_series():
    assert split_points(100, 10, 1, 0.1, 0.2, "s") == (70, 80)
    with pytest.raises(ValueError, match=r"^s: the series has 10 values, fewer than window 8 \+ horizon 3 = 11$"):
        split_points(10, 8, 3, 0.1, 0.1, "s")
    with pytest.raises(ValueError, match=r"remain for training, fewer than window 8"):
        split_points(12, 8, 1, 0.2, 0.3, "s")


def test_training_windows_never_see_a_held_out_value():
    """Change every validation and test value: the training inputs, targets and the normaliser
    do not move."""
    values = sine_wave(300, 25.0, 0).values
    train_end, _ = split_points(len(values), 20, 1, 0.1, 0.2, "s")
    targets = window_targets(0, train_end, 20)
    altered = values.clone()
    altered[train_end:] = 1e6
    for series in (values, altered):
        inputs, outputs = windows(series, targets, 20)
        assert float(inputs.abs().max()) <= 1.0 and float(outputs.abs().max()) <= 1.0
    assert torch.equal(windows(values, targets, 20)[0], windows(altered, targets, 20)[0])
    assert Normaliser.fit(values[:train_end]) == Normaliser.fit(altered[:train_end])
    assert max(targets) == train_end - 1  # the last training target is the last training value
    index = torch.tensor(targets)[:, None] - 20 + torch.arange(20)
    assert int(index.max()) < train_end and int(index.min()) >= 0


def test_window_targets_keep_room_for_the_horizon():
    assert window_targets(0, 10, 4, 1) == [4, 5, 6, 7, 8, 9]
    assert window_targets(0, 10, 4, 3) == [6, 7, 8, 9]
    inputs, target = windows(torch.arange(10.0), [4, 9], 4)
    assert inputs.tolist() == [[0, 1, 2, 3], [5, 6, 7, 8]] and target.tolist() == [4, 9]


@pytest.mark.parametrize("target", ["level", "change"])
def test_normaliser_round_trips(target):
    train = torch.linspace(10, 20, 50, dtype=torch.float64)
    norm = Normaliser.fit(train, target)
    window, nxt = train[None, -5:], torch.tensor([21.0], dtype=torch.float64)
    assert torch.allclose(norm.decode(norm.encode_target(nxt, window), window), nxt)
    assert Normaliser.from_json(norm.to_json()) == norm
    assert Normaliser.fit(train, target, enabled=False).std == 1.0


def test_baselines_use_only_what_is_known_at_the_origin():
    values = torch.arange(30.0)
    assert naive(values, [20, 25], 1).tolist() == [19, 24]
    assert naive(values, [20, 25], 3).tolist() == [17, 22]
    assert seasonal_naive(values, [20, 25], 7, 1).tolist() == [13, 18]
    assert seasonal_naive(values, [20], 7, 9).tolist() == [6]  # two seasons back: 9 steps ahead


def test_scores_and_mase():
    train = torch.tensor([1.0, 2.0, 4.0, 7.0])
    assert mase_scale(train) == pytest.approx(2.0)
    assert mase_scale(train, season=2) == pytest.approx(4.0)
    result = scores(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 1.0]), 2.0)
    assert result == pytest.approx({"mse": 2.5, "mae": 1.5, "mase": 0.75})


@pytest.mark.skipif(not (SHARED / "timeseries").is_dir(), reason="../shared/data/timeseries not present")
def test_the_shared_real_series():
    sun = read_csv_column(SHARED / "timeseries" / "sunspots.csv", "SUNACTIVITY", "YEAR")
    assert len(sun) == 309 and sun.times[0] == "1700" and sun.times[-1] == "2008" and not sun.gap_rows
    co2 = read_csv_column(SHARED / "timeseries" / "co2.csv", "co2", "date")
    assert len(co2) == 2284 and len(co2.gap_rows) == 59 and float(co2.values.min()) > 300
    with pytest.raises(ValueError, match="59 empty co2 values"):
        read_csv_column(SHARED / "timeseries" / "co2.csv", "co2", gaps="refuse")
