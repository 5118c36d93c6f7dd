"""The engine's failure modes, as a new user meets them: each one a line naming the culprit,
exit code 2, and nothing the user had is lost."""

import json
from pathlib import Path

import pytest
from helpers import tiny_charlm

from rnnkit.cli import main
from rnnkit.objectives import lm as lm_train
from rnnkit.train import checkpoint as ckpt

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tiny.txt"


def tiny(run, *extra, steps=10):
    return tiny_charlm(run, *extra, steps=steps, threads=None)


def code(argv) -> int:
    """Exit code of ``main(argv)``, whether it returns or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exit_info:
        return exit_info.code


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_overwrite_refuses_a_folder_that_merely_holds_a_config_json(tmp_path, capsys):
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "config.json").write_text('{"eslint": true}')
    (folder / "paper.tex").write_text("precious")
    (folder / "src" / "main.js").write_text("code")
    before = snapshot(folder)
    assert main(tiny(folder, "--overwrite")) == 2
    assert "refusing to delete a directory that is not an rnnkit run" in capsys.readouterr().err
    assert snapshot(folder) == before


def test_overwrite_keeps_user_files_and_a_failed_new_run_keeps_the_old_one(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main(tiny(run)) == 0
    (run / "notes.txt").write_text("mine")
    before = snapshot(run)
    original = lm_train.LMObjective.step

    def nan_at_step_one(self, model, window, info=None):
        loss, count = original(self, model, window, info)
        return loss * float("nan"), count

    monkeypatch.setattr(lm_train.LMObjective, "step", nan_at_step_one)
    capsys.readouterr()
    assert main(tiny(run, "--overwrite", "--hidden-size", "24")) == 1  # diverged at step 1
    out = capsys.readouterr().out
    assert "loss became nan at step 1" in out and "the previous run" in out and "was kept" in out
    assert snapshot(run) == before  # the old run, byte for byte, and the user's file
    monkeypatch.setattr(lm_train.LMObjective, "step", original)
    assert main(tiny(run, "--overwrite", "--hidden-size", "24")) == 0
    assert (run / "notes.txt").read_text() == "mine"
    assert json.loads((run / "config.json").read_text())["model"]["hidden_size"] == 24
    assert not [p for p in run.iterdir() if p.name.startswith(".rnnkit-previous")]


@pytest.mark.parametrize("failure", ["ctrl-c", "error"])
def test_a_new_run_stopped_before_its_first_evaluation_keeps_the_old_run(tmp_path, capsys, monkeypatch, failure):
    import signal

    from rnnkit.train.trainer import Trainer

    run = tmp_path / "run"
    assert main(tiny(run)) == 0
    before = snapshot(run)
    original = Trainer.train_step

    def stop_at_step_three(self):
        if self.step == 2:
            if failure == "error":
                raise RuntimeError("out of memory (simulated)")
            signal.raise_signal(signal.SIGINT)
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", stop_at_step_three)
    if failure == "error":
        with pytest.raises(RuntimeError, match="simulated"):
            main(tiny(run, "--overwrite"))
    else:  # Ctrl-C saves last.safetensors at step 3, but no evaluated checkpoint exists yet
        assert main(tiny(run, "--overwrite")) == 130
        assert "no evaluation yet" in capsys.readouterr().out
    assert snapshot(run) == before


def test_relative_paths_are_made_absolute_so_eval_works_from_anywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(FIXTURE.parent)
    assert (
        main(
            [
                "train",
                "wordlm",
                "--corpus",
                "wordlm",
                "--run-dir",
                str(tmp_path / "run"),
                "--quiet",
                "--embedding-dim",
                "8",
                "--hidden-size",
                "8",
                "--num-layers",
                "1",
                "--batch-size",
                "4",
                "--seq-length",
                "6",
                "--eval-batch-size",
                "2",
                "--max-steps",
                "3",
                "--eval-every",
                "3",
                "--adaptive-cutoffs",
                "",
            ]
        )
        == 0
    )
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["corpus"] == str(FIXTURE.parent / "wordlm")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--split", "valid"]) == 0
    assert capsys.readouterr().out.startswith("valid: perplexity")


def test_help_of_a_use_command(trained, capsys):
    assert main(["sample", "--help"]) == 0
    assert "usage: rnnkit sample CHECKPOINT [options]" in capsys.readouterr().out
    assert main(["sample"]) == 2
    assert "rnnkit sample: error: expected the checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", str(trained), "--help"])
    assert exit_info.value.code == 0 and "--prime PRIME" in capsys.readouterr().out


def test_resume_applies_a_new_weight_decay(tmp_path):
    run = tmp_path / "run"
    assert main(tiny(run, "--optimizer", "adamw", "--schedule", "constant")) == 0
    assert main(["train", "charlm", "--resume", str(run), "--weight-decay", "0.1", "--max-steps", "20", "--quiet"]) == 0
    state = ckpt.load(run / ckpt.LAST)
    assert state.meta["step"] == 20
    assert [g["weight_decay"] for g in state.meta["optimizer"]["param_groups"]] == [0.1]
    assert json.loads((run / "config.json").read_text())["train"]["weight_decay"] == 0.1


@pytest.mark.parametrize(
    "flag,value,message",
    [
        ("--optimizer", "sgd", "--optimizer: the run was trained with optimizer 'adam'; a resumed run keeps it"),
        ("--seed", "7", "--seed: the run was trained with seed 1; a resumed run keeps it"),
        ("--monitor", "bits", "--monitor: the run was trained with monitor 'loss'; a resumed run keeps it"),
        ("--monitor-mode", "max", "--monitor-mode: the run was trained with monitor_mode 'auto'"),
        ("--momentum", "0.9", "--momentum applies only with --optimizer sgd; this run uses --optimizer adam"),
    ],
)
def test_resume_refuses_a_change_it_cannot_apply_before_writing_anything(tmp_path, capsys, flag, value, message):
    run = tmp_path / "run"
    assert main(tiny(run, "--schedule", "constant")) == 0
    before = snapshot(run)
    capsys.readouterr()
    assert main(["train", "charlm", "--resume", str(run), flag, value, "--max-steps", "20", "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert snapshot(run) == before
    assert main(["train", "charlm", "--resume", str(run), "--max-steps", "15", "--quiet"]) == 0


def test_an_option_of_another_optimizer_is_refused(tmp_path, capsys):
    assert main(tiny(tmp_path / "run", "--momentum", "0.9")) == 2
    assert "--momentum applies only with --optimizer sgd; this run uses --optimizer adam" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--batch-size", "0"], "--batch-size: expected an integer in [1, 65536], got 0"),
        (["--seq-length", "0"], "--seq-length: expected an integer in [1, 100000], got 0"),
        (["--lr", "nan"], "expected a finite number, got 'nan'"),
        (["--grad-clip", "inf"], "expected a finite number, got 'inf'"),
        (["--lr", "-1"], "--lr: expected a number in (0, 1000], got -1.0"),
        (["--val-fraction", "1.5"], "--val-fraction: expected a number in (0, 0.5], got 1.5"),
        (["--device", "cpu:x"], "device: expected e.g. cpu, cuda or cuda:1, got 'cpu:x'"),
    ],
)
def test_numeric_and_device_options_are_checked_before_the_run_directory_exists(tmp_path, capsys, extra, message):
    assert code(tiny(tmp_path / "run", *extra)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("charlm") / "run"
    assert main(tiny(run)) == 0
    return run


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--temperature", "nan"], "argument --temperature: expected a number from 0 to 100, got nan"),
        (["--top-p", "inf"], "argument --top-p: expected a number in (0, 1], got inf"),
        (["--length", "-1"], "argument --length: expected an integer from 0 to 100,000, got -1"),
        (["--device", "cpu:x"], "device: expected e.g. cpu, cuda or cuda:1, got 'cpu:x'"),
    ],
)
def test_bad_sampling_options_are_one_line(trained, capsys, extra, message):
    capsys.readouterr()
    assert code(["sample", str(trained), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def rewrite_meta(source: Path, target: Path, meta) -> Path:
    state = ckpt.load(source)
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in state.tensors.items() if k not in state.meta["aliases"]},
        str(target),
        metadata={"rnnkit": json.dumps(meta)},
    )
    return target


def test_checkpoints_with_bad_metadata_and_os_errors_are_one_line(trained, tmp_path, capsys):
    good = ckpt.load(trained / ckpt.BEST).meta
    cases = {
        "list.safetensors": (["not", "an", "object"], "checkpoint metadata is a JSON list, expected an object"),
        "noconfig.safetensors": (
            {k: v for k, v in good.items() if k != "config"},
            "checkpoint metadata lacks field 'config' (an object expected)",
        ),
        "novocab.safetensors": (
            {k: v for k, v in good.items() if k != "vocab"},
            "checkpoint metadata lacks field 'vocab' (a list of strings expected)",
        ),
        "badconfig.safetensors": (
            dict(good, config={"train": 5}),
            "checkpoint metadata field 'config.train': expected an object, got 5",
        ),
        "badvalue.safetensors": (
            dict(good, config=dict(good["config"], data={"batch_size": "x"})),
            "checkpoint config: data.batch_size: expected int, got 'x'",
        ),
        "badaliases.safetensors": (dict(good, aliases=[1]), "'aliases' is not a JSON object"),
    }
    for name, (meta, message) in cases.items():
        path = rewrite_meta(trained / ckpt.BEST, tmp_path / name, meta)
        capsys.readouterr()
        assert code(["sample", str(path), "--length", "3"]) == 2, name
        err = capsys.readouterr().err
        assert message in err and str(path) in err and len(err.strip().splitlines()) == 1, err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert code(tiny(blocker / "run")) == 2  # the parent of the run directory is a file
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and str(blocker) in errors[0] and "Traceback" not in err


def test_sample_on_a_classifier_and_predict_on_a_language_model_are_named(trained, capsys):
    capsys.readouterr()
    assert main(["predict", str(trained), "Hinton"]) == 2
    assert "a charlm model has no command 'predict'; it offers sample, export, eval" in capsys.readouterr().err
    assert code(["sample", "--prime", "x", str(trained)]) == 2
    assert "expected the checkpoint (file or run directory) first" in capsys.readouterr().err


def test_monitor_must_be_a_metric_of_the_recipe(tmp_path, capsys):
    assert main(tiny(tmp_path / "run", "--monitor", "accuracy")) == 2
    assert "--monitor: charlm validation reports loss, bits; got 'accuracy'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
