"""What --overwrite may touch: only what the run's manifest lists (or, in a run made before
manifests, rnnkit's exact names); which folders are runs; config.json read with limits;
files of a run that other commands must not replace."""

import json
import warnings
from pathlib import Path

import pytest
import torch

from rnnkit.files import MANIFEST, atomic_write_text, read_manifest
from rnnkit.train import checkpoint as ckpt
from rnnkit.train import rundir, setaside
from rnnkit.train.metricslog import MetricsLog

CONFIG = {"task": "translate", "preset": None, "data": {}, "model": {}, "train": {"max_steps": 3}}
OUTPUTS = ("report_test.json", "eval_*_beam*.txt", "model.json", "model.onnx", "split.json")
USER = {
    ".paper.tmp-v2": "draft",
    "model.json": "my own model card",
    "eval_mine_beam_notes.txt": "notes",
    ".notes.tmp-3": "an editor's file",
    "config.json.bak": "a backup",
}


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def new_run(folder: Path) -> Path:
    """A run as this rnnkit writes one: every write goes through rnnkit.files."""
    rundir.create(folder)
    rundir.write_config(folder, CONFIG)
    MetricsLog(folder / "metrics.jsonl").write({"split": "train", "step": 1, "loss": 1.0})
    ckpt.save(folder / "last.safetensors", {"x": torch.zeros(2)}, {"task": "translate", "step": 1})
    atomic_write_text(folder / "report_test.json", "{}\n")
    atomic_write_text(folder / "eval_test_beam5.txt", "a translation\n")
    return folder


def add_user(folder: Path) -> dict:
    for name, text in USER.items():
        (folder / name).write_text(text)
    return {name: text.encode() for name, text in USER.items()}


def test_the_manifest_lists_what_the_run_wrote_and_only_that_is_moved(tmp_path):
    run = new_run(tmp_path / "run")
    assert read_manifest(run) == {
        "config.json",
        "metrics.jsonl",
        "last.safetensors",
        "report_test.json",
        "eval_test_beam5.txt",
    }
    user = add_user(run)
    (run / f".last.safetensors.tmp-{2**22 + 1}").write_text("a killed save")
    aside = setaside.set_aside(run, OUTPUTS)
    assert set(aside.moved) == {
        "config.json",
        "metrics.jsonl",
        "last.safetensors",
        "report_test.json",
        "eval_test_beam5.txt",
        MANIFEST,
        f".last.safetensors.tmp-{2**22 + 1}",
    }
    assert {k: v for k, v in snapshot(run).items() if not k.startswith(".rnnkit")} == user
    assert read_manifest(run) == frozenset()  # the new run's
    rundir.write_config(run, dict(CONFIG, preset="new"))
    aside.discard()
    assert {k: v for k, v in snapshot(run).items() if k in USER} == user
    assert sorted(p.name for p in run.iterdir()) == sorted([*USER, "config.json", MANIFEST])


def test_restore_removes_only_what_the_new_run_wrote(tmp_path):
    run = new_run(tmp_path / "run")
    add_user(run)
    before = snapshot(run)
    aside = setaside.set_aside(run, OUTPUTS)
    rundir.write_config(run, dict(CONFIG, preset="new"))
    atomic_write_text(run / "eval_valid_beam1.txt", "the new run's")
    (run / "eval_yours_beam2.txt").write_text("the user's, written meanwhile")
    aside.restore()
    assert snapshot(run) == dict(before, **{"eval_yours_beam2.txt": b"the user's, written meanwhile"})


def test_a_run_without_a_manifest_loses_only_exact_names_and_says_so(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    for name in ("config.json", "best.safetensors", "report_test.json", "eval_test_beam5.txt", "model.json"):
        (run / name).write_text(json.dumps(CONFIG) if name == "config.json" else f"old {name}")
    (run / ".paper.tmp-v2").write_text("draft")
    assert rundir.is_run(run, tasks=["translate"]) and read_manifest(run) is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aside = setaside.set_aside(run, OUTPUTS)
    assert set(aside.moved) == {"config.json", "best.safetensors", "report_test.json", "model.json"}
    assert {p.name for p in run.iterdir()} == {aside.folder.name, MANIFEST, "eval_test_beam5.txt", ".paper.tmp-v2"}
    assert [str(w.message) for w in caught] == [
        f"{run} was made before rnnkit kept a manifest: only files of rnnkit's exact names were set aside; "
        "eval_test_beam5.txt stay (nothing is guessed)"
    ]
    aside.restore()
    assert read_manifest(run) is None and (run / "model.json").read_text() == "old model.json"
    rundir.adopt(run, OUTPUTS)  # what resuming it does: a manifest of the exact names present
    assert read_manifest(run) == {"config.json", "best.safetensors", "report_test.json", "model.json"}


def test_another_tools_folder_is_not_a_run_unless_it_names_a_recipe(tmp_path):
    folder = tmp_path / "tool"
    folder.mkdir()
    (folder / "config.json").write_text('{"task": "x", "train": {}}')
    for name in ("metrics.jsonl", "curves.png", "model.json"):
        (folder / name).write_text("the tool's")
    before = snapshot(folder)
    assert rundir.is_run(folder)  # the shape alone (tasks unknown)...
    why = rundir.not_a_run(folder, tasks=["charlm", "translate"])
    assert why == "config.json names task 'x', which is no rnnkit recipe"
    for attempt in (
        lambda: rundir.check(folder, overwrite=True, tasks=["charlm"]),
        lambda: setaside.set_aside(folder, OUTPUTS, tasks=["charlm"]),
    ):
        with pytest.raises(ValueError, match="not an rnnkit run .*no rnnkit recipe"):
            attempt()
    assert snapshot(folder) == before
    (folder / MANIFEST).write_text("")  # rnnkit's own mark: a run of a recipe since removed
    assert rundir.is_run(folder, tasks=["charlm"])


@pytest.mark.parametrize(
    "text, reason",
    [
        ("[" * 100_000, "config.json is nested too deeply to be rnnkit's"),
        ('{"task": "charlm", "train": {}, "pad": "' + "x" * (2**20) + '"}', "config.json is 1,048,"),
    ],
)
def test_a_deeply_nested_or_huge_config_is_one_line(tmp_path, text, reason):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(text)
    (run / "last.safetensors").write_text("kept")
    assert reason in rundir.not_a_run(run)
    for attempt in (
        lambda: rundir.check(run, resume=True),
        lambda: rundir.check(run, overwrite=True),
        lambda: rundir.read_config(run),
        lambda: setaside.set_aside(run),
    ):
        with pytest.raises(ValueError) as err:
            attempt()
        assert reason in str(err.value) and str(run) in str(err.value) and "\n" not in str(err.value)
    assert (run / "last.safetensors").read_text() == "kept"


def test_files_of_a_run_are_refused_as_other_commands_outputs(tmp_path):
    run = new_run(tmp_path / "run")
    (run / "notes.json").write_text("the user's")
    for name in ("config.json", "last.safetensors", "report_test.json", MANIFEST, ".rnnkit-lock"):
        (run / name).touch()
        with pytest.raises(
            ValueError,
            match=rf"--out {run / name}: refusing to replace {name}, a file of "
            rf"the rnnkit run in {run}; choose another file name",
        ):
            rundir.refuse_run_file(run / name, "--out", replaceable=("*.onnx", "model.json"))
    atomic_write_text(run / "model.json", "an earlier export")
    for free in ("model.json", "model.onnx", "notes.json", "new.json"):
        rundir.refuse_run_file(run / free, "--out", replaceable=("*.onnx", "model.json"))
    (tmp_path / "config.json").write_text("not in a run")
    rundir.refuse_run_file(tmp_path / "config.json")
