"""benchmarks/scripts/headline.py: every headline figure recomputes from its committed artifact, and a
number changed by hand, in an artifact, in its headline row, in the README or a page, is caught."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

from rnnkit.metrics.classification import classification_scores

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("headline", ROOT / "benchmarks" / "scripts" / "headline.py")
headline = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(headline)
CLAIMS = json.loads((ROOT / "benchmarks" / "headline.json").read_text())["claims"]
OUTSIDE = [c["references"] for c in CLAIMS if c.get("references") and not (ROOT / c["references"]).exists()]


@pytest.fixture(scope="module")
def verdicts():
    return headline.check(ROOT)


@pytest.mark.parametrize("claim", CLAIMS, ids=[f"{c['table']}: {c['metric']}" for c in CLAIMS])
def test_each_headline_figure_recomputes_from_its_artifact(claim, verdicts):
    if claim.get("references") in OUTSIDE:
        pytest.skip(f"{claim['references']} is missing (../shared/data not beside the checkout)")
    lines = [line for line in verdicts if f" {claim['table']}: {claim['metric']}" in line]
    assert lines and all(line.startswith("ok") for line in lines), lines


def test_every_bold_headline_figure_has_a_claim_or_a_reason(verdicts):
    assert not [line for line in verdicts if line.startswith("UNCLAIMED")]


@pytest.fixture
def copy(tmp_path):
    """The docs and the benchmarks folder in a scratch root."""
    shutil.copytree(
        ROOT / "benchmarks", tmp_path / "benchmarks", ignore=shutil.ignore_patterns("*.png", "*.html", "__pycache__")
    )
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("*.png"))
    for ref in {c["references"] for c in CLAIMS if c.get("references", "").startswith("..")} - set(OUTSIDE):
        (tmp_path / ref).parent.mkdir(parents=True, exist_ok=True)  # the shared data beside the copy
        shutil.copy(ROOT / ref, tmp_path / ref)
    return tmp_path


def _edit(path: Path, old: str, new: str):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _bad(root):
    return [
        line
        for line in headline.check(root)
        if not line.startswith("ok") and "references" not in line and not any(ref in line for ref in OUTSIDE)
    ]


def test_a_number_changed_in_an_artifact_is_a_mismatch(copy):
    _edit(
        copy / "benchmarks" / "results" / "adding" / "adding200_lstm_report_test.json",
        '"mse": 0.0020279',
        '"mse": 0.0021279',
    )
    bad = _bad(copy)
    assert len(bad) == 1 and "gives 0.00213, the docs say 0.00203" in bad[0]
    assert headline.main(["--root", str(copy)]) == 1


def test_a_number_changed_in_its_headline_row_is_caught_even_when_it_stands_elsewhere_too(copy):
    results = copy / "benchmarks" / "RESULTS.md"
    assert headline.occurrences("1.4789", results.read_text()) > 1  # the row and the prose
    _edit(results, "| **1.4789** (2.1337)", "| **1.4889** (2.1337)")
    bad = _bad(copy)
    assert any("1.4789 is not in RESULTS.md's headline row" in line for line in bad)
    assert any("UNCLAIMED" in line and "1.4889" in line for line in bad)  # the new figure has no claim


def test_a_number_changed_in_the_readme_is_caught(copy):
    _edit(copy / "README.md", "validation 1.4789 nats/char", "validation 1.4689 nats/char")
    bad = _bad(copy)
    assert len(bad) == 1 and "1.4789 stands" in bad[0] and "times in README.md" in bad[0]


def test_macro_f1_from_a_confusion_matrix_is_rnnkits_own():
    confusion = [[5, 1, 0], [0, 3, 1], [0, 0, 0]]  # class 2 is predicted but never the truth
    labels = torch.tensor([0] * 6 + [1] * 4)
    predicted = torch.tensor([0] * 5 + [1] + [1] * 3 + [2])
    log_probs = torch.nn.functional.one_hot(predicted, 3).float().log_softmax(-1)
    own = classification_scores(log_probs, labels, ["a", "b", "c"])["macro_f1"]
    assert headline._macro_f1(confusion) == pytest.approx(own)
    assert headline._accuracy(confusion) == pytest.approx(0.8)
    assert headline._balanced(confusion) == pytest.approx((5 / 6 + 3 / 4) / 2)


def test_the_check_passes_on_the_repository(capsys):
    if OUTSIDE:
        pytest.skip("../shared/data is not beside the checkout: some BLEU claims cannot be recomputed")
    assert headline.main([]) == 0
    assert " 0 do not" in capsys.readouterr().out
