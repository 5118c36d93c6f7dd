"""Test-wide settings: two threads (CI's machine), and the ``e2e`` marker on every test in a
module that drives the command line (``rnnkit.cli``), so ``pytest -m "not e2e"`` runs the
layer tests alone."""

import os

import pytest
import torch

# two threads (CI's machine); one per worker when pytest-xdist runs two workers on its two cores
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and any(name.startswith("rnnkit.cli") for name in _imported(module)):
            item.add_marker(pytest.mark.e2e)


def _imported(module) -> set:
    """Names of the rnnkit modules a test module imported something from."""
    found = set()
    for value in vars(module).values():
        owner = getattr(value, "__module__", None) or getattr(value, "__name__", None)
        if isinstance(owner, str):
            found.add(owner)
    return found


# torch's fused op for impl="auto" layers unless a test asks otherwise: no timed kernel trials
# (tests/nn/test_nn_choose.py covers them) and the same numbers as torch.nn on every machine
os.environ.setdefault("RNNKIT_IMPL", "fused")


@pytest.fixture(autouse=True)
def _quiet_machine(monkeypatch, tmp_path_factory):
    """Runs see no other busy threads (no load average to read), so two runs compared within a
    test take the same thread count whatever else shares the cores (tests/engine/test_pace.py
    sets its own load)."""
    from rnnkit.train import pace

    monkeypatch.setattr(pace, "LOADAVG", tmp_path_factory.getbasetemp() / "no-loadavg")
