"""A run's pace: fewer threads when other work holds the CPUs, and early notes when the
time budget will cut the schedule or the steps slow down."""

import json
from types import SimpleNamespace

import torch
from helpers import smoke_train

from rnnkit.cli import main
from rnnkit.train import pace
from rnnkit.train.options import TrainConfig


def _load(monkeypatch, tmp_path, running: int, cpus: int = 2):
    path = tmp_path / "loadavg"
    path.write_text(f"2.10 2.05 1.90 {running}/180 4242\n")
    monkeypatch.setattr(pace, "LOADAVG", path)
    monkeypatch.setattr(pace, "usable_cpus", lambda: cpus)


def test_threads_follow_the_free_cpus(monkeypatch, tmp_path):
    _load(monkeypatch, tmp_path, running=3)  # this process and two busy others on 2 CPUs
    threads, note = pace.choose_threads(2)
    assert threads == 1 and "2 other busy threads on the 2 CPUs" in note and "--threads N" in note
    _load(monkeypatch, tmp_path, running=1)  # only this process
    assert pace.choose_threads(2) == (2, None)
    _load(monkeypatch, tmp_path, running=2, cpus=8)
    monkeypatch.setattr(pace.os, "cpu_count", lambda: 8)
    assert pace.choose_threads(8)[0] == 7
    _load(monkeypatch, tmp_path, running=3, cpus=2)  # pinned to 2 idle CPUs of a 64-CPU machine
    monkeypatch.setattr(pace.os, "cpu_count", lambda: 64)
    assert pace.choose_threads(2) == (2, None)
    _load(monkeypatch, tmp_path, running=5, cpus=2)  # one thread already: nothing to change or say
    monkeypatch.setattr(pace.os, "cpu_count", lambda: 2)
    assert pace.choose_threads(1) == (1, None)
    monkeypatch.setattr(pace, "LOADAVG", tmp_path / "missing")
    assert pace.busy_others() == 0


def _trainer(**config):
    notes = []
    trainer = SimpleNamespace(
        config=TrainConfig(**config), elapsed=0.0, step=0, note=lambda text, event=None: notes.append(text)
    )
    return trainer, notes


def _steps(callback, trainer, count: int, seconds_each: float):
    """As the trainer does: the step counted, the callbacks, then the elapsed time updated."""
    for _ in range(count):
        trainer.step += 1
        callback.on_step_end(trainer, 1.0, 1)
        trainer.elapsed += seconds_each


def test_budget_that_cuts_the_schedule_is_said_early():
    trainer, notes = _trainer(max_steps=100, max_minutes=2.0)
    watch = pace.Pace()
    _steps(watch, trainer, 1, 50.0)  # a slow first step (a kernel build) is not timed
    _steps(watch, trainer, 2, 1.0)
    assert notes == []
    _steps(watch, trainer, 32, 1.0)  # 1 step/s after a 50 s first step: step 71 at 120 s
    assert len(notes) == 1 and "budget ends near step 71 of 100" in notes[0] and "--anneal-by-time" in notes[0]
    _steps(watch, trainer, 20, 1.0)
    assert len(notes) == 1  # said once


def test_budget_note_without_annealing_names_no_schedule():
    trainer, notes = _trainer(max_steps=100, max_minutes=1.0, schedule="constant")
    _steps(pace.Pace(), trainer, 40, 1.0)
    assert len(notes) == 1 and "ends near step" in notes[0] and "--anneal-by-time" not in notes[0]


def test_no_budget_note_when_the_schedule_fits_or_follows_time():
    for config in (dict(max_steps=50, max_minutes=1.0), dict(max_steps=100, max_minutes=1.0, anneal_by_time=True)):
        trainer, notes = _trainer(**config)
        _steps(pace.Pace(), trainer, 40, 1.0)
        assert notes == []


def test_a_slowdown_is_said_once():
    trainer, notes = _trainer(max_steps=10_000)
    watch = pace.Pace()
    _steps(watch, trainer, 40, 1.0)
    _steps(watch, trainer, 200, 1.0)  # same pace: nothing
    assert notes == []
    _steps(watch, trainer, 100, 4.0)  # a quarter of the rate
    assert len(notes) == 1 and "steps/s now against 1.00 at the start" in notes[0]
    assert "budget ends" not in notes[0]  # no time budget
    _steps(watch, trainer, 100, 4.0)
    assert len(notes) == 1


def test_a_slowdown_restates_where_the_budget_ends():
    """A run that would finish at its first pace, slowed by other work, is told where it will stop."""
    trainer, notes = _trainer(max_steps=1000, max_minutes=20.0)
    watch = pace.Pace()
    _steps(watch, trainer, 200, 1.0)  # 1 step/s: 1000 steps fit the 1,200 s budget
    assert notes == []
    _steps(watch, trainer, 80, 4.0)  # a quarter of the rate from about 200 s
    assert len(notes) == 1 and "at this rate the budget ends near step" in notes[0] and "of 1,000" in notes[0]


def test_training_under_load_takes_fewer_threads_and_records_it(tmp_path, monkeypatch, capsys):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        _load(monkeypatch, tmp_path, running=3)
        assert main(smoke_train("adding", tmp_path / "run")) == 0
        assert torch.get_num_threads() == 1
        events = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
        assert any(e.get("event", "").startswith("threads: 2 other busy threads") for e in events)
        torch.set_num_threads(2)
        assert main(smoke_train("adding", tmp_path / "run2", "--threads", "2")) == 0
        assert torch.get_num_threads() == 2  # an explicit count is obeyed
    finally:
        torch.set_num_threads(before)
