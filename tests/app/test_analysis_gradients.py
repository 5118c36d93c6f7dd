"""Gradient flow: Jacobian norms against finite differences, the predicted decay against the measured
one, the t = 3 derivation against autograd, the initialisations, and the command with its bad input."""

import csv
import math
from pathlib import Path

import pytest
import torch

from rnnkit.analysis import byhand
from rnnkit.analysis.gradflow import (
    decay_distance,
    flow_curves,
    input_jacobian_norms,
    make_layer,
    predicted_distance,
    step_factor,
)
from rnnkit.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def finite_difference_norms(layer, x, eps=1e-6):
    """||d h_T / d x_t||_F (N, T) by central differences, one input coordinate at a time."""
    n, steps, features = x.shape
    out = torch.zeros(n, steps, dtype=torch.float64)
    with torch.no_grad():
        for i in range(n):
            for t in range(steps):
                total = 0.0
                for f in range(features):
                    up, down = x[i : i + 1].clone(), x[i : i + 1].clone()
                    up[0, t, f] += eps
                    down[0, t, f] -= eps
                    h_up = layer(up)[1]
                    h_down = layer(down)[1]
                    h_up = (h_up[0] if isinstance(h_up, tuple) else h_up)[-1]
                    h_down = (h_down[0] if isinstance(h_down, tuple) else h_down)[-1]
                    total += float(((h_up - h_down) / (2 * eps)).pow(2).sum())
                out[i, t] = math.sqrt(total)
    return out


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_jacobian_norms_match_finite_differences(cell):
    torch.manual_seed(0)
    layer = make_layer(cell, 3, 4, num_layers=2)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    torch.testing.assert_close(input_jacobian_norms(layer, x), finite_difference_norms(layer, x), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_predicted_factor_matches_the_measured_decay(cell):
    torch.manual_seed(1)
    layer = make_layer(cell, 8, 48)
    ratios, factor = flow_curves(layer, cell, torch.randn(6, 60, 8, dtype=torch.float64))
    logs = ratios.log10().mean(0)
    measured = 10 ** float((logs[59] - logs[15]) / 44)  # per-step factor past the first steps
    assert abs(measured / factor - 1) < 0.06, (measured, factor)


def test_plain_rnn_forgets_orders_of_magnitude_faster():
    torch.manual_seed(2)
    ends = {}
    for cell in ("rnn_tanh", "lstm", "gru"):
        ratios, _ = flow_curves(make_layer(cell, 8, 32), cell, torch.randn(4, 80, 8, dtype=torch.float64))
        ends[cell] = float(ratios.log10().mean(0)[-1])
    assert ends["rnn_tanh"] < ends["lstm"] - 2 and ends["rnn_tanh"] < ends["gru"] - 2, ends


def test_decay_distance_of_a_geometric_curve():
    ratios = 0.5 ** torch.arange(40, dtype=torch.float64)
    assert decay_distance(ratios, 1e-3) == pytest.approx(math.log(1e-3) / math.log(0.5))
    assert predicted_distance(0.5, 1e-3) == pytest.approx(9.9658, abs=1e-4)
    assert decay_distance(torch.ones(10, dtype=torch.float64), 1e-3) == math.inf
    assert predicted_distance(1.2, 1e-3) == math.inf


def test_initialisations_and_the_rnn_factor():
    layer = make_layer("lstm", 2, 3, init="identity", forget_bias=1.0, scale=0.5)
    assert torch.equal(layer.weight_hh_l0, 0.5 * torch.eye(3, dtype=torch.float64).repeat(4, 1))
    total = layer.bias_ih_l0 + layer.bias_hh_l0
    assert torch.equal(total[3:6], torch.ones(3, dtype=torch.float64))
    rnn = make_layer("rnn_tanh", 2, 5, init="orthogonal")
    torch.testing.assert_close(rnn.weight_hh_l0 @ rnn.weight_hh_l0.T, torch.eye(5, dtype=torch.float64))
    x = torch.randn(3, 7, 2, dtype=torch.float64)
    h = rnn(x)[0].detach()
    assert step_factor(rnn, "rnn_tanh", x) == pytest.approx(float((1 - h.pow(2)).mean()))  # radius 1


def test_the_three_step_derivation_matches_autograd():
    torch.manual_seed(3)
    W = 0.8 * torch.randn(3, 3, dtype=torch.float64)
    V = torch.randn(3, 2, dtype=torch.float64)
    xs = torch.randn(3, 2, dtype=torch.float64)
    hand, auto = byhand.by_hand(W, V, xs), byhand.by_autograd(W, V, xs)
    for key in ("h3", "dh3_dx0", "dh3_dV", "dh3_dW"):
        torch.testing.assert_close(hand[key], auto[key], rtol=1e-12, atol=1e-14)


def test_the_documented_example_prints_its_numbers():
    text = (Path(__file__).parents[2] / "docs" / "gradients_by_hand.md").read_text()
    W = torch.tensor([[0.5, -0.3], [0.2, 0.4]], dtype=torch.float64)
    V = torch.tensor([[1.0], [-0.5]], dtype=torch.float64)
    xs = torch.tensor([[1.0], [0.5], [-1.0]], dtype=torch.float64)
    hand = byhand.by_hand(W, V, xs)
    for value in hand["dh3_dx0"].flatten().tolist() + hand["h3"].tolist():
        assert f"{value:.4f}" in text


def test_the_command_writes_csv_and_png(tmp_path, capsys):
    assert (
        main(
            [
                "analyze",
                "gradients",
                "--cells",
                "rnn_tanh,gru",
                "--steps",
                "12",
                "--hidden",
                "8",
                "--seeds",
                "2",
                "--samples",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("rnn_tanh") and out.splitlines()[2].startswith("gru")
    rows = list(csv.DictReader((tmp_path / "gradients.csv").open()))
    assert len(rows) == 24 and rows[0]["distance"] == "0" and float(rows[0]["log10_ratio_mean"]) == 0.0
    assert (
        float(rows[11]["log10_ratio_min"]) <= float(rows[11]["log10_ratio_mean"]) <= float(rows[11]["log10_ratio_max"])
    )
    assert (tmp_path / "gradients.png").stat().st_size > 0


def test_a_trained_checkpoint_is_analysed_on_its_own_inputs(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "seqmnist",
                "--data-dir",
                str(FIXTURES / "mnist"),
                "--hidden-size",
                "6",
                "--batch-size",
                "8",
                "--valid-size",
                "20",
                "--max-minutes",
                "0",
                "--max-steps",
                "2",
                "--eval-every",
                "2",
                "--quiet",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["analyze", "gradients", "--checkpoint", str(run), "--steps", "50", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("lstm")
    assert len((tmp_path / "gradients.csv").read_text().splitlines()) == 1 + 28  # 28 rows: one per step


def test_bad_arguments_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", "gradients", "--steps", "0", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "--steps" in capsys.readouterr().err
    assert main(["analyze", "gradients", "--cells", "lstm,tree", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cells: unknown cell 'tree'" in err
