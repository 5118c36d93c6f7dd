"""The prepared GPU check runs its table end to end (on the CPU here) and refuses without a GPU."""

import importlib.util
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scripts" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_self_check_on_cpu_prints_one_table(capsys):
    gpu_check = _load()
    code = gpu_check.main(["--device", "cpu", "--recipes", "adding", "--sizes", "c", "--repeats", "1"])
    out = capsys.readouterr().out
    assert code in (0, 1)  # 1 only if a timing ratio was over 1.05 on a busy machine
    checks = ["smoke adding fp32", "LSTM (c) fwd+bwd fp32"]
    checks += ["smoke adding bf16", "GRU (c) fwd+bwd bf16"] if "bf16 yes" in out else []
    for check in checks:
        line = next(row for row in out.splitlines() if row.startswith(check))
        assert " PASS " in line or (" FAIL " in line and "ratio" in line)
    assert "smoke fp16 + gradient scaler  SKIP" in out and "checks," in out


def test_without_a_gpu_it_says_unchecked(capsys, monkeypatch):
    gpu_check = _load()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    assert "GPU path stays unchecked" in capsys.readouterr().err
