"""Checkpoint metadata is untrusted input (issue 28): every recipe's fields, the metadata's size and
nesting, the shapes it claims and the file itself are checked before use; each refusal is one line
naming the file (and the field or tensor), exit code 2, never a traceback, a hang or a wrong result."""

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FIXTURES, smoke_runs
from safetensors.torch import save_file

import rnnkit
from rnnkit.cli import main
from rnnkit.recipes import REGISTRY, recipe
from rnnkit.train import checkpoint as ckpt
from rnnkit.train import loading
from rnnkit.train import meta as untrusted

DELETE = object()
MUTATIONS = {"deleted": DELETE, "a list": [], "an object": {}, "a string": "x", "a huge int": 10**20}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each recipe's smoke run, trained once for the module."""
    return smoke_runs(tmp_path_factory)


def rewrite(run: Path, target: Path, meta=None, raw: str = None) -> Path:
    """A copy of ``run``'s best checkpoint (its stored tensors) at ``target`` with other metadata."""
    state = ckpt.load(run)
    aliases = state.meta.get("aliases") or {}
    tensors = {k: v.contiguous() for k, v in state.tensors.items() if k not in aliases}
    save_file(tensors, str(target), metadata={"rnnkit": raw if raw is not None else json.dumps(meta)})
    return target


def code_and_err(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, *parts: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in lines[0], (part, err)


def use(name: str, path: Path) -> list[str]:
    """``rnnkit eval PATH ...`` with the recipe's smoke options."""
    options = [a.replace("{fixtures}", str(FIXTURES)) for a in recipe(name).smoke.uses["eval"]]
    return ["eval", str(path), *options]


def mutated(meta: dict, key: str, value) -> dict:
    changed = dict(meta)
    if value is DELETE:
        del changed[key]
    else:
        changed[key] = value
    return changed


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_top_level_field_deleted_or_of_the_wrong_type_is_one_line_or_harmless(name, trained, tmp_path, capsys):
    """Each key of the smoke checkpoint's metadata, deleted or replaced by a list, an object, a
    string or a huge int: loading names the file and the field in one line (exit 2 from
    ``rnnkit eval``), or the model loads because the field is optional or unread (then the model
    never sees a value of the wrong type). The catch-all for errors no declared field foresaw
    ("does not fit its recipe") must never be what answers."""
    run = trained(name)
    good = ckpt.load(run).meta
    fields = {**untrusted.COMMON, **recipe(name).trained.meta_fields}
    refused = {key: 0 for key in good}
    for key in sorted(good):
        for label, value in MUTATIONS.items():
            path = rewrite(run, tmp_path / f"{key}-{label.replace(' ', '_')}.safetensors", mutated(good, key, value))
            try:
                model = rnnkit.load(path)
            except ckpt.CheckpointError as err:
                refused[key] += 1
                text = str(err)
                assert text.startswith(str(path)) and "\n" not in text, text
                # the field, or (config or aliases changed) the first tensor it no longer fits
                assert key in text or "tensor 'model/" in text, (key, label, text)
                assert "does not fit its recipe" not in text, (key, label, text)
                if refused[key] == 1:  # the command line prints the same line (one run per field: fast)
                    assert_one_line(*code_and_err(use(name, path), capsys), str(path), text[len(str(path)) :])
                continue
            declared = fields.get(key)
            assert declared is None or declared.optional or value is not DELETE, (key, label)
            if key in model.meta:  # a declared field that loaded: its value had the declared type
                assert declared is not None and not declared.problem(model.meta[key], model.meta), (key, label)
    required = [key for key, need in fields.items() if key in good and not need.optional]
    assert required and all(refused[key] >= 4 for key in required), refused  # deleted, and 3 of the 4 types


@pytest.mark.parametrize(
    "name,key,value,message",
    [
        ("charlm", "task", [], "field 'task': expected the name of a recipe"),
        ("charlm", "vocab", "entry", "field 'vocab': item 3: expected a string, got a list []"),
        ("charlm", "vocab", "twice", "field 'vocab': expected distinct entries"),
        (
            "postag",
            "vocab",
            {"words": ["a"], "chars": [], "labels": {"upos": [{}]}},
            "field 'vocab.labels.upos': item 0: expected a string, got an object {}",
        ),
        ("names", "split", DELETE, "lacks field 'split' (a string expected)"),
        ("names", "split", "0x2", "field 'split': expected only the characters '012', got 'x'"),
        ("names", "train_counts", [1], "field 'train_counts': expected one entry per languages (3), got 1"),
        ("timeseries", "series", DELETE, "lacks field 'series' (an object expected)"),
        ("timeseries", "series.valid_end", 10**6, "field 'series.valid_end': expected train_end"),
        ("timeseries", "series.tail", [1.0, None], "field 'series.tail': item 1: expected a number, got null"),
        ("seqmnist", "permutation", [0, 0], "field 'permutation': expected a permutation of 0..783"),
        ("translate", "src_vocab", 10**20, "field 'src_vocab': expected a list of strings, got 1e+20"),
    ],
)
def test_fields_the_issue_names_are_one_line(trained, tmp_path, capsys, name, key, value, message):
    """TypeError (unhashable list), KeyError (no series, no split) and wrong values, before: one line now."""
    good = ckpt.load(trained(name)).meta
    meta = json.loads(json.dumps(good))
    if value == "entry":
        meta["vocab"][3] = []
    elif value == "twice":
        meta["vocab"][3] = meta["vocab"][2]
    elif "." in key:
        outer, inner = key.split(".")
        meta[outer][inner] = value
    else:
        meta = mutated(meta, key, value)
    path = rewrite(trained(name), tmp_path / "crafted.safetensors", meta)
    assert_one_line(*code_and_err(use(name, path), capsys), str(path), message)


@pytest.mark.parametrize(
    "field,value",
    [
        ("std", -1.0),
        ("std", 0.0),
        ("step_std", 1e-320),
        ("mean", float("nan")),
        ("mean", float("inf")),
        ("mean", 1e308),
        ("std", "2"),
    ],
)
def test_timeseries_normaliser_values_must_be_finite_with_a_positive_scale(trained, tmp_path, capsys, field, value):
    """Crafted normaliser values gave NaN forecasts or a lower bound above the upper one."""
    meta = ckpt.load(trained("timeseries")).meta
    meta = dict(meta, normaliser=dict(meta["normaliser"], **{field: value}))
    path = rewrite(trained("timeseries"), tmp_path / "crafted.safetensors", meta)  # json writes NaN, Infinity
    code, err = code_and_err(["forecast", str(path), "--horizon", "3"], capsys)
    assert_one_line(code, err, str(path), f"field 'normaliser.{field}'")


def test_a_crafted_but_sane_normaliser_forecasts_finite_ordered_intervals(trained, tmp_path, capsys):
    meta = ckpt.load(trained("timeseries")).meta
    meta = dict(meta, normaliser=dict(meta["normaliser"], mean=-3.0, std=250.0, step_std=1e-3))
    path = rewrite(trained("timeseries"), tmp_path / "sane.safetensors", meta)
    capsys.readouterr()
    assert main(["forecast", str(path), "--horizon", "4", "--samples", "50"]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()[1:]]
    assert len(rows) == 4
    for row in rows:
        mean, lower, upper = map(float, row[-3:])
        assert all(math.isfinite(v) for v in (mean, lower, upper)) and lower <= mean <= upper, row


def test_metadata_nested_100000_deep_is_refused_before_parsing(trained, tmp_path, capsys):
    good = ckpt.load(trained("charlm")).meta
    deep = "[" * 100_000 + "]" * 100_000
    raw = json.dumps(dict(good, note=0)).replace('"note": 0', f'"note": {deep}')
    path = rewrite(trained("charlm"), tmp_path / "deep.safetensors", raw=raw)
    code, err = code_and_err(["sample", str(path), "--length", "3"], capsys)
    assert_one_line(code, err, str(path), "nested 100,001 levels deep, over the limit of 64")
    assert ckpt.depth('{"a": "[[[[{{", "b": [[1], {"c": []}]}') == 4  # brackets in strings do not count


def test_metadata_over_the_size_limit_is_refused_before_parsing(trained, tmp_path, capsys, monkeypatch):
    path = rewrite(trained("charlm"), tmp_path / "big.safetensors", ckpt.load(trained("charlm")).meta)
    monkeypatch.setattr(ckpt, "MAX_META_BYTES", 1000)  # the real limit (64 MiB) works the same way
    monkeypatch.setattr(json, "loads", None)  # nothing is parsed: the size alone refuses it
    code, err = code_and_err(["sample", str(path), "--length", "3"], capsys)
    assert_one_line(code, err, str(path), "checkpoint metadata is", "bytes, over the limit of 1,000")


@pytest.mark.parametrize(
    "raw,message",
    [
        ("1" * 5000, "checkpoint metadata is not valid JSON"),  # an int of 5000 digits: Python refuses to parse it
        ('{"format": "rnnkit-checkpoint/1", "task": "charlm", ', "checkpoint metadata is not valid JSON"),
        ('{"format": [], "task": "charlm"}', "unsupported checkpoint format a list []"),
        ('{"format": "rnnkit-checkpoint/1", "task": {"a": 1}}', "field 'task': expected the name of a recipe"),
        (
            '{"format": "rnnkit-checkpoint/1", "task": "charlm", "aliases": {"model/x": ["y"]}}',
            "tensor 'model/x' refers to a list ['y'], which is missing",
        ),
    ],
)
def test_malformed_records_are_one_line(trained, tmp_path, capsys, raw, message):
    path = rewrite(trained("charlm"), tmp_path / "bad.safetensors", raw=raw)
    assert_one_line(*code_and_err(["eval", str(path)], capsys), str(path), message)


MEMORY_LIMITED = """
import resource, sys
from rnnkit.cli import main
import rnnkit.recipes.charlm  # everything imported before the limit: only the model is left to allocate
size = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 1536 * 2 ** 20, resource.RLIM_INFINITY))
sys.exit(main(sys.argv[1:]))
"""


def test_a_checkpoint_claiming_a_huge_model_allocates_nothing(trained, tmp_path):
    """A 58 KB file claiming ``embedding_dim`` 10^7 reached 4.8 GB before any shape check. Sizes within
    the options' ranges can still claim 8.6 GB (one LSTM layer of 16384 units): the model is first
    built on the meta device and compared with the file's tensors, here under a 1.5 GB limit."""
    good = ckpt.load(trained("charlm")).meta
    config = json.loads(json.dumps(good["config"]))
    config["model"]["hidden_size"] = 16384
    path = rewrite(trained("charlm"), tmp_path / "bomb.safetensors", dict(good, config=config))
    assert path.stat().st_size < 100_000
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_LIMITED, "sample", str(path), "--length", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert_one_line(
        done.returncode,
        done.stderr,
        str(path),
        "tensor 'model/rnn.weight_ih_l0': the metadata describes shape (65536, 8), the file holds (64, 8)",
    )  # 4 gates x 16384 units


def test_shapes_the_metadata_claims_must_be_the_files(trained, tmp_path, capsys, monkeypatch):
    good = ckpt.load(trained("names")).meta
    path = rewrite(
        trained("names"),
        tmp_path / "more.safetensors",
        dict(good, languages=good["languages"] + ["Extra"], train_counts=good["train_counts"] + [1]),
    )
    assert_one_line(
        *code_and_err(use("names", path), capsys),
        str(path),
        "tensor 'model/",
        "the metadata describes shape (4,",
        "the file holds (3,",
    )
    path = rewrite(trained("names"), tmp_path / "same.safetensors", good)
    monkeypatch.setattr(loading, "SLACK_BYTES", -1)  # any model larger than its file's weights
    assert_one_line(
        *code_and_err(use("names", path), capsys), str(path), "its metadata describes a model of", "but the file holds"
    )


def test_an_error_no_declared_field_foresaw_is_one_line_keeping_its_cause(trained, monkeypatch, capsys):
    """Defence in depth: a KeyError while building still names the file in one line, and Python
    callers (and tests) see the original error as the cause, so a genuine bug is not hidden."""
    found = recipe("charlm").trained

    def broken(cls, sections, meta):
        return {}["vocab_size"]

    monkeypatch.setattr(found, "build_model", classmethod(broken))
    with pytest.raises(ckpt.CheckpointError, match=r"does not fit its recipe \(KeyError: 'vocab_size'\)") as info:
        rnnkit.load(trained("charlm"))
    assert isinstance(info.value.__cause__, KeyError)
    code, err = code_and_err(["sample", str(trained("charlm")), "--length", "3"], capsys)
    assert_one_line(code, err, str(trained("charlm") / ckpt.BEST), "KeyError: 'vocab_size'")


@pytest.fixture
def alarm():
    """Fail a test that would hang (e.g. reading a FIFO) instead of hanging the suite."""

    def hung(signum, frame):
        raise TimeoutError("hung reading the checkpoint")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_files_that_are_not_checkpoints_are_one_line(trained, tmp_path, capsys, alarm):
    best = (trained("charlm") / ckpt.BEST).read_bytes()
    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "truncated.safetensors").write_bytes(best[: len(best) // 2])
    (tmp_path / "header.safetensors").write_bytes(best[:20])
    (tmp_path / "text.safetensors").write_text("this is not a checkpoint\n" * 10)
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo.safetensors")
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / ckpt.BEST)
    (tmp_path / "dangling.safetensors").symlink_to(tmp_path / "gone")
    cases = {
        "empty.safetensors": "not a readable checkpoint",
        "truncated.safetensors": "not a readable checkpoint",
        "header.safetensors": "not a readable checkpoint",
        "text.safetensors": "not a readable checkpoint",
        "folder": "run directory holds no checkpoint",
        "fifo.safetensors": "not a regular file (a FIFO)",
        "run": "not a regular file (a FIFO)",
        "dangling.safetensors": "(a broken symbolic link)",
        "missing.safetensors": "no such checkpoint file or run directory",
    }
    for name, message in cases.items():
        assert_one_line(*code_and_err(["eval", str(tmp_path / name)], capsys), str(tmp_path / name), message)


def test_a_saved_split_that_does_not_fit_the_data_is_one_line(trained, tmp_path, capsys):
    """A chat split naming a conversation the data lacks was an IndexError traceback."""
    meta = ckpt.load(trained("chat")).meta
    crafted = dict(meta, split=dict(meta["split"], valid=[10**9]))
    path = rewrite(trained("chat"), tmp_path / "split.safetensors", crafted)
    assert_one_line(*code_and_err(use("chat", path), capsys), "the run's saved split names conversation 1,000,000,000")


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("step", "x", "field 'step': expected an integer, got 'x'"),
        ("window", [1.0], "field 'window': expected 2 numbers (loss sum, count), got 1"),
        ("optimizer", [], "field 'optimizer': expected an object, got a list []"),
        ("vocab", DELETE, "lacks field 'vocab' (a list of strings expected)"),
        (
            "rng",
            {"python": [3, "x", None]},
            "cannot resume from this checkpoint: ValueError",
        ),  # past the fields' checks
    ],
)
def test_resuming_from_crafted_metadata_is_one_line(trained, tmp_path, capsys, key, value, message):
    """``train --resume`` reads the trainer's state and the recipe's fields: checked first, and what
    the checks let by (here a malformed RNG state) still ends in one line naming the file."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained("charlm"), run, ignore=shutil.ignore_patterns(".rnnkit-lock*"))
    state = ckpt.load(run / ckpt.LAST)
    before = (run / "metrics.jsonl").read_bytes()
    rewrite(run, run / ckpt.LAST, mutated(state.meta, key, value))
    code, err = code_and_err(["train", "charlm", "--resume", str(run), "--quiet"], capsys)
    errors = [line for line in err.splitlines() if not line.startswith("note: ")]  # the data's notes come first
    assert_one_line(code, "\n".join(errors), str(run / ckpt.LAST), message)
    assert (run / "metrics.jsonl").read_bytes() == before
