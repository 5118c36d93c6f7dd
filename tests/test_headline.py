"""benchmarks/headline.py: every headline figure recomputes from its committed artifact, and a
number changed by hand, in an artifact or in the docs, is caught."""
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("headline", ROOT / "benchmarks" / "headline.py")
headline = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(headline)
CLAIMS = json.loads((ROOT / "benchmarks" / "headline.json").read_text())


def _needs_data(claim):
    ref = claim.get("references", "")
    if ref and not (ROOT / ref).exists():
        pytest.skip(f"{ref} is missing (../shared/data not beside the checkout)")


@pytest.mark.parametrize("claim", CLAIMS, ids=[f"{c['row']}: {c['metric']}" for c in CLAIMS])
def test_each_headline_figure_recomputes_from_its_artifact(claim):
    _needs_data(claim)
    lines = [line for line in headline.check(ROOT) if f"{claim['row']}: {claim['metric']}" in line]
    assert lines and all(line.startswith("ok") for line in lines), lines


@pytest.fixture
def copy(tmp_path):
    """The docs and the benchmarks folder in a scratch root (references stay where they are)."""
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks",
                    ignore=shutil.ignore_patterns("*.png", "*.html", "__pycache__"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    for claim in CLAIMS:
        if claim.get("references"):
            ref = Path(claim["references"])
            (tmp_path / ref).parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / ref).exists():
                shutil.copy(ROOT / ref, tmp_path / ref)
    return tmp_path


def _edit(path: Path, old: str, new: str):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_number_changed_in_an_artifact_is_a_mismatch(copy):
    claim = next(c for c in CLAIMS if c.get("artifact") == "adding200_lstm_report_test.json" and c["key"] == "mse")
    _edit(copy / "benchmarks" / claim["artifact"], '"mse": 0.0020279', '"mse": 0.0021279')
    bad = [line for line in headline.check(copy) if not line.startswith("ok")]
    assert len(bad) == 1 and "gives 0.00213, the docs say 0.00203" in bad[0]
    assert headline.main(["--root", str(copy)]) == 1


def test_a_number_changed_in_the_docs_is_a_mismatch(copy):
    _edit(copy / "benchmarks" / "RESULTS.md", "**0.00203 / 0.00260**", "**0.00193 / 0.00260**")
    bad = [line for line in headline.check(copy) if not line.startswith("ok")]
    assert len(bad) == 1 and "0.00203 is not in RESULTS.md's headline table" in bad[0]


def test_the_check_passes_on_the_repository(capsys):
    if any(c.get("references") and not (ROOT / c["references"]).exists() for c in CLAIMS):
        pytest.skip("../shared/data is not beside the checkout: the BLEU claims cannot be recomputed")
    assert headline.main([]) == 0
    assert " 0 do not match" in capsys.readouterr().out
