"""Spatial transformer recipe (``rnnkit train stn``): it learns rotated fixture digits with and without
the transformer, ``transform`` draws inputs beside the transformer's output (and refuses a plain run),
the test distortions are the same for every run, bad input is one line."""

from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.recipes import load
from rnnkit.recipes.stn.config import DistortedConfig
from rnnkit.recipes.stn.data import load as load_split

FIXTURES = Path(__file__).parents[1] / "fixtures"
SMALL = ["--data-dir", str(FIXTURES), "--variant", "rotated", "--width", "8", "--hidden", "32", "--dropout", "0"]
SMALL += ["--loc-width", "4", "--loc-hidden", "8", "--batch-size", "20", "--valid-size", "20", "--max-minutes", "0"]
SMALL += ["--warmup-steps", "0", "--threads", "1", "--quiet", "--lr", "0.05", "--max-steps", "60"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stn")
    assert main(["train", "stn", *SMALL, "--run-dir", str(root / "st")]) == 0
    assert main(["train", "stn", *SMALL, "--no-transformer", "--run-dir", str(root / "plain")]) == 0
    return root


@pytest.mark.parametrize("kind", ["st", "plain"])
def test_both_learn_the_rotated_fixture(runs, kind):
    """100 rotated training digits, 60 steps: above chance (10%) on the 20 held-out ones."""
    trained = load(runs / kind)
    assert (trained.model.transformer is not None) == (kind == "st")
    assert trained.evaluate(split="valid")["accuracy"] >= 0.3


def test_transform_draws_inputs_and_outputs_and_refuses_a_plain_run(runs, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["transform", str(runs / "st"), str(FIXTURES / "cnn" / "digit.png"), "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    made = load(runs / "st").transformed(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    assert made.shape == (2, 1, 28, 28) and made.dtype == torch.uint8
    capsys.readouterr()
    assert main(["transform", str(runs / "plain"), "--count", "2"]) == 2
    err = capsys.readouterr().err
    assert "no spatial transformer" in err and len(err.strip().splitlines()) == 1


def test_the_test_distortions_are_fixed_and_the_training_ones_follow_the_seed():
    config = DistortedConfig(variant="rts", data_dir=str(FIXTURES))
    test_a, _, _ = load_split(config, "test")
    test_b, _, _ = load_split(DistortedConfig(variant="rts", data_dir=str(FIXTURES), distort_seed=7), "test")
    assert test_a.shape[-1] == 42 and torch.equal(test_a, test_b)
    train_a, _, digest_a = load_split(config, "train")
    train_b, _, digest_b = load_split(DistortedConfig(variant="rts", data_dir=str(FIXTURES), distort_seed=7), "train")
    assert digest_a == digest_b and not torch.equal(train_a, train_b)


def test_bad_variant_and_missing_data_are_one_line(tmp_path, capsys):
    assert main(["train", "stn", "--variant", "skewed", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--variant: expected one of rotated, rts, translated, cluttered" in capsys.readouterr().err
    assert main(["train", "stn", "--data-dir", str(tmp_path), "--run-dir", str(tmp_path / "r")]) == 2
    assert f"mnist not found in {tmp_path}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
