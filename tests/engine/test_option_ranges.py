"""Every numeric training option has a range, shown in --help and checked before a run directory
exists; contradictory options, sizes that cannot fit, the progress unit and the warm-up (issue 28)."""

import argparse
import dataclasses
import io
import json
import re
import typing

import pytest
from helpers import smoke_train

from rnnkit import bounds
from rnnkit.cli import build_parser, main
from rnnkit.recipes import recipes
from rnnkit.train import config as cfg
from rnnkit.train import limits
from rnnkit.train.progress import Progress
from rnnkit.train.schedule import LRSchedule


def numeric(kind) -> bool:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    kind = args[0] if args else kind
    return kind in (int, float)


def numeric_fields(sections):
    for name, section in sections.items():
        hints = typing.get_type_hints(type(section))
        for item in dataclasses.fields(section):
            if numeric(hints[item.name]):
                yield name, item, getattr(section, item.name)


@pytest.mark.parametrize("recipe", recipes(), ids=lambda r: r.name)
def test_every_numeric_option_has_both_bounds_and_every_preset_lies_inside(recipe):
    for preset in [None, *recipe.presets]:
        sections = recipe.defaults() if preset is None else cfg.apply(recipe.defaults(), recipe.presets[preset])
        for section, item, value in numeric_fields(sections):
            limits_ = item.metadata.get("bound")
            assert limits_ is not None, f"{recipe.name} {section}.{item.name} has no range"
            low, high, _, _ = bounds.parts(limits_)
            assert low is not None and high is not None, f"{recipe.name} {section}.{item.name}: {limits_}"
            assert not bounds.outside(value, limits_), f"{recipe.name} {preset}: {item.name} = {value}"


def train_help(name: str) -> str:
    parser = build_parser()
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    sub = next(a for a in train._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return sub.format_help()


def option_entries(text: str) -> dict[str, str]:
    """``--flag`` -> its whole help entry (wrapped lines joined)."""
    entries, current = {}, None
    for line in text.splitlines():
        match = re.match(r"  (--[a-z0-9-]+)", line)
        if match:
            current = match.group(1)
            entries[current] = line
        elif current and line.startswith("    "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return {k: " ".join(v.split()) for k, v in entries.items()}


@pytest.mark.parametrize("recipe", recipes(), ids=lambda r: r.name)
def test_help_shows_each_default_once_and_every_range(recipe):
    entries = option_entries(train_help(recipe.name))
    assert "--lr" in entries and "--run-dir" in entries
    for entry in entries.values():  # argparse's "(default: X)" never comes on top of ours
        assert len(re.findall(r"\(default\b", entry)) <= 1, entry
        if re.match(r"--\S+( [A-Z_]+)? default ", entry):
            assert "(default" not in entry, entry
    for _, item, _ in numeric_fields(recipe.defaults()):
        entry = entries[cfg.flag(item.name)]
        assert f"range {bounds.describe(item.metadata['bound'])}" in entry, entry


def run_cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


CASES = [
    ("adding", ["--forget-bias", "1e308", "--no-chrono"], "--forget-bias: expected a number in [-50, 50], got 1e+308"),
    ("adding", ["--lr", "1e308"], "--lr: expected a number in (0, 1000], got 1e+308"),
    ("adding", ["--weight-decay", "1e308"], "--weight-decay: expected a number in [0, 1], got 1e+308"),
    ("wordlm", ["--pretrained-scale", "1e308"], "--pretrained-scale: expected a number in [0, 1000], got 1e+308"),
    ("translate", ["--pretrained-scale", "1e308"], "--pretrained-scale: expected a number in [0, 1000]"),
    ("charlm", ["--embedding-dim", "-1"], "--embedding-dim: expected an integer in [0, 16384], got -1"),
    ("adding", ["--length", "10000000"], "--length: expected an integer in [2, 100000], got 10000000"),
    ("adding", ["--test-size", "1000000000"], "--test-size: expected an integer in [1, 1000000], got 1000000000"),
    ("copy", ["--symbols", "1000000"], "--symbols: expected an integer in [1, 1000], got 1000000"),
    ("adding", ["--threads", "1000000"], "--threads: expected an integer in [0, 1024], got 1000000"),
    ("embeddings", ["--dim", "10000000"], "--dim: expected an integer in [1, 16384], got 10000000"),
    ("timeseries", ["--length", "1000000000"], "--length: expected an integer in [2, 1000000], got 1000000000"),
    ("adding", ["--seed", str(2**64)], f"--seed: expected an integer in [0, 4294967295], got {2**64}"),
    ("adding", ["--seed", "-1"], "--seed: expected an integer in [0, 4294967295], got -1"),
    ("translate", ["--label-smoothing", "1"], "--label-smoothing: expected a number in [0, 1), got 1.0"),
    (
        "translate",
        ["--attention", "none", "--score", "dot"],
        "--score applies only with --attention luong; this run uses --attention none",
    ),
    (
        "translate",
        ["--attention", "bahdanau", "--input-feeding"],
        "--input-feeding applies only with --attention luong; this run uses --attention bahdanau",
    ),
    (
        "embeddings",
        ["--output", "hierarchical", "--negatives", "3"],
        "--negatives applies only with --output negative; this run uses --output hierarchical",
    ),
    ("embeddings", ["--context", "3"], "--context applies only with --method ngram; this run uses --method skipgram"),
    (
        "embeddings",
        ["--method", "ngram", "--window", "3"],
        "--window applies only with --method skipgram or cbow; this run uses --method ngram",
    ),
    ("seqmnist", ["--irnn-scale", "2"], "--irnn-scale applies only with --irnn; this run uses --no-irnn"),
    (
        "names",
        ["--balance-power", "1"],
        "--balance-power applies only with --balance weighted or sampler or logit-adjusted; this run uses --balance none",
    ),
    # each size fits alone, their product does not (no machine has 2 TB)
    (
        "charlm",
        ["--hidden-size", "16384", "--num-layers", "64"],
        "the recurrent weights with their gradients and Adam's state would take about 2,199.0 GB "
        "(--hidden-size 16384 x --num-layers 64)",
    ),
    (
        "adding",
        ["--length", "100000", "--batch-size", "65536"],
        "the activations of one training batch would take about 26,843.5 GB (--batch-size 65536 x --length 100000",
    ),
    (
        "seqmnist",
        ["--preset", "pixels", "--batch-size", "65536", "--hidden-size", "1024"],
        "(--batch-size 65536 x --mode pixels x --hidden-size 1024 x --num-layers 1)",
    ),
]


@pytest.mark.parametrize("recipe,extra,message", CASES, ids=[" ".join([c[0], *c[1]]) for c in CASES])
def test_bad_training_options_are_one_line_before_the_run_directory(tmp_path, capsys, recipe, extra, message):
    run = tmp_path / "run"
    code, err = run_cli(["train", recipe, *extra, "--run-dir", str(run)], capsys)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("rnnkit train: error: ") and "Traceback" not in err
    assert not run.exists()


def test_resume_overrides_are_checked_against_the_same_ranges(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "adding",
                "--length",
                "6",
                "--hidden-size",
                "4",
                "--batch-size",
                "4",
                "--valid-size",
                "8",
                "--test-size",
                "8",
                "--max-minutes",
                "0",
                "--max-steps",
                "2",
                "--eval-every",
                "2",
                "--warmup-steps",
                "0",
                "--quiet",
                "--final-report",
                "none",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    for extra, message in (
        (["--lr", "1e308"], "--lr: expected a number in (0, 1000], got 1e+308"),
        (["--max-minutes", "1e9"], "--max-minutes: expected a number in [0, 525600]"),
        (["--threads", "100000"], "--threads: expected an integer in [0, 1024]"),
    ):
        code, err = run_cli(["train", "adding", "--resume", str(run), *extra], capsys)
        assert code == 2 and message in err and err.count("\n") == 1, err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_a_saved_config_out_of_range_is_refused_on_resume(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "adding",
                "--length",
                "6",
                "--hidden-size",
                "4",
                "--batch-size",
                "4",
                "--valid-size",
                "8",
                "--test-size",
                "8",
                "--max-minutes",
                "0",
                "--max-steps",
                "2",
                "--eval-every",
                "2",
                "--warmup-steps",
                "0",
                "--quiet",
                "--final-report",
                "none",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    config = json.loads((run / "config.json").read_text())
    config["model"]["hidden_size"] = 10**9
    (run / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    code, err = run_cli(["train", "adding", "--resume", str(run), "--max-steps", "4"], capsys)
    assert code == 2 and "--hidden-size: expected an integer in [1, 16384], got 1000000000" in err


def test_memory_estimate_names_the_options_of_the_biggest_need():
    from rnnkit.recipes import recipe

    sections = cfg.apply(recipe("timeseries").defaults(), {"data": {"length": 1_000_000, "window": 10_000}})
    with pytest.raises(
        ValueError,
        match=r"the windows of the generated series would take about 40\.8 GB "
        r"\(--length 1000000 x --window 10000\), more than this machine's 1\.0 GB",
    ):
        limits.check_memory(sections, limit=10**9)
    limits.check_memory(recipe("timeseries").defaults(), limit=10**9)  # the defaults fit in 1 GB
    for found in recipes():  # every preset fits in 8 GB
        for preset in found.presets.values():
            limits.check_memory(cfg.apply(found.defaults(), preset), limit=8 * 10**9)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--steps", "1000000"], "argument --steps: expected an integer from 1 to 10,000, got 1000000"),
        (["--hidden", "0"], "argument --hidden: expected an integer from 1 to 4,096, got 0"),
        (["--samples", "1e9"], "argument --samples: expected an integer from 1 to 10,000, got '1e9'"),
        (["--scale", "1e308"], "argument --scale: expected a number from 0 to 100, got 1e308"),
        (["--forget-bias", "nan"], "argument --forget-bias: expected a number from -50 to 50, got nan"),
        (["--threads", "1000000"], "argument --threads: expected an integer from 1 to 1,024, got 1000000"),
    ],
)
def test_analyze_gradients_options_have_ranges(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as stop:
        main(["analyze", "gradients", "--out", str(tmp_path), *extra])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_analyze_gradients_refuses_a_jacobian_batch_that_cannot_fit(tmp_path, capsys):
    code, err = run_cli(
        [
            "analyze",
            "gradients",
            "--hidden",
            "4096",
            "--samples",
            "10000",
            "--steps",
            "10000",
            "--out",
            str(tmp_path / "out"),
        ],
        capsys,
    )
    assert code == 2 and "the Jacobian batch would take about" in err and "--samples 10000" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--max-chars", "-1"], "argument --max-chars: expected an integer from 0 to 1,000,000, got -1"),
        (["--top", "0"], "argument --top: expected an integer from 1 to 1,000, got 0"),
        (["--png-chars", "100000000"], "argument --png-chars: expected an integer from 1 to 10,000"),
        (["--threads", "1000000"], "argument --threads: expected an integer from 0 to 1,024"),
    ],
)
def test_analyze_gates_options_have_ranges(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as stop:
        main(["analyze", "gates", str(tmp_path / "no-run"), *extra])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "recipe,unit",
    [
        ("charlm", "chars"),
        ("wordlm", "tok"),
        ("names", "names"),
        ("names-gen", "chars"),
        ("postag", "words"),
        ("translate", "tok"),
        ("chat", "tok"),
        ("seqmnist", "images"),
        ("timeseries", "windows"),
        ("adding", "sequences"),
        ("copy", "positions"),
        ("embeddings", "words"),
    ],
)
def test_the_progress_line_counts_what_the_recipe_trains_on(tmp_path, capsys, recipe, unit):
    argv = [
        a for a in smoke_train(recipe, tmp_path / "run", "--log-every", "1", "--final-report", "none") if a != "--quiet"
    ]
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("step 1")]
    assert lines and all(f" {unit}/s" in line for line in lines), lines
    if unit != "tok":
        assert not any("tok/s" in line for line in lines)


def test_progress_shows_its_unit():
    out = io.StringIO()
    progress = Progress(10, every=1, stream=out, bar=False, unit="images")
    progress.update(1, 0.5, 1234.0, None, 1e-3)
    assert "1,234 images/s" in out.getvalue() and "tok/s" not in out.getvalue()


def test_warm_up_ends_within_the_first_tenth_of_a_short_run():
    schedule = LRSchedule("cosine", 2e-3, warmup_steps=200)
    rates = [schedule(step, step / 100) for step in range(100)]  # a 100-step run
    assert max(rates) > 0.95 * 2e-3  # before: (99 + 1) / 200 of the peak at most
    assert schedule(9, 0.09) < 2e-3 * 0.95  # still warming up in the first tenth
    timed = LRSchedule("constant", 1.0, warmup_steps=10_000)  # a time budget: progress is time
    assert timed(50, 0.1) == 1.0 and timed(50, 0.05) == pytest.approx(0.5)
    assert LRSchedule("constant", 1.0, warmup_steps=10)(4, 0.0) == pytest.approx(0.5)  # steps alone


def test_a_short_run_reaches_its_peak_learning_rate(tmp_path):
    from rnnkit.train.rundir import read_metrics

    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "adding",
                "--length",
                "6",
                "--hidden-size",
                "4",
                "--batch-size",
                "4",
                "--valid-size",
                "8",
                "--test-size",
                "8",
                "--max-minutes",
                "0",
                "--max-steps",
                "40",
                "--eval-every",
                "40",
                "--schedule",
                "constant",
                "--warmup-steps",
                "200",
                "--lr",
                "0.002",
                "--log-every",
                "1",
                "--quiet",
                "--final-report",
                "none",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    rates = [r["lr"] for r in read_metrics(run) if r["split"] == "train"]
    assert rates[0] < 0.002 and rates[-1] == pytest.approx(0.002)
    assert rates.index(max(rates)) <= 4  # warm-up took the first tenth of the 40 steps


def test_one_cycle_rises_to_its_peak_at_30_percent_then_falls_to_the_floor():
    one = LRSchedule("onecycle", 1.0, warmup_steps=500, final_lr_ratio=0.0)  # its own warm-up: 500 ignored
    assert one(0, 0.0) == pytest.approx(1 / 25)
    assert one(10, 0.15) == pytest.approx(1 / 25 + (1 - 1 / 25) / 2)
    assert one(30, 0.3) == pytest.approx(1.0)
    assert one(65, 0.65) == pytest.approx(0.5)
    assert one(100, 1.0) == pytest.approx(0.0, abs=1e-12)
    rates = [one(i, i / 100) for i in range(101)]
    assert max(rates) == pytest.approx(1.0) and rates.index(max(rates)) == 30
