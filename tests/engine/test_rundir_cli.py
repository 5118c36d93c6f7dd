"""Run directories from the command line: --overwrite keeps what rnnkit did not write, export
never replaces a run's files, a run left with only best.safetensors resumes from it, a
hostile config.json is one line, and a planted symlink is never written through."""

import errno
import json
import os
from pathlib import Path

import pytest
from helpers import assert_same_checkpoints, comparable, tiny_charlm

from rnnkit.cli import main
from rnnkit.files import MANIFEST

USER = {".paper.tmp-v2": "draft", "model.json": "my own model card", "eval_mine_beam_notes.txt": "notes"}


def tiny(run, *extra, steps=10):
    return tiny_charlm(run, "--schedule", "constant", *extra, steps=steps)


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(capsys, *parts: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and all(p in err for p in parts), err
    return err


def test_overwrite_keeps_the_users_files_in_a_run_and_another_tools_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, steps=5)) == 0
    for name, text in USER.items():
        (run / name).write_text(text)
    assert main(tiny(run, "--overwrite", "--hidden-size", "24", steps=5)) == 0
    assert {name: (run / name).read_text() for name in USER} == USER
    assert json.loads((run / "config.json").read_text())["model"]["hidden_size"] == 24
    assert not [p for p in run.iterdir() if p.name.startswith((".rnnkit-previous", ".rnnkit-lock"))]

    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "config.json").write_text('{"task": "x", "train": {}}')
    for name in ("metrics.jsonl", "curves.png", "model.json"):
        (tool / name).write_text("the tool's")
    before = snapshot(tool)
    capsys.readouterr()
    assert main(tiny(tool, "--overwrite")) == 2
    one_line_error(
        capsys,
        f"--overwrite {tool}: refusing to delete a directory that is not an rnnkit run",
        "names task 'x', which is no rnnkit recipe",
    )
    assert snapshot(tool) == before

    (tool / "config.json").write_text('{"task": "charlm", "train": {}}')  # a registered recipe's name
    before = snapshot(tool)
    assert main(tiny(tool, "--overwrite")) == 2
    one_line_error(capsys, "not an rnnkit run", "no .rnnkit-manifest and no checkpoint")
    assert snapshot(tool) == before


def test_export_never_replaces_the_runs_config_or_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, steps=5)) == 0
    before = snapshot(run)
    for out, victim in (
        ("config.pt", "config.json"),
        ("best.safetensors", "best.safetensors"),
        ("config", "config.json"),
    ):  # config.onnx, and its JSON beside it
        capsys.readouterr()
        assert main(["export", str(run), "--out", str(run / out)]) == 2
        one_line_error(capsys, f"refusing to replace {victim}, a file of the rnnkit run in {run}")
    assert snapshot(run) == before


def test_a_run_left_with_only_best_resumes_from_it_exactly(tmp_path, capsys, monkeypatch):
    whole = tmp_path / "whole"
    assert main(tiny(whole)) == 0
    run = tmp_path / "run"
    real = os.replace

    def disk_full_for_last(src, dst, *args, **kwargs):
        if os.path.basename(str(dst)) == "last.safetensors":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", disk_full_for_last)
    assert main(tiny(run)) == 2  # the first evaluation saved best.safetensors, then the disk was full
    err = capsys.readouterr().err  # after the recipe's notes on its data, one line
    assert (
        err.endswith(f"rnnkit train: error: {run / 'last.safetensors'}: cannot write: No space left on device\n")
        and "Traceback" not in err
    )
    monkeypatch.setattr(os, "replace", real)
    assert not (run / ".rnnkit-lock").exists()  # released on the error
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == [
        "best.safetensors",
        "config.json",
        "metrics.jsonl",
    ]
    with pytest.warns(
        UserWarning,
        match=rf"--resume {run}: no last.safetensors \(its save failed, e.g. on "
        r"a full disk\); continuing from best.safetensors \(step 5\)",
    ):
        assert main(["train", "charlm", "--resume", str(run), "--quiet"]) == 0
    assert_same_checkpoints(run / "last.safetensors", whole / "last.safetensors")
    assert comparable(run) == comparable(whole)


@pytest.mark.parametrize(
    "text, reason", [("[" * 100_000, "nested too deeply"), (" " * (2**20 + 1), "over the limit of 1,048,576")]
)
def test_a_hostile_config_json_is_one_line_for_resume_and_overwrite(tmp_path, capsys, text, reason):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(text)
    (run / "last.safetensors").write_text("kept")
    before = snapshot(run)
    assert main(["train", "charlm", "--resume", str(run), "--quiet"]) == 2
    one_line_error(capsys, f"--resume {run}: not an rnnkit run directory", reason)
    assert main(tiny(run, "--overwrite")) == 2
    one_line_error(capsys, f"--overwrite {run}: refusing to delete", reason)
    assert snapshot(run) == before


def test_a_command_writing_through_a_planted_temporary_link_leaves_its_target_alone(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text(
        "".join(
            json.dumps({"split": s, "step": k, "loss": 2.0 / k}) + "\n" for k in (1, 2, 3) for s in ("train", "val")
        )
    )
    (run / MANIFEST).write_text("")
    victim = tmp_path / "victim.txt"
    victim.write_text("an unrelated file")
    (run / f".curves.png.tmp-{os.getpid()}").symlink_to(victim)  # the temporary name rnnkit tries first
    assert main(["plot", str(run)]) == 0
    assert victim.read_text() == "an unrelated file"
    assert (run / "curves.png").read_bytes().startswith(b"\x89PNG") and not (run / "curves.png").is_symlink()
    assert (run / MANIFEST).read_text() == '"curves.png"\n'


def test_plot_out_never_replaces_a_runs_files(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, steps=5)) == 0
    before = snapshot(run)
    for argv, victim in (
        (["plot", str(run), "--out", str(run / "best.safetensors")], "best.safetensors"),
        (["plot", str(run), "--out", str(run / "config.json")], "config.json"),
    ):
        capsys.readouterr()
        assert main(argv) == 2
        one_line_error(capsys, f"--out {run / victim}: refusing to replace {victim}")
    assert snapshot(run) == before
    assert main(["plot", str(run)]) == 0  # its own curves.png it may redraw
