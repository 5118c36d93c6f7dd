"""The audit of issue 28 (benchmarks/scripts/audit): its catalogue loads and every case is well formed.

The audit itself is not run here (it takes minutes); this checks that each case could run:
a known kind, a stable unique id, placeholders that name real recipes, callables where
callables go, and that outcomes are classified as documented."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "scripts"))

from audit.cases import catalogue  # noqa: E402
from audit.core import EXPECT, KINDS, PLACEHOLDER, Case, Http, Result, classify_process  # noqa: E402

from rnnkit.recipes import REGISTRY  # noqa: E402


@pytest.fixture(scope="module")
def cases():
    return catalogue()


def test_catalogue_loads_with_unique_ids_and_every_kind(cases):
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)) and len(cases) > 500
    assert {c.kind for c in cases} == set(KINDS)
    assert all(c.id.split("/")[0] == c.kind.split("-")[0] or c.id.startswith(c.kind) for c in cases)


def test_every_recipe_is_audited(cases):
    named = {m.group(2) for c in cases for m in PLACEHOLDER.finditer(" ".join(map(str, c.argv))) if m.group(2)}
    named |= {c.http.recipe for c in cases if c.http is not None}
    assert set(REGISTRY) <= named


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_cases_of_each_kind_are_well_formed(cases, kind):
    for case in [c for c in cases if c.kind == kind]:
        assert isinstance(case, Case) and case.expect in EXPECT, case.id
        assert case.timeout > 0 and (case.mem_gb is None or case.mem_gb > 0), case.id
        assert case.setup is None or callable(case.setup), case.id
        assert case.check is None or callable(case.check), case.id
        assert (
            case.stdin is None
            or isinstance(case.stdin, bytes)
            or (isinstance(case.stdin, str) and case.stdin.startswith("file:"))
        ), case.id
        assert all(len(p) == 3 for p in case.plant), case.id
        for found in case.placeholders():
            match = PLACEHOLDER.fullmatch(found)
            assert match and (match.group(2) is None or match.group(2) in REGISTRY), (case.id, found)
        if case.http is not None:
            assert kind == "serve" and isinstance(case.http, Http) and case.http.recipe in REGISTRY, case.id
            assert case.http.script is None or callable(case.http.script), case.id
            assert case.http.raw is None or isinstance(case.http.raw, bytes), case.id
        else:
            assert case.argv and all(isinstance(a, str) for a in case.argv), case.id
            assert all(isinstance(a, str) for argv in case.also for a in argv), case.id


def test_outcomes_are_classified_as_documented():
    def result(exit, err="", seconds=1.0, signal=None):
        return Result([], exit, "", err, seconds, signal)

    assert classify_process(result(0))[0] == "OK"
    assert classify_process(result(2, "rnnkit train: error: --lr: expected <= 10, got 1e308\n"))[0] == "ERROR_OK"
    assert (
        classify_process(
            result(
                2,
                "usage: rnnkit train adding [-h]\n  [--lr LR]\n"
                "rnnkit train adding: error: argument --lr: expected a number\n",
            )
        )[0]
        == "ERROR_OK"
    )
    assert classify_process(result(2, "graph line\n" * 25 + "rnnkit export: error: opset\n"))[0] == "WRONG"
    assert classify_process(result(1, "Traceback (most recent call last):\n  x\nKeyError: 'split'\n")) == (
        "TRACEBACK",
        "KeyError: 'split'",
    )
    assert classify_process(result(1, "diverged\n"))[0] == "TRACEBACK"
    assert classify_process(result(134, "", signal=6))[0] == "TRACEBACK"
    assert classify_process(result(None, seconds=60))[0] == "HANG"
