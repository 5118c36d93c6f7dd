"""``rnnkit train ... --tensorboard``: the event files hold the logged figures at their steps,
change nothing else, resume into a new event file, go with --overwrite, and a missing package
or a folder rnnkit did not write is one line before anything is touched."""

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_checkpoints, comparable, tiny_charlm

from rnnkit.cli import main
from rnnkit.files import read_manifest
from rnnkit.train.rundir import read_metrics

#: every test but the one of a missing package needs the rnnkit[tensorboard] extra
needs_tensorboard = pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None, reason="the tensorboard package is not installed"
)


def tiny(run, *extra, steps=12):
    return tiny_charlm(
        run, "--log-every", "2", "--warmup-steps", "0", "--final-report", "none", *extra, steps=steps, eval_every=4
    )


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] of every event file in RUN/tensorboard, read with tensorboard's reader."""
    from tensorboard.backend.event_processing import event_accumulator

    found: dict[str, list] = {}
    for events in sorted((run / "tensorboard").iterdir()):
        reader = event_accumulator.EventAccumulator(str(events))
        reader.Reload()
        for tag in reader.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in reader.Scalars(tag))
    return found


def logged(run: Path) -> dict[str, list[tuple[int, float]]]:
    """The same from metrics.jsonl, as float32 (the precision of a TensorBoard scalar)."""
    found: dict[str, list] = {}
    for record in read_metrics(run):
        if record["split"] in ("train", "val"):
            for key, value in record.items():
                if key not in ("split", "step", "epoch", "elapsed"):
                    found.setdefault(f"{record['split']}/{key}", []).append((record["step"], float(np.float32(value))))
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """The same tiny run without and with --tensorboard."""
    root = tmp_path_factory.mktemp("tb")
    assert main(tiny(root / "plain")) == 0
    assert main(tiny(root / "board", "--tensorboard")) == 0
    return root / "plain", root / "board"


@needs_tensorboard
def test_the_events_hold_every_logged_figure_at_its_step(runs):
    _, board = runs
    shown, written = scalars(board), logged(board)
    assert {"train/loss", "train/lr", "val/loss", "val/bits"} <= shown.keys()
    assert shown == written
    assert [step for step, _ in shown["train/loss"]] == [2, 4, 6, 8, 10, 12]
    assert [step for step, _ in shown["val/loss"]] == [4, 8, 12]
    assert "tensorboard" in read_manifest(board)


@needs_tensorboard
def test_tensorboard_changes_no_other_output(runs):
    plain, board = runs
    assert not (plain / "tensorboard").exists() and "tensorboard" not in read_manifest(plain)
    assert comparable(plain) == comparable(board)
    assert (plain / "config.json").read_text() == (board / "config.json").read_text()
    for name in ("best.safetensors", "last.safetensors"):
        assert_same_checkpoints(plain / name, board / name)
    assert {p.name for p in plain.iterdir()} == {p.name for p in board.iterdir()} - {"tensorboard"}


@needs_tensorboard
def test_a_resumed_run_adds_an_event_file_and_overwrite_removes_the_folder(tmp_path):
    run = tmp_path / "run"
    assert main(tiny(run, "--tensorboard", steps=4)) == 0
    assert main(["train", "charlm", "--resume", str(run), "--max-steps", "8", "--quiet", "--tensorboard"]) == 0
    assert len(list((run / "tensorboard").iterdir())) == 2
    assert scalars(run) == logged(run)  # steps 2-4 in the first file, 6-8 in the second
    assert main(tiny(run, "--overwrite", steps=4)) == 0
    assert not (run / "tensorboard").exists()
    assert not [p for p in run.iterdir() if p.name.startswith(".rnnkit-previous")]


@needs_tensorboard
def test_a_folder_rnnkit_did_not_write_is_refused_and_kept(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, steps=4)) == 0
    (run / "tensorboard").mkdir()
    (run / "tensorboard" / "mine.txt").write_text("my own events")
    before = sorted(p.name for p in run.iterdir())
    capsys.readouterr()
    assert main(tiny(run, "--overwrite", "--tensorboard", steps=4)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run / 'tensorboard'} exists and rnnkit did not write it" in err, err
    assert sorted(p.name for p in run.iterdir()) == before
    assert main(tiny(run, "--overwrite", steps=4)) == 0  # without --tensorboard: the user's folder stays
    assert (run / "tensorboard" / "mine.txt").read_text() == "my own events"


def test_without_the_package_one_line_names_the_extra(tmp_path, capsys, monkeypatch):
    for name in ("torch.utils.tensorboard", "tensorboard", "tensorboard.summary"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    assert main(tiny(tmp_path / "run", "--tensorboard")) == 2
    err = capsys.readouterr().err
    assert err == (
        'rnnkit train: error: --tensorboard needs the tensorboard package: pip install "rnnkit[tensorboard]"\n'
    )
    assert not (tmp_path / "run").exists()


@needs_tensorboard
def test_on_two_processes_only_rank_0_writes_events(tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "rnnkit",
        *tiny(run, "--tensorboard", "--dropout", "0", "--schedule", "constant", steps=4),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ, OMP_NUM_THREADS="1")
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(list((run / "tensorboard").iterdir())) == 1
    assert scalars(run) == logged(run)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
