"""Names: the prior chosen at prediction time, the run's temperature, balanced figures, through the CLI."""

import json
import math
import re

import pytest
import torch
from helpers import write_languages

from rnnkit.cli import main
from rnnkit.metrics import calibration as cal
from rnnkit.objectives.supervised import classifier_log_probs, classifier_loss
from rnnkit.recipes import load
from rnnkit.recipes.names.evaluate import CALIBRATION, training_prior

SMALL = [
    "--embedding-dim",
    "16",
    "--hidden-size",
    "32",
    "--batch-size",
    "16",
    "--quiet",
    "--max-minutes",
    "0",
    "--lr",
    "0.01",
    "--members",
    "1",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run on three made-up languages, 120 / 40 / 20 names: the prior matters."""
    root = tmp_path_factory.mktemp("names_prior")
    data = write_languages(root / "langs", per_language=120)
    for language, keep in (("Sonish", 40), ("Mcish", 20)):
        path = data / f"{language}.txt"
        path.write_text("\n".join(path.read_text().split()[:keep]) + "\n")
    run = root / "run"
    assert (
        main(
            [
                "train",
                "names",
                "--data-dir",
                str(data),
                "--run-dir",
                str(run),
                "--max-steps",
                "120",
                "--monitor",
                "uniform_balanced_accuracy",
                *SMALL,
                # a model that is not yet sure of every name, whatever the warm-up rule: its
                # temperatures fitted on valid and on test differ (0.65 and 0.74)
                "--warmup-steps",
                "0",
                "--lr",
                "0.002",
            ]
        )
        == 0
    )
    return run


def test_training_prior_follows_the_balancing():
    counts = [80, 15, 5]
    torch.testing.assert_close(
        training_prior(counts, "none", 0.5), torch.tensor([0.8, 0.15, 0.05], dtype=torch.float64)
    )
    # fully balanced sampling (or loss weights) make every class equally likely in training
    torch.testing.assert_close(training_prior(counts, "sampler", 1.0), torch.full((3,), 1 / 3, dtype=torch.float64))
    half = training_prior(counts, "weighted", 0.5)  # counts * counts ** -0.5 = sqrt(counts)
    torch.testing.assert_close(half, torch.tensor(counts).double().sqrt() / sum(math.sqrt(c) for c in counts))
    # a loss on logits + 0.5 log p_data leaves the model's softmax at p_data / p_data ** 0.5
    torch.testing.assert_close(training_prior(counts, "logit-adjusted", 0.5), half)


def test_logit_adjusted_loss_is_cross_entropy_of_shifted_logits_and_its_optimum_is_the_shifted_prior():
    class Fixed(torch.nn.Module):  # member_logits (K=1, N, C) = one free logit vector for every input
        def __init__(self):
            super().__init__()
            self.logit = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))

        def member_logits(self, ids, lengths):
            return self.logit.expand(1, len(ids), 3)

    labels = torch.tensor([0] * 80 + [1] * 15 + [2] * 5)
    batch = (torch.zeros(100, 1, dtype=torch.long), torch.ones(100, dtype=torch.long), labels)
    shift = torch.tensor([0.8, 0.15, 0.05], dtype=torch.float64).log()
    model = Fixed()
    with torch.no_grad():
        model.logit.copy_(torch.tensor([0.3, -0.2, 0.1]))
    loss, count = classifier_loss(None, shift)(model, batch)
    by_hand = -torch.log_softmax(model.logit.float() + shift.float(), -1)[labels].mean()
    assert count == 100 and loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = classifier_loss(None, shift)(model, batch)[0]
        value.backward()
        return value

    opt.step(closure)
    # the data's prior is fitted by logits + shift, so the model's own softmax is uniform
    torch.testing.assert_close(
        torch.softmax(model.logit.detach(), -1), torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-4, rtol=0
    )


def test_prior_is_bayes_rule_on_the_trained_model_and_temperature_is_saved(run):
    classifier = load(run)
    saved = json.loads((run / CALIBRATION).read_text())
    assert saved["checkpoint"] == "best.safetensors" and saved["temperature"] > 0
    assert saved["valid_nll"]["after"] <= saved["valid_nll"]["before"]
    assert classifier.counts == [16, 96, 32]  # Mcish, Ovish, Sonish in training: 80% of 20 / 120 / 40
    names = ["Kateov", "Kateson", "McKate", "Rimo"]
    data, uniform = classifier.log_probs(names, "data"), classifier.log_probs(names, "uniform")
    counts = torch.tensor(classifier.counts).double()
    by_hand = data.double().exp() * (1 / 3) / (counts / counts.sum())  # p(c|x) pi'(c) / pi_train(c)
    torch.testing.assert_close(uniform.double().exp(), by_hand / by_hand.sum(-1, keepdim=True), atol=1e-6, rtol=0)
    raw = classifier.log_probs(names, "data", calibrated=False)
    # float32 log-probabilities: a confident model's reach -70, where one rounding step is 7.6e-6
    torch.testing.assert_close(data, cal.apply_temperature(raw, saved["temperature"]), atol=1e-6, rtol=1e-6)


def fitted_temperature(classifier, split: str) -> float:
    """The temperature fitted, here in the test, on one split of the run's names."""
    pairs = classifier.split()[1][split]
    raw = classifier.raw_log_probs([classifier.vocab.encode(name, warn=False) for name, _ in pairs])
    return cal.fit_temperature(raw, torch.tensor([label for _, label in pairs]))


def test_the_temperature_is_fitted_on_the_validation_split_never_on_the_test_split(run, tmp_path, capsys):
    import shutil

    classifier = load(run)
    valid, test = fitted_temperature(classifier, "valid"), fitted_temperature(classifier, "test")
    assert abs(valid - test) > 0.05, (valid, test)  # the fixture tells the two splits apart
    saved = json.loads((run / CALIBRATION).read_text())
    assert saved["fitted_on"] == "valid"
    assert saved["temperature"] == pytest.approx(valid, rel=1e-9), (
        f"saved {saved['temperature']}, valid {valid}, test {test}"
    )
    report = json.loads((run / "report_test.json").read_text())  # scored on test, calibrated on valid
    assert report["calibration"]["temperature"] == pytest.approx(valid, rel=1e-9)
    copy = tmp_path / "run"  # fitted afresh when eval --split test is the first to need it
    shutil.copytree(run, copy)
    (copy / CALIBRATION).unlink()
    capsys.readouterr()
    assert main(["eval", str(copy), "--split", "test"]) == 0
    refitted = json.loads((copy / CALIBRATION).read_text())["temperature"]
    assert refitted == pytest.approx(valid, rel=1e-9), f"refitted {refitted}, valid {valid}, test {test}"


def test_a_run_folder_that_cannot_be_written_still_predicts_with_the_temperature_in_memory(
    run, tmp_path, capsys, monkeypatch
):
    import os
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / CALIBRATION).unlink()

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    capsys.readouterr()
    assert main(["predict", str(copy), "Kateov", "--top", "1"]) == 0
    out = capsys.readouterr().out
    monkeypatch.undo()
    assert main(["predict", str(run), "Kateov", "--top", "1"]) == 0  # the temperature saved with the run
    assert out == capsys.readouterr().out and not (copy / CALIBRATION).exists()


def test_predict_takes_a_prior_file_and_names_bad_ones(run, tmp_path, capsys):
    capsys.readouterr()
    only = tmp_path / "only_sonish.tsv"
    only.write_text("Sonish\t1\nOvish\t0\n")
    assert main(["predict", str(run), "Kateov", "--top", "2", "--prior", str(only)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Kateov", "    (-0.00) Sonish"]  # the prior overrules the name; weight 0 is left out
    assert main(["predict", str(run), "Kateov", "--prior", "data"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("Ovish")
    for text, message in (
        ("Sonish\t1\nKlingon\t1\n", "unknown language 'Klingon'; expected one of Mcish, Ovish, Sonish"),
        ("Sonish\t-1\n", "weight of 'Sonish' must be a number >= 0"),
    ):
        bad = tmp_path / "bad.tsv"
        bad.write_text(text)
        assert main(["predict", str(run), "Kateov", "--prior", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and str(bad) in err and len(err.splitlines()) == 1
    assert main(["predict", str(run), "Kateov", "--prior", str(tmp_path / "nope.json")]) == 2
    assert f"--prior {tmp_path / 'nope.json'}: no such file" in capsys.readouterr().err


def test_eval_reports_every_figure_under_each_prior(run, tmp_path, capsys):
    report = json.loads((run / "report_test.json").read_text())
    for prior in ("data", "uniform"):
        figures = report["priors"][prior]
        for scoring in (figures, figures["by_name"]):
            assert {"accuracy", "balanced_accuracy", "top3_accuracy", "macro_f1"} <= set(scoring)
            assert all(0 <= scoring[k] <= 1 for k in ("accuracy", "balanced_accuracy", "top3_accuracy"))
    assert report["priors"]["data"]["accuracy"] == report["accuracy"]
    assert report["top3_accuracy"] == 1.0  # three languages
    calib = report["calibration"]
    assert calib["ece_bins"] == 15 and set(calib["ece"]) == {"before", "after"}
    assert (run / "reliability_test.png").read_bytes()[:4] == b"\x89PNG"
    weights = tmp_path / "w.json"
    weights.write_text('{"Ovish": 1, "Sonish": 1}')
    capsys.readouterr()
    assert main(["eval", str(run), "--split", "valid", "--prior", str(weights)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  uniform  per pair  (\d\.\d{4}  ){3}\d\.\d{4}$", out, re.M), out
    assert str(weights) in out and "ECE (15 equal-width bins)" in out
    assert (run / "reliability_valid.png").exists()


def test_validation_metrics_can_pick_the_best_checkpoint(run):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "uniform_balanced_accuracy" in r]
    assert evals and all("balanced_accuracy" in r and "top3_accuracy" in r for r in evals)
    state = json.loads((run / "config.json").read_text())
    assert state["train"]["monitor"] == "uniform_balanced_accuracy"
    assert state["train"]["monitor_mode"] in ("auto", "max")


def test_a_logit_adjusted_run_answers_the_uniform_prior_with_its_own_softmax(tmp_path):
    data = write_languages(tmp_path / "langs", per_language=60)
    path = data / "Mcish.txt"
    path.write_text("\n".join(path.read_text().split()[:15]) + "\n")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "names",
                "--data-dir",
                str(data),
                "--run-dir",
                str(run),
                "--max-steps",
                "30",
                "--balance",
                "logit-adjusted",
                "--balance-power",
                "1",
                *SMALL,
            ]
        )
        == 0
    )
    classifier = load(run)
    names = ["Kateov", "Kateson", "McKate"]
    own = classifier_log_probs(classifier.model, [classifier.vocab.encode(n) for n in names]).double()
    torch.testing.assert_close(
        classifier.log_probs(names, "uniform", calibrated=False).double(), own, atol=1e-6, rtol=0
    )
    counts = torch.tensor(classifier.counts).double()
    by_hand = torch.log_softmax(own + (counts / counts.sum()).log(), -1)  # Bayes' rule to the data prior
    torch.testing.assert_close(
        classifier.log_probs(names, "data", calibrated=False).double(), by_hand, atol=1e-6, rtol=0
    )


def test_build_hands_the_logit_adjusted_loss_the_log_training_prior(tmp_path):
    from rnnkit.data.names_split import NamesDataConfig
    from rnnkit.objectives.supervised import collate_labelled
    from rnnkit.recipes.names.config import defaults
    from rnnkit.recipes.names.model import ClassifierConfig
    from rnnkit.recipes.names.recipe import build

    data = write_languages(tmp_path / "langs", per_language=60)
    path = data / "Mcish.txt"
    path.write_text("\n".join(path.read_text().split()[:15]) + "\n")
    sections = defaults()
    sections["model"] = ClassifierConfig(embedding_dim=8, hidden_size=8, dropout=0.0)
    losses = {}
    for balance in ("none", "logit-adjusted"):
        sections["data"] = NamesDataConfig(data_dir=str(data), balance=balance, balance_power=1.0)
        torch.manual_seed(0)
        built = build(sections, None)
        batch = collate_labelled(built.objective.train[:32])
        losses[balance] = built.objective.loss(built.model, batch)[0]
        logits = built.model.member_logits(batch[0], batch[1])[0]
    counts = torch.tensor(built.meta["train_counts"]).float()
    by_hand = torch.nn.functional.cross_entropy(logits + (counts / counts.sum()).log(), batch[2])
    assert losses["logit-adjusted"].item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert losses["logit-adjusted"].item() != pytest.approx(losses["none"].item(), rel=1e-3)
