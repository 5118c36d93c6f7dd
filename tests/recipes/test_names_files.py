"""Names: calibration.json is checked, files beside a checkpoint outside a run are never touched,
the final test report of a time-boxed run is optional, and eval does not walk the data per name."""

import json
import math
import shutil

import pytest
from helpers import smoke_train

import rnnkit
from rnnkit.cli import main
from rnnkit.recipes.names.evaluate import CALIBRATION


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("names_files") / "run"
    assert main(smoke_train("names", run)) == 0
    return run


def use(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def saved(run) -> dict:
    return json.loads((run / CALIBRATION).read_text())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda record: [record], "expected a JSON object, got a JSON array"),
        (
            lambda record: dict(record, temperature=str(record["temperature"])),
            'temperature: expected a finite number > 0, got "',
        ),
        (lambda record: dict(record, temperature=-1.5), "temperature: expected a finite number > 0, got -1.5"),
        (lambda record: dict(record, temperature=math.nan), "temperature: expected a finite number > 0, got nan"),
        (lambda record: dict(record, temperature=True), "temperature: expected a finite number > 0, got true"),
        (lambda record: dict(record, temperature=None), "temperature: expected a finite number > 0, got null"),
        (lambda record: dict(record, checkpoint=["best.safetensors"]), "checkpoint: expected a file name"),
        (lambda record: dict(record, step="6"), 'step: expected an integer, got "6"'),
    ],
)
def test_a_malformed_calibration_json_is_one_line_naming_the_file_and_field(change, message, run, tmp_path, capsys):
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / CALIBRATION).write_text(json.dumps(change(saved(run))))
    for command in (["predict", copy, "Kateov"], ["eval", copy, "--split", "valid"]):
        code, out, err = use(capsys, *command)
        assert code == 2 and out == "", err
        assert len(err.strip().splitlines()) == 1 and f"{copy / CALIBRATION}: {message}" in err, err
        assert "delete it" in err


@pytest.mark.parametrize("text", ['{"temperature": 1.5,', "[" * 100_000 + "]" * 100_000, "\xff\xfe"])
def test_an_unreadable_calibration_json_is_one_line(text, run, tmp_path, capsys):
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / CALIBRATION).write_bytes(text.encode("latin-1"))
    code, _, err = use(capsys, "predict", copy, "Kateov")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{copy / CALIBRATION}: not readable JSON" in err or "expected a JSON object" in err, err


def test_a_calibration_of_another_checkpoint_is_fitted_again_and_replaced(run, tmp_path, capsys):
    copy = shutil.copytree(run, tmp_path / "run")
    (copy / CALIBRATION).write_text(json.dumps(dict(saved(run), step=999, temperature=7.0)))
    assert use(capsys, "predict", copy, "Kateov")[0] == 0
    assert saved(copy) == saved(run)  # the run's own file, fitted for this checkpoint again


def test_predict_of_a_checkpoint_outside_a_run_never_touches_files_beside_it(run, tmp_path, capsys):
    """The issue: it wrote calibration.json over a user's file of that name."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    model = folder / "names.safetensors"
    shutil.copy(run / "best.safetensors", model)
    mine = {
        CALIBRATION: "my calibration notes, not rnnkit's\n",
        "confusion_valid.png": "my picture",
        "reliability_valid.png": "my other picture",
    }
    for name, text in mine.items():
        (folder / name).write_text(text)
    code, out, _ = use(capsys, "predict", model, "Kateov", "Lusason", "--top", "3")
    assert code == 0
    assert out == use(capsys, "predict", run, "Kateov", "Lusason", "--top", "3")[1]  # the same temperature
    assert use(capsys, "eval", model, "--split", "valid")[0] == 0
    assert {p.name: p.read_text() for p in folder.iterdir() if p != model} == mine


def test_a_run_directory_of_another_tool_is_not_written_either(run, tmp_path, capsys):
    folder = shutil.copytree(run, tmp_path / "other")
    (folder / CALIBRATION).unlink()
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, task="charlm")))
    assert use(capsys, "predict", folder / "best.safetensors", "Kateov")[0] == 0
    assert not (folder / CALIBRATION).exists()


def test_eval_reads_each_names_languages_once(run, monkeypatch):
    """eval took 49 CPU-seconds on 1,802 names: every pair rebuilt the name -> languages table."""
    from rnnkit.data.names import NamesData

    calls, real = [], NamesData.label_sets
    monkeypatch.setattr(NamesData, "label_sets", lambda self: calls.append(1) or real(self))
    result = rnnkit.load(run).evaluate("valid", plots=False)
    assert len(calls) == 1 and result["examples"] > 1
    assert "confusion_png" not in result and "reliability_png" not in result["calibration"]


# ---- --final-report: what comes after --max-minutes ----
REPORT_FILES = ("report_test.json", "split.json", "confusion_test.png", "reliability_test.png")


def test_final_report_none_does_no_report_work_and_says_how_to_make_it(tmp_path, capsys):
    run = tmp_path / "run"
    code, out, _ = use(capsys, *smoke_train("names", run, "--final-report", "none"))
    assert code == 0 and "finished" in out
    assert f"no test report (--final-report none); make it with: rnnkit eval {run}" in out
    assert [name for name in REPORT_FILES + (CALIBRATION,) if (run / name).exists()] == []
    assert json.loads((run / "config.json").read_text())["train"]["final_report"] == "none"
    code, out, _ = use(capsys, "eval", run)
    assert code == 0 and out.startswith("test, per (name, language) pair")


def test_final_report_quick_writes_the_figures_without_plots(tmp_path, capsys):
    run = tmp_path / "run"
    assert use(capsys, *smoke_train("names", run, "--final-report", "quick"))[0] == 0
    report = json.loads((run / "report_test.json").read_text())
    assert report["priors"]["uniform"]["accuracy"] >= 0 and "ece" in report["calibration"]
    assert not (run / "confusion_test.png").exists() and not (run / "reliability_test.png").exists()


def test_translate_final_report_quick_decodes_greedily_only(tmp_path, capsys):
    run = tmp_path / "run"
    assert use(capsys, *smoke_train("translate", run, "--final-report", "quick"))[0] == 0
    report = json.loads((run / "report_test.json").read_text())
    assert len(report) == 1 and report[0]["beam"] == 1


def test_final_report_is_checked_and_max_minutes_says_what_it_covers(tmp_path, capsys):
    code, _, err = use(capsys, *smoke_train("names", tmp_path / "run", "--final-report", "later"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "final_report: expected full, quick or none, got 'later'" in err
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit):
        main(["train", "names", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "time budget of the training loop and its validations (0 = none); the final test report "
        "comes after it (see --final-report)" in text
    )
    assert "--final-report FINAL_REPORT" in text and "none (nothing: make it later with rnnkit eval RUN)" in text
