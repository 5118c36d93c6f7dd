"""One writer per run directory: real concurrent `rnnkit train` processes (a new run,
--overwrite, --resume), stale locks of killed processes, and racing take-overs."""

import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from rnnkit import files
from rnnkit.cli import main
from rnnkit.train import checkpoint as ckpt
from rnnkit.train import lock, rundir

DEAD = 2**22 + 12345  # above Linux's pid_max, so never a live process
HOST = socket.gethostname()

#: `rnnkit ARGS...` that, at its first training step, writes READY and waits for GO: it holds
#: the run directory's lock while the test starts a second writer
HOLD = r"""
import os, sys, time
from pathlib import Path
from rnnkit.train.trainer import Trainer
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
original = Trainer.train_step

def train_step(self):
    if not ready.exists():
        ready.write_text(str(os.getpid()))
        deadline = time.time() + 300
        while not go.exists() and time.time() < deadline:
            time.sleep(0.05)
    return original(self)

Trainer.train_step = train_step
from rnnkit import files
from rnnkit.cli import main
sys.exit(main(sys.argv[3:]))
"""


def copy_args(run: Path, *extra: str) -> list[str]:
    return [
        "train",
        "copy",
        "--length",
        "5",
        "--hidden-size",
        "8",
        "--batch-size",
        "16",
        "--valid-size",
        "32",
        "--test-size",
        "32",
        "--max-minutes",
        "0",
        "--max-steps",
        "6",
        "--eval-every",
        "3",
        "--warmup-steps",
        "0",
        "--threads",
        "1",
        "--run-dir",
        str(run),
        "--quiet",
        *extra,
    ]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def start_holding(tmp_path: Path, args: list[str]) -> tuple[subprocess.Popen, Path]:
    """Start `rnnkit ARGS` and wait until it holds the lock and waits at its first step."""
    ready, go = tmp_path / "ready", tmp_path / "go"
    ready.unlink(missing_ok=True)
    go.unlink(missing_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ready), str(go), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 300
    while not ready.exists():
        assert first.poll() is None, first.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    return first, go


def finish(first: subprocess.Popen, go: Path) -> None:
    go.touch()
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err


def refused(err: str, pid: int) -> bool:
    """One line naming the holder's pid, host and start time."""
    return (
        err.count("\n") == 1
        and err.startswith("rnnkit train: error: run directory ")
        and f"is in use by rnnkit process {pid} on host {HOST} since 20" in err
    )


def train_steps(run: Path) -> list[int]:
    return [r["step"] for r in rundir.select(rundir.read_metrics(run), "train")]


def rnnkit(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True, text=True, env=env, timeout=300)


def test_a_second_writer_is_refused_while_a_run_trains_and_while_it_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    first, go = start_holding(tmp_path, copy_args(run, "--log-every", "1"))
    holder = json.loads((run / ".rnnkit-lock").read_text())
    assert (holder["pid"], holder["host"]) == (first.pid, HOST)
    before = snapshot(run)
    assert main(copy_args(run, "--hidden-size", "16")) == 2  # a second training into the same new directory
    assert refused(capsys.readouterr().err, first.pid)
    second = rnnkit(*copy_args(run, "--overwrite"))  # --overwrite while it trains: no set-aside
    assert second.returncode == 2 and refused(second.stderr, first.pid), second.stderr
    assert snapshot(run) == before and not list(run.glob(".rnnkit-previous-*"))
    finish(first, go)
    assert not (run / ".rnnkit-lock").exists()
    assert rundir.read_config(run)["model"]["hidden_size"] == 8
    assert train_steps(run) == [1, 2, 3, 4, 5, 6]  # one writer: no step twice, none going back

    first, go = start_holding(tmp_path, ["train", "copy", "--resume", str(run), "--max-steps", "9", "--quiet"])
    before = snapshot(run)
    assert main(["train", "copy", "--resume", str(run), "--max-steps", "12", "--quiet"]) == 2
    assert refused(capsys.readouterr().err, first.pid)
    assert main(copy_args(run, "--overwrite")) == 2 and refused(capsys.readouterr().err, first.pid)
    assert snapshot(run) == before
    finish(first, go)
    assert train_steps(run) == list(range(1, 10)) and not (run / ".rnnkit-lock").exists()


def test_a_stale_lock_of_a_killed_process_is_taken_over_with_a_warning(tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert main(copy_args(run)) == 0
    real, written = files.atomic_write_text, []

    def note_the_lock(path, text):  # the recipe's report too is written under the lock
        written.append((Path(path).name, (Path(path).parent / ".rnnkit-lock").is_file()))
        real(path, text)

    monkeypatch.setattr(files, "atomic_write_text", note_the_lock)
    (run / ".rnnkit-lock").write_text(json.dumps({"pid": DEAD, "host": HOST, "since": "2026-01-01 00:00:00 UTC"}))
    message = (
        f"{run}: took over the lock of rnnkit process {DEAD} on {HOST} (since 2026-01-01 "
        "00:00:00 UTC), which is no longer running"
    )
    with pytest.warns(UserWarning) as caught:
        assert main(["train", "copy", "--resume", str(run), "--max-steps", "9", "--quiet"]) == 0
    assert message in [str(w.message) for w in caught]
    assert not (run / ".rnnkit-lock").exists() and ckpt.load(run / "last.safetensors").meta["step"] == 9
    assert ("report_test.json", True) in written


@pytest.mark.parametrize("failure", ["ctrl-c", "error"])
def test_the_lock_goes_when_a_run_stops_on_ctrl_c_or_an_error(tmp_path, monkeypatch, failure):
    import signal

    from rnnkit.train.trainer import Trainer

    original = Trainer.train_step

    def stop_at_step_two(self):
        if self.step == 1:
            assert (run / ".rnnkit-lock").is_file()
            if failure == "error":
                raise RuntimeError("out of memory (simulated)")
            signal.raise_signal(signal.SIGINT)
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", stop_at_step_two)
    run = tmp_path / "run"
    if failure == "error":
        with pytest.raises(RuntimeError, match="simulated"):
            main(copy_args(run))
    else:
        assert main(copy_args(run)) == 130
    assert (run / "config.json").is_file() and not (run / ".rnnkit-lock").exists()


def test_lock_holders_live_dead_reused_and_of_other_hosts(tmp_path):
    record = lock.acquire(tmp_path)
    assert record["pid"] == os.getpid() and not lock.is_stale(record)
    with pytest.raises(lock.LockedError, match=rf"is in use by rnnkit process {os.getpid()} on host"):
        lock.acquire(tmp_path)
    lock.release(tmp_path, record)
    assert not (tmp_path / ".rnnkit-lock").exists()
    reused = {"pid": os.getppid(), "host": HOST, "start_tick": -1, "since": "then"}  # pid alive, another process
    assert lock.is_stale(reused) and lock.is_stale({"pid": DEAD, "host": HOST})
    elsewhere = {"pid": DEAD, "host": HOST + "-other", "since": "then"}
    (tmp_path / ".rnnkit-lock").write_text(json.dumps(elsewhere))
    with pytest.raises(lock.LockedError, match=rf"in use by rnnkit process {DEAD} on host {HOST}-other since then"):
        rundir.check(tmp_path, overwrite=True)
    (tmp_path / ".rnnkit-lock").write_text("")  # its writer was killed before writing it
    with pytest.raises(lock.LockedError, match="locked by .*rnnkit-lock, which names no process; remove"):
        lock.acquire(tmp_path)
    (tmp_path / ".rnnkit-lock").write_text(json.dumps(reused))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with lock.hold(tmp_path):
            assert json.loads((tmp_path / ".rnnkit-lock").read_text())["pid"] == os.getpid()
    assert "took over the lock" in str(caught[0].message) and not (tmp_path / ".rnnkit-lock").exists()


def test_a_lock_taken_for_a_run_that_never_started_leaves_no_folder(tmp_path):
    run = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError):
        with lock.hold(run):
            assert (run / ".rnnkit-lock").is_file() and rundir.is_fresh(run)
            raise RuntimeError("the data could not be built")
    assert not run.exists()


RACER = r"""
import importlib.util, os, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("lock", sys.argv[3])  # the module alone: no torch
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
folder, go = Path(sys.argv[1]), Path(sys.argv[2])
(go.parent / f"{go.name}-{os.getpid()}").touch()  # ready
while not go.exists():
    time.sleep(0.002)
try:
    record = lock.acquire(folder)
except lock.LockedError:
    print("lost")
else:
    print("won")
    time.sleep(1.0)
    lock.release(folder, record)
"""


def test_processes_racing_to_take_over_a_stale_lock_leave_one_winner(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".rnnkit-lock").write_text(json.dumps({"pid": DEAD, "host": HOST, "since": "then"}))
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", RACER, str(run), str(go), lock.__file__],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    deadline = time.time() + 120
    while len(list(tmp_path.glob("go-*"))) < len(racers) and time.time() < deadline:
        time.sleep(0.01)
    go.touch()
    results = sorted(r.communicate(timeout=120)[0].strip() for r in racers)
    assert results == ["lost", "lost", "lost", "won"]
    assert not (run / ".rnnkit-lock").exists() and not list(run.iterdir())


def test_every_rank_of_a_multi_process_run_stops_when_the_run_is_locked(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    record = lock.acquire(run)  # this process trains in it
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
        "-m",
        "rnnkit",
        *copy_args(run),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300
    )  # no rank waits for the other forever
    assert done.returncode != 0
    assert f"is in use by rnnkit process {os.getpid()} on host {HOST}" in done.stdout + done.stderr
    assert [p.name for p in run.iterdir()] == [".rnnkit-lock"]
    lock.release(run, record)
