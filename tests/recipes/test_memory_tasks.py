"""The long-range memory tasks: generators and their baselines (computed), the generated objective's
resume, and the two recipes learning a short version."""

import json
import math

import pytest
import torch

from rnnkit.cli import main
from rnnkit.data.synthetic import adding_baseline, adding_batch, copy_baseline, copy_batch, memoryless_copy_loss
from rnnkit.objectives.generated import GeneratedObjective

SMALL = [
    "--hidden-size",
    "24",
    "--batch-size",
    "32",
    "--valid-size",
    "200",
    "--test-size",
    "400",
    "--max-minutes",
    "0",
    "--warmup-steps",
    "0",
    "--lr",
    "0.01",
    "--threads",
    "1",
    "--quiet",
]


def test_adding_sequences_have_one_mark_per_half_and_the_stated_baseline():
    x, y = adding_batch(20_000, 50, torch.Generator().manual_seed(0))
    assert x.shape == (20_000, 50, 2) and y.shape == (20_000,)
    marks = x[..., 1]
    assert torch.equal(marks.sum(1), torch.full((20_000,), 2.0))
    assert torch.equal(marks[:, :25].sum(1), torch.ones(20_000))
    torch.testing.assert_close(y, (x[..., 0] * marks).sum(1))
    assert adding_baseline(y) == pytest.approx(1 / 6, abs=0.005)  # Var(U + U') = 2/12
    with pytest.raises(ValueError, match="at least 2 steps"):
        adding_batch(1, 1, torch.Generator())


def test_copy_sequences_and_the_memoryless_baseline():
    x, y = copy_batch(500, 30, torch.Generator().manual_seed(1))
    assert x.shape == y.shape == (500, 50)
    assert torch.equal(y[:, -10:], x[:, :10]) and not y[:, :40].any()
    assert (x[:, :10] >= 1).all() and (x[:, :10] <= 8).all() and (x[:, 39] == 9).all()
    assert x[:, 10:39].eq(0).all() and x[:, 40:].eq(0).all()
    assert memoryless_copy_loss(y) == pytest.approx(copy_baseline(30)) == pytest.approx(10 * math.log(8) / 50)
    with pytest.raises(ValueError, match="delay of at least 1"):
        copy_batch(1, 0, torch.Generator())


def test_generated_batches_resume_exactly():
    make = lambda n, g: adding_batch(n, 6, g)  # noqa: E731
    first = GeneratedObjective(make, None, None, {}, (None, None), 4, seed=3)
    batches = [first.next_batch() for _ in range(5)]
    second = GeneratedObjective(make, None, None, {}, (None, None), 4, seed=3)
    for _ in range(2):
        second.next_batch()
    second_state = second.state_dict()
    third = GeneratedObjective(make, None, None, {}, (None, None), 4, seed=3)
    third.load_state_dict(*second_state)
    assert all(torch.equal(a, b) for a, b in zip(third.next_batch(), batches[2]))
    assert not torch.equal(batches[0][0], batches[1][0])


def test_adding_recipe_learns_a_short_version(tmp_path, capsys):
    run = tmp_path / "adding"
    assert (
        main(
            [
                "train",
                "adding",
                "--length",
                "10",
                *SMALL,
                "--max-steps",
                "400",
                "--eval-every",
                "100",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    report = json.loads((run / "report_test.json").read_text())
    assert report["mse"] < 0.3 * report["baseline_mse"], report
    assert report["baseline_mse"] == pytest.approx(1 / 6, abs=0.03)


def test_copy_recipe_learns_a_short_version(tmp_path):
    run = tmp_path / "copy"
    assert (
        main(
            [
                "train",
                "copy",
                "--length",
                "3",
                "--symbols",
                "3",
                *SMALL,
                "--max-steps",
                "1000",
                "--eval-every",
                "250",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    report = json.loads((run / "report_test.json").read_text())
    assert report["loss"] < 0.6 * report["baseline_loss"] and report["recall_accuracy"] > 0.4, report  # guessing: 0.125


def test_chrono_initialisation_sets_the_gate_biases():
    from rnnkit.nn import GRU, LSTM
    from rnnkit.nn.init import chrono_init_

    lstm, gru = LSTM(3, 5), GRU(3, 5)
    chrono_init_(lstm, 50, torch.Generator().manual_seed(0))
    chrono_init_(gru, 50, torch.Generator().manual_seed(0))
    total = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
    i, f = total[:5], total[5:10]
    assert torch.equal(i, -f) and (f >= 0).all() and (f <= math.log(49)).all()  # log u, u in [1, 49]
    z = (gru.bias_ih_l0 + gru.bias_hh_l0).detach()[5:10]
    assert (z >= 0).all() and (z <= math.log(49)).all() and not torch.equal(z, torch.zeros(5))
    from rnnkit.families.memory import MemoryModelConfig

    with pytest.raises(ValueError, match="add --no-chrono"):
        MemoryModelConfig(forget_bias=2.0)
    MemoryModelConfig(forget_bias=2.0, chrono=False)
