"""rnnkit.metrics.calibration and the balanced / top-k metrics, on hand-made numbers."""

import json
import math

import pytest
import torch

from rnnkit.metrics import calibration as cal
from rnnkit.metrics.classification import balanced_accuracy, confusion_matrix, top_k_accuracy, top_k_any_label


def test_prior_shift_on_a_two_class_model_is_bayes_rule_by_hand():
    # a model trained where class 0 is 90% of the data says p(0|x) = 0.6 for some x
    log_probs = torch.tensor([[0.6, 0.4]]).log()
    train, uniform = torch.tensor([0.9, 0.1]).log(), torch.tensor([0.5, 0.5]).log()
    # Bayes by hand: p'(0|x) = (0.6 * 0.5/0.9) / (0.6 * 0.5/0.9 + 0.4 * 0.5/0.1)
    a, b = 0.6 * 0.5 / 0.9, 0.4 * 0.5 / 0.1
    expected = torch.tensor([[a / (a + b), b / (a + b)]])
    shifted = cal.prior_shift(log_probs, uniform, train)
    torch.testing.assert_close(shifted.exp(), expected)
    assert shifted.exp()[0].argmax() == 1  # the rare class wins once the prior is even
    # the same prior back and forth is the identity
    torch.testing.assert_close(cal.prior_shift(log_probs, train, train), log_probs)
    torch.testing.assert_close(
        cal.log_prior(torch.tensor([3.0, 1.0])).exp(), torch.tensor([0.75, 0.25], dtype=torch.float64)
    )


@pytest.mark.parametrize("weights", [[1.0, -0.5], [0.0, 0.0], [1.0, math.inf]])
def test_log_prior_rejects_bad_weights(weights):
    with pytest.raises(ValueError, match="prior"):
        cal.log_prior(torch.tensor(weights))


def test_temperature_scaling_lowers_validation_nll_of_an_overconfident_model():
    torch.manual_seed(0)
    labels = torch.randint(0, 4, (400,))
    logits = torch.randn(400, 4)
    logits[torch.arange(400), labels] += 1.0  # right more often than chance...
    overconfident = torch.log_softmax(logits * 4.0, -1)  # ...but far too sure
    temperature = cal.fit_temperature(overconfident, labels)
    scaled = cal.apply_temperature(overconfident, temperature)
    assert temperature > 2.0
    assert cal.nll(scaled, labels) < cal.nll(overconfident, labels) - 0.1
    for other in (temperature * 0.9, temperature * 1.1):  # and it is the minimum
        assert cal.nll(cal.apply_temperature(overconfident, other), labels) > cal.nll(scaled, labels)
    assert (scaled.argmax(-1) == overconfident.argmax(-1)).all()
    assert cal.expected_calibration_error(scaled, labels) < cal.expected_calibration_error(overconfident, labels)
    with pytest.raises(ValueError, match="temperature"):
        cal.apply_temperature(overconfident, 0.0)


def test_ece_on_hand_made_bins():
    # confidences 0.9 (right), 0.9 (wrong), 0.58 (right), 0.55 (right): bins (13/15,14/15] and (8/15,9/15]
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.42, 0.58], [0.55, 0.45]])
    labels = torch.tensor([0, 1, 1, 0])
    rows = cal.calibration_bins(probs.log(), labels)
    assert len(rows) == 15 and sum(r["weight"] for r in rows) == 4
    high = rows[13]
    assert high["weight"] == 2 and high["accuracy"] == 0.5 and high["confidence"] == pytest.approx(0.9)
    mid = rows[8]
    assert mid["weight"] == 2 and mid["accuracy"] == 1.0 and mid["confidence"] == pytest.approx(0.565)
    expected = 2 / 4 * abs(0.5 - 0.9) + 2 / 4 * abs(1.0 - 0.565)
    assert cal.expected_calibration_error(probs.log(), labels) == pytest.approx(expected)
    # weights: the wrong 0.9 counts three times
    weighted = cal.expected_calibration_error(probs.log(), labels, weights=torch.tensor([1.0, 3.0, 1.0, 1.0]))
    assert weighted == pytest.approx(4 / 6 * abs(0.25 - 0.9) + 2 / 6 * abs(1.0 - 0.565))


def test_reliability_png_is_written(tmp_path):
    probs = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    rows = cal.calibration_bins(probs.log(), torch.tensor([0, 1, 1]))
    path = cal.plot_reliability({"T = 1": rows}, tmp_path / "reliability.png", "test")
    assert path == tmp_path / "reliability.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 2000


def test_balanced_and_top_k_accuracy_on_hand_made_numbers():
    predicted, target = torch.tensor([0, 0, 0, 0, 1, 2]), torch.tensor([0, 0, 0, 1, 1, 2])
    # recalls: class 0 3/3, class 1 1/2, class 2 1/1 -> 5/6; plain accuracy 5/6 too, so skew it
    assert balanced_accuracy(confusion_matrix(predicted, target, 3)) == pytest.approx((1 + 0.5 + 1) / 3)
    skewed = confusion_matrix(torch.tensor([0, 0, 0, 0, 0]), torch.tensor([0, 0, 0, 0, 1]), 3)
    assert balanced_accuracy(skewed) == pytest.approx(0.5)  # class 2 has no support: left out
    scores = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]).log()
    labels = torch.tensor([1, 0, 2])
    assert top_k_accuracy(scores, labels, 1) == 0.0
    assert top_k_accuracy(scores, labels, 2) == pytest.approx(1 / 3)  # only row 0: 1 in {0, 1}
    assert top_k_accuracy(scores, labels, 5) == 1.0
    # by item: rows 0 and 1 are one item "x" with labels {0, 1}: its first row's top-1 is 0 -> right
    assert top_k_any_label(scores, ["x", "x", "y"], {"x": {0, 1}, "y": {2}}, 1) == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="k >= 1"):
        top_k_accuracy(scores, labels, 0)


def test_read_prior_tsv_and_json(tmp_path):
    classes = ["Czech", "English", "Scottish Gaelic"]
    tsv = tmp_path / "prior.tsv"
    tsv.write_text("# weights\nEnglish\t3\n\nScottish Gaelic\t1  # spaces in a name need a tab\n")
    assert cal.read_prior(tsv, classes).tolist() == [0.0, 3.0, 1.0]
    (tmp_path / "p.txt").write_text("Czech 2\n")
    assert cal.read_prior(tmp_path / "p.txt", classes).tolist() == [2.0, 0.0, 0.0]
    js = tmp_path / "prior.json"
    js.write_text(json.dumps({"Czech": 1, "English": 0.5}))
    assert cal.read_prior(js, classes).tolist() == [1.0, 0.5, 0.0]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("p.tsv", "Czech\t1\nKlingon\t2\n", r"p.tsv:2: unknown language 'Klingon'; expected one of Czech, English"),
        ("p.tsv", "Czech\t-1\n", r"p.tsv:1: weight of 'Czech' must be a number >= 0, got -1.0"),
        ("p.tsv", "Czech\tmany\n", r"p.tsv:1: weight of 'Czech' must be a number >= 0, got 'many'"),
        ("p.tsv", "Czech\t1\nCzech\t2\n", r"p.tsv:2: 'Czech' is listed twice"),
        ("p.tsv", "Czech\n", r"p.tsv:1: expected 'name<TAB>weight'"),
        ("p.tsv", "Czech\t0\n", r"no language has a weight > 0"),
        ("p.json", '{"Czech": -2}', r"p.json: weight of 'Czech' must be a number >= 0, got -2"),
        ("p.json", '["Czech"]', r"p.json: expected a JSON object"),
        # as the TSV form: a repeated language is refused, not the last value kept silently
        ("p.json", '{"Czech": 1, "English": 1, "Czech": 5}', r"p.json: 'Czech' is listed twice"),
        ("p.json", '{"Czech": {"a": 1}}', r"p.json: weight of 'Czech' must be a number >= 0"),
        ("p.json", "[" * 100_000 + "]" * 100_000, r"p.json: (nested too deeply|expected a JSON object)"),
        ("p.json", '{"Czech": 1', r"p.json:1: not JSON"),
        ("missing.tsv", None, r"missing.tsv: no such file"),
    ],
)
def test_read_prior_bad_files_are_one_line_errors(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        cal.read_prior(tmp_path / name, ["Czech", "English"], kind="language")
    assert "\n" not in str(err.value)
