"""Training flushes denormal floats to zero (tiny gradients through long sequences are many
times slower otherwise), restores the thread's setting after, and --no-flush-denormal keeps IEEE."""

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
        with device.flushed_denormals(False) as inner:  # off keeps what is there
            assert inner
    assert not device.denormals_flushed()


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
