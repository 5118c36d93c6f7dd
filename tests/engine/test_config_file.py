"""``rnnkit train [RECIPE] --config FILE``: a run's own config.json repeats it to every digit,
flags beside the file override it, TOML works, and every bad file is one line naming the
file and the key (or line), with nothing written."""

import json
from pathlib import Path

import pytest
from helpers import assert_same_checkpoints, comparable, smoke_train

from rnnkit.cli import main
from rnnkit.recipes import recipe, recipes
from rnnkit.train import config as cfg
from rnnkit.train.configfile import load, name_recipe, resolve
from rnnkit.train.rundir import read_metrics

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tiny.txt"
#: non-default choices beside the smoke run's, so that the file, not the defaults, decides
CHOSEN = ("--cell", "gru", "--lr", "0.01", "--dropout", "0.0", "--final-report", "none")


def one_line_error(capsys, *parts: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and all(p in err for p in parts), err
    return err


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> Path:
    """The charlm smoke run taken to step 100, with a few non-default options."""
    run = tmp_path_factory.mktemp("first") / "run"
    assert (
        main(smoke_train("charlm", run, *CHOSEN, "--max-steps", "100", "--eval-every", "50", "--log-every", "10")) == 0
    )
    return run


def test_a_runs_config_json_repeats_it_to_the_digit(first_run, tmp_path):
    again = tmp_path / "again"
    assert main(["train", "--config", str(first_run / "config.json"), "--run-dir", str(again), "--quiet"]) == 0
    assert json.loads((again / "config.json").read_text()) == json.loads((first_run / "config.json").read_text())
    losses = [(r["split"], r["step"], r["loss"]) for r in read_metrics(again)]
    assert ("train", 100, next(r["loss"] for r in read_metrics(first_run) if r["step"] == 100)) in losses
    assert comparable(again) == comparable(first_run)  # every logged figure, every digit
    assert_same_checkpoints(first_run / "last.safetensors", again / "last.safetensors")


def test_flags_beside_the_file_override_it(first_run, tmp_path):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "charlm",
                "--config",
                str(first_run / "config.json"),
                "--run-dir",
                str(run),
                "--quiet",
                "--hidden-size",
                "24",
                "--max-steps",
                "4",
                "--eval-every",
                "2",
            ]
        )
        == 0
    )
    saved, before = (json.loads((r / "config.json").read_text()) for r in (run, first_run))
    assert saved["model"]["hidden_size"] == 24 and saved["train"]["max_steps"] == 4
    assert saved["model"]["cell"] == "gru" and saved["train"]["lr"] == 0.01  # the file's
    saved["model"]["hidden_size"], saved["train"]["max_steps"], saved["train"]["eval_every"] = 16, 100, 50
    assert saved == before


def test_a_toml_file_with_relative_paths_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tiny.txt").write_bytes(FIXTURE.read_bytes())
    (tmp_path / "small.toml").write_text(
        'task = "charlm"\n\n[data]\ntext = "data/tiny.txt"\nbatch_size = 4\nseq_length = 10\n\n'
        "[model]\nembedding_dim = 8\nhidden_size = 16\nnum_layers = 1\n\n"
        "[train]\nlr = 1  # an integer stands for a float\nmax_steps = 3\neval_every = 3\n"
        'warmup_steps = 0\nfinal_report = "none"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", "small.toml", "--run-dir", "run", "--quiet"]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["task"] == "charlm" and saved["preset"] == "cpu-quick"
    assert saved["data"]["text"] == str((tmp_path / "data" / "tiny.txt").resolve())  # stored absolute
    assert saved["model"]["hidden_size"] == 16 and saved["train"]["lr"] == 1.0
    assert [r["step"] for r in read_metrics(tmp_path / "run") if r["split"] == "val"] == [3]


BAD = {  # file name, text -> what the one-line error names
    "typo.toml": (
        'task = "charlm"\n[model]\nhiden_size = 16\n',
        ("typo.toml", "unknown key model.hiden_size", "did you mean model.hidden_size?"),
    ),
    "section.toml": (
        'task = "charlm"\n[modle]\nhidden_size = 16\n',
        ("section.toml", "unknown key 'modle'", "sections data, model, train"),
    ),
    "string.toml": (
        'task = "charlm"\n[model]\nhidden_size = "16"\n',
        ("string.toml", "model.hidden_size", "expected int, got '16'"),
    ),
    "float.json": (
        '{"task": "charlm", "model": {"hidden_size": 16.0}}',
        ("float.json", "model.hidden_size", "expected int, got 16.0"),
    ),
    "bool.toml": (
        'task = "charlm"\n[model]\ntie_weights = "yes"\n',
        ("bool.toml", "model.tie_weights", "expected bool"),
    ),
    "range.toml": (
        'task = "charlm"\n[train]\nlr = -1.0\n',
        ("range.toml", "train.lr: expected a number in", "got -1.0"),
    ),
    "nan.json": ('{"task": "charlm", "train": {"lr": NaN}}', ("nan.json", "train.lr: expected a finite number")),
    "broken.toml": ('task = "charlm"\n[model\nhidden_size = 16\n', ("broken.toml", "not valid TOML", "line 2")),
    "broken.json": ('{"task": "charlm",\n "model": {"hidden_size": 16,}}', ("broken.json, line 2", "not valid JSON")),
    "table.toml": ('task = "charlm"\nmodel = 3\n', ("table.toml", "model: expected a table")),
    "preset.toml": ('task = "charlm"\npreset = "huge"\n', ("preset.toml", "preset: expected one of cpu-quick")),
    "other.toml": (
        'task = "wordlm"\n',
        ("other.toml is a config of recipe 'wordlm'", "the command line names 'charlm'"),
    ),
    "list.json": ("[1, 2]", ("list.json", "expected a table of sections")),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_file_is_one_line_naming_it_and_nothing_is_written(name, tmp_path, capsys):
    text, parts = BAD[name]
    (tmp_path / name).write_text(text)
    run = tmp_path / "run"
    assert main(["train", "charlm", "--config", str(tmp_path / name), "--run-dir", str(run), "--quiet"]) == 2
    one_line_error(capsys, "rnnkit train: error: ", *parts)
    assert not run.exists()


def test_without_a_recipe_name_the_file_must_name_a_known_one(tmp_path, capsys):
    run = ["--run-dir", str(tmp_path / "run"), "--quiet"]
    (tmp_path / "none.toml").write_text("[model]\nhidden_size = 16\n")
    assert main(["train", "--config", str(tmp_path / "none.toml"), *run]) == 2
    one_line_error(capsys, "none.toml names no recipe", "rnnkit train RECIPE --config")
    (tmp_path / "odd.toml").write_text('task = "charlm2"\n')
    assert main(["train", "--config", str(tmp_path / "odd.toml"), *run]) == 2
    one_line_error(capsys, "odd.toml: task: 'charlm2' is no rnnkit recipe; expected one of charlm")
    assert main(["train", "--config", str(tmp_path / "missing.toml"), *run]) == 2
    one_line_error(capsys, f"--config {tmp_path / 'missing.toml'}: no such file")
    assert main(["train", "--config", str(tmp_path / "a.yaml"), *run]) == 2
    one_line_error(capsys, "a.yaml: expected a .toml or .json file")
    assert main(["train", "--config"]) == 2
    one_line_error(capsys, "--config: expected a file, TOML or JSON")
    assert not (tmp_path / "run").exists()


def test_options_unused_by_the_run_pass_in_a_file_but_not_as_flags(first_run, tmp_path, capsys):
    assert json.loads((first_run / "config.json").read_text())["train"]["momentum"] == 0.0  # adam's run
    sections, preset = resolve(recipe("charlm"), None, {}, first_run / "config.json")
    assert sections["train"].optimizer == "adam" and preset == "cpu-quick"
    assert (
        main(
            [
                "train",
                "--config",
                str(first_run / "config.json"),
                "--momentum",
                "0.5",
                "--run-dir",
                str(tmp_path / "run"),
                "--quiet",
            ]
        )
        == 2
    )
    one_line_error(capsys, "--momentum applies only with --optimizer sgd")
    assert main(["train", "charlm", "--resume", str(first_run), "--config", str(first_run / "config.json")]) == 2
    one_line_error(capsys, "cannot combine it with --config")


def test_the_preset_comes_from_the_flag_then_the_file_then_the_device(tmp_path):
    charlm = recipe("charlm")
    (tmp_path / "gpu.toml").write_text('preset = "gpu-full"\n[model]\ndropout = 0.2\n')
    sections, preset = resolve(charlm, None, {}, tmp_path / "gpu.toml")
    assert preset == "gpu-full" and sections["model"].hidden_size == 512 and sections["model"].dropout == 0.2
    sections, preset = resolve(charlm, "cpu-quick", {"model": {"dropout": 0.3}}, tmp_path / "gpu.toml")
    assert preset == "cpu-quick" and sections["model"].hidden_size == 384 and sections["model"].dropout == 0.3
    assert resolve(charlm, None, {})[1] == "cpu-quick"


@pytest.mark.parametrize("found", recipes(), ids=lambda r: r.name)
def test_every_recipes_config_json_reads_back(found, tmp_path):
    for preset in [None, *found.presets]:
        sections = found.defaults() if preset is None else cfg.apply(found.defaults(), found.presets[preset])
        path = tmp_path / f"{preset}.json"
        path.write_text(json.dumps({"task": found.name, "preset": preset, **cfg.to_dict(sections)}))
        assert cfg.to_dict(cfg.apply(found.defaults(), load(path, found).values)) == cfg.to_dict(sections)


def test_other_command_lines_are_left_as_they_are(tmp_path):
    known = ["charlm", "wordlm"]
    for argv in (
        ["train", "charlm", "--config", "x.toml"],
        ["train", "--help"],
        ["list"],
        ["train", "--quiet"],
        ["sample", "--config", "x.toml"],
    ):
        assert name_recipe(argv, known) == argv
    (tmp_path / "w.json").write_text('{"task": "wordlm"}')
    assert name_recipe(["train", "--quiet", f"--config={tmp_path / 'w.json'}"], known) == [
        "train",
        "wordlm",
        "--quiet",
        f"--config={tmp_path / 'w.json'}",
    ]
