"""Every registered recipe, end to end through ``rnnkit.cli.main``: its smoke run trains, reloads,
answers each of its use commands and ``eval`` (also as JSON), and an interrupted, resumed run
equals an uninterrupted one. A recipe added to the registry is tested here with no new code."""

import json
import re
import signal
from pathlib import Path

import pytest
from helpers import FIXTURES, assert_same_checkpoints, comparable, smoke_runs
from helpers import smoke_train as _smoke

import rnnkit
from rnnkit.cli import main
from rnnkit.recipes import REGISTRY, recipe
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.recipe import TrainedModel
from rnnkit.train.trainer import Trainer


def smoke_train(name: str, run: Path, *extra: str) -> list[str]:
    return _smoke(name, run, "--log-every", "1", *extra)


def use_args(name: str, command: str) -> list[str]:
    return [a.replace("{fixtures}", str(FIXTURES)) for a in recipe(name).smoke.uses[command]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each recipe's smoke run, trained once for the module."""
    return smoke_runs(tmp_path_factory, "--log-every", "1")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_recipe_trains_reloads_and_answers_every_command(name, trained, capsys):
    run = trained(name)
    capsys.readouterr()
    found = recipe(name)
    model = rnnkit.load(run)
    assert isinstance(model, found.trained) and isinstance(model, TrainedModel)
    assert model.path == run / ckpt.BEST and not model.model.training
    assert isinstance(rnnkit.load(run, task=name), found.trained)
    other = "charlm" if name != "charlm" else "names"
    with pytest.raises(
        ckpt.CheckpointError,
        match=rf"a run of `rnnkit train {name}`; expected one of "
        rf"`rnnkit train {other}`",
    ):
        rnnkit.load(run, task=other)
    outputs = {}
    for command in [c.name for c in found.commands] + ["eval"]:
        assert main([command, str(run), *use_args(name, command)]) == 0, command
        outputs[command] = capsys.readouterr().out
        assert outputs[command].strip(), command
        if command in found.smoke.expect:
            assert re.search(found.smoke.expect[command], outputs[command]), (command, outputs[command])
    assert main(["eval", str(run), *use_args(name, "eval"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert isinstance(result, dict) and result and model.describe(result) + "\n" == outputs["eval"]


@pytest.mark.parametrize("name", list(REGISTRY))
def test_a_flag_of_another_recipe_is_an_error_naming_the_recipe(name, trained, capsys):
    run = trained(name)
    capsys.readouterr()
    commands = recipe(name).commands
    command = commands[0].name if commands else "eval"  # the memory tasks only evaluate
    with pytest.raises(SystemExit) as exit_info:
        main([command, str(run), *use_args(name, command), "--no-such-flag"])
    assert exit_info.value.code == 2
    assert f"options of a {name} model" in capsys.readouterr().err
    offered = {c.name for c in recipe(name).commands}
    every = {c.name for other in REGISTRY for c in recipe(other).commands}
    for other in sorted(every - offered):  # e.g. `tag` on a charlm run, `sample` on a classifier
        assert main([other, str(run)]) == 2
        assert f"a {name} model has no command '{other}'" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(REGISTRY))
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(name, tmp_path, monkeypatch):
    assert main(smoke_train(name, tmp_path / "straight")) == 0
    original, calls = Trainer.train_step, [0]

    def ctrl_c_at_step_four(self):
        calls[0] += 1
        if calls[0] == 4:
            signal.raise_signal(signal.SIGINT)
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", ctrl_c_at_step_four)
    assert main(smoke_train(name, tmp_path / "cut")) == 130
    assert ckpt.load(tmp_path / "cut" / ckpt.LAST).meta["step"] == 4
    monkeypatch.setattr(Trainer, "train_step", original)
    assert main(["train", name, "--resume", str(tmp_path / "cut"), "--quiet"]) == 0
    assert comparable(tmp_path / "cut") == comparable(tmp_path / "straight")
    assert_same_checkpoints(tmp_path / "cut" / ckpt.LAST, tmp_path / "straight" / ckpt.LAST)


def test_list_and_version(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in REGISTRY:
        found = recipe(name)
        assert f"{name}: {found.summary}" in out
    assert "use: predict, eval" in out and "use: sample, eval" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"rnnkit {rnnkit.__version__}"


@pytest.mark.parametrize("module", ["cli.py", "cli_train.py"])
def test_cli_knows_no_recipe_by_name(module):
    source = (Path(rnnkit.__file__).parent / module).read_text()
    for name in REGISTRY:
        assert f'"{name}"' not in source and f"'{name}'" not in source
    assert "hasattr" not in source and "rnnkit.recipes." not in source
    assert not any(name in source for name in REGISTRY)
