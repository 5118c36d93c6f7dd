"""Training flushes denormal floats to zero (tiny gradients through long sequences are many
times slower otherwise), restores the thread's setting after, and --no-flush-denormal keeps IEEE."""

import subprocess
import sys

import pytest
import torch
from helpers import smoke_train

from rnnkit.cli import main
from rnnkit.train import device
from rnnkit.train.trainer import Trainer

DENORMAL = 1e-39  # below float32's smallest normal number, 1.18e-38


def test_flushing_is_scoped_and_restored():
    assert not device.denormals_flushed()
    assert (torch.tensor(DENORMAL) * 2).item() > 0
    with device.flushed_denormals(True) as on:
        assert on and device.denormals_flushed()
        assert (torch.tensor(DENORMAL) * 2).item() == 0.0
        with device.flushed_denormals(False) as inner:  # off: IEEE inside, flushing again after
            assert not inner and not device.denormals_flushed()
            assert (torch.tensor(DENORMAL) * 2).item() > 0
        assert device.denormals_flushed()
    assert not device.denormals_flushed()


def test_workers_created_inside_the_block_flush_too():
    """The thread pool's workers take the setting when created: a fresh process shows it."""
    code = (
        "import torch; from rnnkit.train.device import flushed_denormals\n"
        "torch.set_num_threads(2)\n"
        "with flushed_denormals(True):\n"
        "    x = torch.full((4_000_000,), 1e-39)\n"
        "    print(float((x * 2 == 0).float().mean()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(out) == 1.0  # every element, whichever thread computed it


@pytest.mark.parametrize("extra, expected", [((), True), (("--no-flush-denormal",), False)])
def test_training_runs_with_denormals_flushed(tmp_path, monkeypatch, extra, expected):
    seen = []
    real_fit = Trainer.fit

    def fit(self):
        seen.append(device.denormals_flushed())
        return real_fit(self)

    monkeypatch.setattr(Trainer, "fit", fit)
    assert main(smoke_train("adding", tmp_path / "run", *extra)) == 0
    assert seen == [expected]
    assert not device.denormals_flushed()  # the process's setting is back
