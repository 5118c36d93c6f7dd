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
    assert seen == {(layer, impl) for layer in ("LSTM", "GRU", "RNN") for impl in ("torch", "auto:fused", "reference")}
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


def test_bench_layers_shows_the_kernel_auto_ran(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RNNKIT_IMPL", "reference")
    path = tmp_path / "layers.json"
    assert main(["bench", "layers", "--sizes", "d", "--layers", "gru", "--repeats", "1", "--json", str(path)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("GRU")]
    assert [row[7] for row in rows] == ["torch", "auto:ref", "reference"]
    (auto,) = [r for r in json.loads(path.read_text()) if r["impl"] == "auto"]
    assert auto["auto_chose"] == {"train": "reference", "infer": "reference"}


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


def test_bench_layers_bf16_adds_torch_bf16_and_records_the_precision(tmp_path, capsys, monkeypatch):
    """With --precision bf16 (forced where the CPU has none natively) a fourth contender is torch.nn
    under autocast, ratios stay against float32 torch.nn, and each record says its precision."""
    monkeypatch.setenv("RNNKIT_FORCE_BF16", "1")
    path = tmp_path / "bf16.json"
    args = ["bench", "layers", "--sizes", "d", "--layers", "lstm", "--repeats", "2", "--precision", "bf16"]
    assert main([*args, "--json", str(path)]) == 0
    text = capsys.readouterr().out
    assert "bf16 autocast" in text and "torch bf16" in text  # the auto check is against torch in bf16
    records = {r["impl"]: r for r in json.loads(path.read_text())}
    assert set(records) == {"torch", "torch-bf16", "auto", "reference"}
    assert records["torch"]["ratio_fwdbwd"] == 1.0
    assert {impl: r["precision"] for impl, r in records.items()} == {
        "torch": "fp32",
        "torch-bf16": "bf16",
        "auto": "bf16",
        "reference": "fp32",
    }


def test_bench_layers_bf16_is_refused_without_native_bf16(capsys, monkeypatch):
    from rnnkit.train import precision

    monkeypatch.delenv("RNNKIT_FORCE_BF16", raising=False)
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})
    with pytest.raises(SystemExit) as exit_info:  # a bad option: usage, then the one-line reason
        main(["bench", "layers", "--sizes", "d", "--precision", "bf16"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "precision: bf16 was asked for, but this CPU has no native bf16" in captured.err
    assert "targets:" not in captured.out  # refused before any timing
