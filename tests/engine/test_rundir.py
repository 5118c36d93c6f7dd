"""Run directories: what --overwrite may touch, setting an old run aside, temporaries, SIGKILL."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.files import atomic_write_text
from rnnkit.train import checkpoint as ckpt
from rnnkit.train import plots, rundir, setaside

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tiny.txt"
CONFIG = {"task": "charlm", "preset": None, "data": {}, "model": {}, "train": {"max_steps": 3}}
OUTPUTS = ("split.json", "report_test.json", "confusion_valid.png")  # a recipe's own files


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (relative) -> its bytes, None for a folder."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def make_run(folder: Path, config=CONFIG) -> Path:
    """A finished-looking run: every kind of file rnnkit writes, with distinct bytes."""
    folder.mkdir(parents=True)
    rundir.write_config(folder, config)
    ckpt.save(folder / "best.safetensors", {"x": torch.ones(2)}, {"task": "charlm", "step": 2})
    ckpt.save(folder / "last.safetensors", {"x": torch.zeros(2)}, {"task": "charlm", "step": 3})
    for name in ("metrics.jsonl", "curves.png", *OUTPUTS):
        (folder / name).write_text(f"old {name}")
    return folder


def add_user_files(folder: Path) -> None:
    (folder / "notes.tex").write_text("precious")
    (folder / "src").mkdir()
    (folder / "src" / "curves.png").write_text("user's own curves, in a subfolder")
    (folder / "report_test.json.bak").write_text("not a name rnnkit writes")
    (folder / "report_final.json").write_text("nor this one")


def test_run_directory_is_never_reused_silently(tmp_path):
    run = rundir.create(tmp_path / "run")
    rundir.write_config(run, CONFIG)
    with pytest.raises(ValueError, match="already exists; pass --resume .* or --overwrite"):
        rundir.create(run)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="refusing to delete a directory that is not an rnnkit run"):
        rundir.check(other, overwrite=True)
    assert (other / "thesis.tex").read_text() == "precious"
    assert rundir.check(run, overwrite=True) == run


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"eslint": true}', "names no rnnkit task"),
        ('["task", "train"]', "not a JSON object"),
        ('{"task": 3, "train": {}}', "names no rnnkit task"),
        ('{"task": "charlm"}', 'no "train" section'),
        ('{"task": "charlm", "train": []}', 'no "train" section'),
        ('{"task": "charlm", ', "not readable JSON"),
    ],
)
def test_only_a_config_that_rnnkit_writes_makes_a_run(tmp_path, text, reason):
    (tmp_path / "config.json").write_text(text)
    assert not rundir.is_run(tmp_path) and reason in rundir.not_a_run(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    assert rundir.is_run(tmp_path) and rundir.not_a_run(tmp_path) is None
    assert "no such directory" in rundir.not_a_run(tmp_path / "missing")


def test_a_folder_that_is_not_a_run_survives_overwrite_and_resume(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text('{"eslint": true}')
    (project / "paper.tex").write_text("\\documentclass{article}")
    (project / "src").mkdir()
    (project / "src" / "main.js").write_text("console.log(1)")
    (project / "metrics.jsonl").write_text("a name rnnkit uses, in a folder it does not own")
    before = snapshot(project)
    for attempt in (
        lambda: rundir.check(project, overwrite=True),
        lambda: setaside.set_aside(project),
        lambda: rundir.check(project, resume=True),
        lambda: rundir.create(project),
    ):
        with pytest.raises(ValueError, match=re.escape(str(project))) as err:
            attempt()
        assert "not an rnnkit run" in str(err.value) or "already exists" in str(err.value)
    with pytest.raises(ValueError, match="names no rnnkit task"):
        rundir.check(project, overwrite=True)
    assert snapshot(project) == before


def test_set_aside_moves_only_what_rnnkit_wrote(tmp_path):
    run = make_run(tmp_path / "run")
    (run / f".last.safetensors.tmp-{os.getpid() + 1}").write_text("torn")
    add_user_files(run)
    user = {
        k: v for k, v in snapshot(run).items() if k.startswith(("notes", "src", "report_final", "report_test.json.bak"))
    }
    aside = setaside.set_aside(run, OUTPUTS)
    assert aside.folder.parent == run and aside.folder.name.startswith(f".rnnkit-previous-{os.getpid()}-")
    assert set(aside.moved) == {
        "config.json",
        "metrics.jsonl",
        "best.safetensors",
        "last.safetensors",
        "curves.png",
        *OUTPUTS,
        f".last.safetensors.tmp-{os.getpid() + 1}",
    }
    assert {p.name for p in run.iterdir()} == {
        "notes.tex",
        "src",
        "report_test.json.bak",
        "report_final.json",
        aside.folder.name,
        ".rnnkit-manifest",
    }  # the new run's, empty
    assert rundir.owned(run) == sorted([aside.folder, run / ".rnnkit-manifest"])
    assert {k: v for k, v in snapshot(run).items() if not k.startswith(".rnnkit")} == user
    assert not rundir.is_run(run)  # a clean-looking directory: write_config starts the new run


def test_restore_brings_the_old_run_back_byte_for_byte(tmp_path):
    run = make_run(tmp_path / "run")
    add_user_files(run)
    before = snapshot(run)
    aside = setaside.set_aside(run, OUTPUTS)
    rundir.write_config(run, dict(CONFIG, preset="new"))  # the new run fails before a checkpoint
    (run / "metrics.jsonl").write_text('{"split": "train", "step": 1, "loss": NaN}\n')
    (run / ".best.safetensors.tmp-1").write_text("torn")
    (run / "later.txt").write_text("the user wrote this meanwhile")
    (run / "report_test.json").write_text("the new run's report")
    aside.restore()
    assert aside.state == "restored"
    assert snapshot(run) == dict(before, **{"later.txt": b"the user wrote this meanwhile"})
    aside.restore()
    aside.discard()  # both do nothing now
    assert aside.state == "restored" and rundir.is_run(run) and (run / "best.safetensors").is_file()


def test_discard_removes_the_old_run_once_a_checkpoint_is_saved(tmp_path):
    run = make_run(tmp_path / "run")
    add_user_files(run)
    aside = setaside.set_aside(run, OUTPUTS)
    rundir.write_config(run, dict(CONFIG, preset="new"))
    ckpt.save(run / "last.safetensors", {"x": torch.full((2,), 7.0)}, {"task": "charlm", "step": 1})
    aside.discard()
    assert aside.state == "discarded" and not aside.folder.exists()
    assert {p.name for p in run.iterdir()} == {
        "config.json",
        "last.safetensors",
        "notes.tex",
        "src",
        "report_test.json.bak",
        "report_final.json",
        ".rnnkit-manifest",
    }
    aside.discard()
    aside.restore()  # both do nothing now
    assert rundir.read_config(run)["preset"] == "new" and ckpt.load(run).meta["step"] == 1


def test_a_failed_set_aside_puts_back_what_it_moved(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run")
    before = snapshot(run)
    real, calls = os.rename, []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == 4:
            raise OSError("simulated")
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="simulated"):
        setaside.set_aside(run)
    assert snapshot(run) == before  # no hidden folder left either


def test_a_stale_set_aside_folder_is_owned_and_only_goes_with_its_run(tmp_path):
    run = make_run(tmp_path / "run")
    stale = run / ".rnnkit-previous-99999-abc"  # left by a process killed mid-run
    stale.mkdir()
    (stale / "last.safetensors").write_text("the run before")
    assert stale in rundir.owned(run)
    rundir.check(run, resume=True)
    rundir.clean_temporaries(run)
    assert (stale / "last.safetensors").is_file()  # none of these deletes it
    aside = setaside.set_aside(run)
    assert stale.name in aside.moved and not stale.exists()
    aside.restore()
    assert (stale / "last.safetensors").read_text() == "the run before"
    setaside.set_aside(run).discard()
    assert not stale.exists() and rundir.owned(run) == [run / ".rnnkit-manifest"]
    # A directory holding nothing but a set-aside run says where the run went.
    (run / ".rnnkit-previous-123-xyz").mkdir()
    with pytest.raises(ValueError, match=r"rnnkit-previous-123-xyz holds a run .* set aside"):
        rundir.check(run, resume=True)


def test_stale_temporaries_are_removed_by_the_next_save_and_by_clean_temporaries(tmp_path):
    dead = 2**22 + 12345  # above Linux's pid_max, so never a live process
    live = os.getppid()
    path = tmp_path / "last.safetensors"
    for name in (
        f".last.safetensors.tmp-{dead}",
        f".best.safetensors.tmp-{dead}",
        f".metrics.jsonl.tmp-{live}",
        ".last.safetensors.tmp-x",
        f".last.safetensors.tmp-{live}",
    ):
        (tmp_path / name).write_text("torn")
    ckpt.save(path, {"x": torch.ones(1)}, {"task": "charlm", "step": 1})
    assert not (tmp_path / f".last.safetensors.tmp-{dead}").exists()  # same target, dead writer: removed
    assert (tmp_path / f".last.safetensors.tmp-{live}").exists()  # a live writer's: it may be writing now
    assert (tmp_path / f".best.safetensors.tmp-{dead}").exists()  # another target: kept
    assert rundir.clean_temporaries(tmp_path) == [tmp_path / f".best.safetensors.tmp-{dead}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".last.safetensors.tmp-x", f".last.safetensors.tmp-{live}", f".metrics.jsonl.tmp-{live}", "last.safetensors"]
    )


def test_atomic_text_and_figures_leave_the_old_file_on_a_failed_rename(tmp_path, monkeypatch):
    report = tmp_path / "report_val.json"
    atomic_write_text(report, '{"accuracy": "½"}\n')
    assert report.read_text(encoding="utf-8") == '{"accuracy": "½"}\n'
    (tmp_path / "metrics.jsonl").write_text(
        "".join(
            json.dumps({"split": split, "step": s, "loss": 2.0 / s}) + "\n"
            for s in (1, 2, 3)
            for split in ("train", "val")
        )
    )
    png = plots.plot_run(tmp_path)
    assert png == tmp_path / "curves.png" and png.read_bytes().startswith(b"\x89PNG")
    before = png.read_bytes()

    def crash(*args):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ValueError, match=r"curves.png: cannot write: disk full \(simulated\)"):
        plots.plot_run(tmp_path)
    fig = plots.pyplot().figure()
    with pytest.raises(ValueError, match=r"confusion_val.png: cannot write: disk full"):
        plots.save_figure(fig, tmp_path / "confusion_val.png")
    with pytest.raises(ValueError, match=rf"{report}: cannot write: disk full"):
        atomic_write_text(report, "new")
    with pytest.raises(
        ValueError, match=rf"{tmp_path / 'nope' / 'x.json'}: cannot write: the folder .* does not exist"
    ):
        atomic_write_text(tmp_path / "nope" / "x.json", "new")
    assert png.read_bytes() == before and report.read_text(encoding="utf-8") == '{"accuracy": "½"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "metrics.jsonl", "report_val.json"]
    assert plots.pyplot().get_fignums() == []  # every figure was closed


KILL_AT_SECOND_LAST_SAVE = r"""
import os, signal, sys
real_replace, saves = os.replace, []

def replace(src, dst, *args, **kwargs):
    if os.path.basename(str(dst)) == "last.safetensors":
        saves.append(dst)
        if len(saves) == 2:  # the temporary is written and flushed; the rename never happens
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)

os.replace = replace
from rnnkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_run_killed_mid_save_resumes_and_its_temporary_goes(tmp_path):
    from rnnkit.cli import main

    run = tmp_path / "run"
    args = [
        "train",
        "charlm",
        "--text",
        str(FIXTURE.resolve()),
        "--run-dir",
        str(run),
        "--quiet",
        "--embedding-dim",
        "16",
        "--hidden-size",
        "32",
        "--num-layers",
        "1",
        "--batch-size",
        "4",
        "--seq-length",
        "20",
        "--max-steps",
        "30",
        "--eval-every",
        "10",
        "--log-every",
        "5",
        "--warmup-steps",
        "3",
    ]
    killed = subprocess.Popen(
        [sys.executable, "-c", KILL_AT_SECOND_LAST_SAVE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, stderr = killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL, stderr
    assert [p.name for p in run.glob(".*.tmp-*")] == [f".last.safetensors.tmp-{killed.pid}"]
    assert ckpt.load(run / "last.safetensors").meta["step"] == 10  # the save before the kill
    assert main(["train", "charlm", "--resume", str(run), "--quiet"]) == 0
    assert ckpt.load(run / "last.safetensors").meta["step"] == 30
    assert not list(run.glob(".*.tmp-*"))
    steps = [r["step"] for r in rundir.select(rundir.read_metrics(run), "train")]
    assert steps == [5, 10, 15, 20, 25, 30]  # the killed run's steps 11-20 were dropped, then redone
