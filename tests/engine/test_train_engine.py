"""Checkpoints (atomic, pickle-free), typed config, run directories, schedules."""

import argparse
import os
from dataclasses import dataclass

import pytest
import torch

from rnnkit.train import checkpoint as ckpt
from rnnkit.train import config as cfg
from rnnkit.train.schedule import LRSchedule


def test_checkpoint_round_trip_stores_shared_tensors_once(tmp_path):
    shared = torch.randn(3, 4)
    path = tmp_path / "c.safetensors"
    ckpt.save(
        path, {"model/a": shared, "model/b": shared, "rng/torch": torch.get_rng_state()}, {"task": "charlm", "step": 7}
    )
    state = ckpt.load(path, task="charlm")
    assert state.meta["step"] == 7 and state.meta["aliases"] == {"model/b": "model/a"}
    assert torch.equal(state.section("model")["b"], shared)
    assert set(state.section("model")) == {"a", "b"}


def test_atomic_save_survives_a_crash_mid_write(tmp_path, monkeypatch):
    path = tmp_path / "last.safetensors"
    ckpt.save(path, {"x": torch.ones(2)}, {"task": "charlm", "step": 1})
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", crash)  # the rename never happens
    with pytest.raises(ValueError, match=rf"{path}: cannot write: disk full \(simulated\)"):
        ckpt.save(path, {"x": torch.zeros(2)}, {"task": "charlm", "step": 2})
    assert path.read_bytes() == before
    assert ckpt.load(path).meta["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]  # no temp file left


def test_corrupt_partial_foreign_and_other_task_checkpoints_are_named(tmp_path):
    good = tmp_path / "good.safetensors"
    ckpt.save(good, {"x": torch.ones(100)}, {"task": "charlm"})
    partial = tmp_path / "partial.safetensors"
    partial.write_bytes(good.read_bytes()[:-150])
    with pytest.raises(ckpt.CheckpointError, match="partial.safetensors: not a readable checkpoint"):
        ckpt.load(partial)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(ckpt.CheckpointError, match="garbage.safetensors"):
        ckpt.load(garbage)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.ones(1)}, str(foreign))
    with pytest.raises(ckpt.CheckpointError, match="not an rnnkit checkpoint"):
        ckpt.load(foreign)
    with pytest.raises(ckpt.CheckpointError, match="checkpoint of recipe 'charlm', expected 'wordlm'"):
        ckpt.load(good, task="wordlm")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(ckpt.CheckpointError, match="empty_run: run directory holds no checkpoint"):
        ckpt.load(tmp_path / "empty_run")


def test_optimizer_state_round_trips_without_pickle():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, meta = ckpt.optimizer_state(opt)
    fresh = torch.optim.Adam(model.parameters(), 1e-2)
    ckpt.load_optimizer_state(fresh, tensors, meta)
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for pid in a["state"]:
        for key in a["state"][pid]:
            assert torch.equal(a["state"][pid][key], b["state"][pid][key])


@dataclass
class Demo:
    size: int = 4
    rate: float = 0.1
    name: str = "x"
    flag: bool = False


def test_config_overrides_are_typed_and_unknown_keys_named():
    sections = {"demo": Demo()}
    out = cfg.apply(sections, {"demo": {"size": "8", "rate": 1, "flag": "true"}})
    assert out["demo"] == Demo(size=8, rate=1.0, name="x", flag=True)
    with pytest.raises(ValueError, match="demo: unknown key\\(s\\) sise; expected some of size"):
        cfg.apply(sections, {"demo": {"sise": 3}})
    with pytest.raises(ValueError, match="demo.size: expected int, got 'big'"):
        cfg.apply(sections, {"demo": {"size": "big"}})
    with pytest.raises(ValueError, match="unknown config section"):
        cfg.apply(sections, {"model": {}})
    parser = argparse.ArgumentParser()
    cfg.add_arguments(parser, sections)
    args = parser.parse_args(["--size", "5", "--flag"])
    assert cfg.overrides_from_args(args) == {"demo": {"size": 5, "flag": True}}


def test_schedules():
    cosine = LRSchedule("cosine", 1.0, warmup_steps=10, final_lr_ratio=0.1)
    assert cosine(0, 0.0) == pytest.approx(0.1) and cosine(9, 0.0) == pytest.approx(1.0)
    assert cosine(50, 0.5) == pytest.approx(0.55) and cosine(99, 1.0) == pytest.approx(0.1)
    plateau = LRSchedule("plateau", 1.0, plateau_factor=0.25)
    plateau.after_eval(improved=True)
    plateau.after_eval(improved=False)
    assert plateau(5, 0.0) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="schedule: expected one of"):
        LRSchedule("exp", 1.0)
