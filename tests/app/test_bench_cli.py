"""Fast checks of ``rnnkit bench layers`` through :func:`rnnkit.cli.main`."""

import json

import pytest

from rnnkit.cli import main


def test_bench_layers_size_d_table_and_json(tmp_path, capsys):
    path = tmp_path / "layers.json"
    assert main(["bench", "layers", "--sizes", "d", "--repeats", "3", "--json", str(path)]) == 0
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines() if line.split() and line.split()[0] in ("LSTM", "GRU", "RNN")]
    seen = {(row[0], row[7]) for row in rows}  # layer, impl (size label is 6 tokens)
    assert seen == {(layer, impl) for layer in ("LSTM", "GRU", "RNN") for impl in ("torch", "auto", "reference")}
    for row in rows:
        float(row[10]), float(row[11])  # ratio columns parse as numbers
    assert "targets:" in text and "reference LSTM (d)" in text
    records = json.loads(path.read_text())
    impls = ("torch", "auto", "reference")
    assert {(r["layer"], r["impl"]) for r in records} == {
        (layer, impl) for layer in ("lstm", "gru", "rnn") for impl in impls
    }
    for r in records:
        assert r["size"] == "d" and len(r["fwd_ms"]) == 3 and len(r["fwdbwd_ms"]) == 3
        assert r["ratio_fwdbwd"] > 0


def test_bench_layers_unknown_size_is_named(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "layers", "--sizes", "a,z"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'z'" in err and "size" in err


def test_run_rejects_unknown_layer():
    from rnnkit.bench.layers import run

    with pytest.raises(ValueError, match="'lstmx'"):
        run(sizes=["d"], layers=["lstmx"], repeats=1, out=lambda s: None)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--threads", "0"], "argument --threads: expected a positive integer, got 0"),
        (["--repeats", "x"], "argument --repeats: expected a positive integer, got 'x'"),
        (
            ["--json", "/nonexistent-rnnkit-dir/out.json"],
            "--json /nonexistent-rnnkit-dir/out.json: folder /nonexistent-rnnkit-dir does not exist",
        ),
    ],
)
def test_bad_flags_fail_before_timing_with_a_named_error(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "layers", "--sizes", "d", "--repeats", "1"] + args)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "targets:" not in captured.out  # failed before any timing


def test_a_failed_write_after_the_timing_is_an_error_line_not_a_usage_message(tmp_path, capsys, monkeypatch):
    import os

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    path = tmp_path / "layers.json"
    assert main(["bench", "layers", "--sizes", "d", "--repeats", "1", "--layers", "rnn", "--json", str(path)]) == 2
    captured = capsys.readouterr()
    assert "targets:" in captured.out  # the timing ran
    assert captured.err.strip() == f"rnnkit bench: error: {path}: cannot write: No space left on device"
    assert not path.exists() and list(tmp_path.iterdir()) == []
