"""impl="auto" chooses by a timed trial: the answer is followed, kept, keyed by machine and
shape, forced by RNNKIT_IMPL, and a corrupt cache is ignored with a note."""

import json

import pytest
import torch

from rnnkit.nn import GRU, LSTM, RNN, choose, dispatch
from rnnkit.nn.extension import lstm_extension


@pytest.fixture
def trials(tmp_path, monkeypatch):
    """Measured choices with fixed timings (``timings`` dict, editable); returns the trial log."""
    monkeypatch.delenv(choose.OVERRIDE, raising=False)
    monkeypatch.setenv(choose.CACHE_ENV, str(tmp_path / "kernels.json"))
    choose.forget()
    log = {"keys": [], "timings": {"fused": 10.0, "reference": 5.0}, "ran": []}

    def fake_time(calls, device):
        assert set(calls) == {"fused", "reference"}
        log["keys"].append(device.type)
        return dict(log["timings"])

    real_stack = dispatch.run_stack

    def spy_stack(*args, **kwargs):
        log["ran"].append("reference")
        return real_stack(*args, **kwargs)

    monkeypatch.setattr(choose, "time_calls", fake_time)
    monkeypatch.setattr(dispatch, "run_stack", spy_stack)
    yield log
    choose.forget()


def test_the_faster_kernel_is_used_and_the_answer_kept(trials, tmp_path):
    layer = LSTM(3, 5)
    layer(torch.randn(7, 2, 3))
    assert trials["keys"] == ["cpu"] and trials["ran"] == ["reference"]
    layer(torch.randn(7, 2, 3))  # same shape: no second trial
    assert len(trials["keys"]) == 1 and trials["ran"] == ["reference"] * 2
    saved = json.loads((tmp_path / "kernels.json").read_text())
    (answers,) = saved["machines"].values()
    (key,) = answers
    assert key == f"LSTM I3 H5 P0 x1 D1 N2 L8 dense float32 cpu t{torch.get_num_threads()} train"
    assert answers[key] == {"choice": "reference", "ms": {"fused": 10.0, "reference": 5.0}}


def test_torch_kept_unless_clearly_slower(trials):
    trials["timings"] = {"fused": 10.0, "reference": 10.0 * choose.MARGIN + 0.01}
    LSTM(3, 5)(torch.randn(7, 2, 3))
    assert trials["keys"] == ["cpu"] and trials["ran"] == []


def test_cache_is_keyed_by_shape_mode_and_machine(trials, monkeypatch):
    layer = GRU(3, 5)
    layer(torch.randn(33, 2, 3))
    layer(torch.randn(60, 2, 3))  # same length bucket (64)
    assert len(trials["keys"]) == 1
    layer(torch.randn(65, 2, 3))  # next bucket
    layer(torch.randn(60, 9, 3))  # another batch bucket
    with torch.no_grad():
        layer(torch.randn(60, 2, 3))  # inference: forward alone
    assert len(trials["keys"]) == 4
    choose.forget()  # a new process reads the file: nothing measured again
    layer(torch.randn(60, 2, 3))
    assert len(trials["keys"]) == 4
    monkeypatch.setattr(choose, "cpu_flags", lambda: {"fpu", "avx2"})  # another kind of machine
    choose.forget()
    layer(torch.randn(60, 2, 3))
    assert len(trials["keys"]) == 5


def test_corrupt_cache_is_ignored_with_a_note_and_left_alone(trials, tmp_path, capsys):
    path = tmp_path / "kernels.json"
    bad = ("{not json", json.dumps({"format": 1, "machines": {"m": {"k": {"choice": "magic"}}}}), "\udcff")
    for text in bad:
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        choose.forget()
        LSTM(3, 5)(torch.randn(7, 2, 3))  # measured, used, not written
        assert trials["ran"][-1] == "reference"
        err = capsys.readouterr().err
        assert err.count("note: kernel cache") == 1 and "ignored" in err
        assert path.read_bytes() == text.encode("utf-8", "surrogateescape")
    assert len(trials["keys"]) == 3


def test_packed_input_and_thread_count_are_keyed(trials):
    layer = LSTM(3, 5)
    x = torch.randn(7, 2, 3)
    layer(x)
    layer(x, lengths=torch.tensor([7, 5]))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(before + 1)
        layer(x)
    finally:
        torch.set_num_threads(before)
    assert len(trials["keys"]) == 3


def test_a_failing_trial_means_torchs_op_unkept(trials, monkeypatch, capsys, tmp_path):
    def broken(calls, device):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(choose, "time_calls", broken)
    LSTM(3, 5)(torch.randn(7, 2, 3))
    assert trials["ran"] == [] and "kernel trial failed (RuntimeError: out of memory)" in capsys.readouterr().err
    assert not (tmp_path / "kernels.json").exists()


def test_tracing_takes_torchs_op_even_when_forced(trials, monkeypatch):
    monkeypatch.setenv(choose.OVERRIDE, "reference")

    class Outputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = LSTM(3, 5)

        def forward(self, x):
            return self.rnn(x)[0]

    torch.jit.trace(Outputs(), torch.randn(7, 2, 3), check_trace=False)  # the check reruns it eagerly
    assert trials["ran"] == [] and trials["keys"] == []


@pytest.mark.parametrize("forced, ran", [("fused", []), ("reference", ["reference"])])
def test_environment_forces_the_choice(trials, monkeypatch, forced, ran):
    monkeypatch.setenv(choose.OVERRIDE, forced)
    LSTM(3, 5)(torch.randn(7, 2, 3))
    assert trials["keys"] == [] and trials["ran"] == ran


def test_bad_override_names_the_variable(trials, monkeypatch):
    monkeypatch.setenv(choose.OVERRIDE, "fastest")
    with pytest.raises(ValueError, match="RNNKIT_IMPL: expected fused or reference, got 'fastest'"):
        LSTM(3, 5)(torch.randn(7, 2, 3))


def test_float64_bf16_without_own_kernel_and_explicit_impls_never_measure(trials):
    LSTM(3, 5).double()(torch.randn(7, 2, 3, dtype=torch.float64))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        RNN(3, 5)(torch.randn(7, 2, 3))  # no bf16 kernel of rnnkit's: torch's op
        LSTM(3, 5, proj_size=2)(torch.randn(7, 2, 3))
    LSTM(3, 5, impl="fused")(torch.randn(7, 2, 3))
    LSTM(3, 5, impl="reference")(torch.randn(7, 2, 3))
    assert trials["keys"] == [] and trials["ran"] == ["reference"]


@pytest.mark.skipif(lstm_extension() is None, reason="C++ extension could not be built here")
def test_bf16_lstm_is_measured_against_rnnkits_bf16_kernel(trials, tmp_path):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        LSTM(3, 5)(torch.randn(7, 2, 3))
    assert trials["keys"] == ["cpu"] and trials["ran"] == ["reference"]
    (answers,) = json.loads((tmp_path / "kernels.json").read_text())["machines"].values()
    assert list(answers) == [f"LSTM I3 H5 P0 x1 D1 N2 L8 dense bfloat16 cpu t{torch.get_num_threads()} train"]


def test_real_trial_leaves_gradients_and_random_state_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(choose.OVERRIDE, raising=False)
    monkeypatch.setenv(choose.CACHE_ENV, str(tmp_path / "kernels.json"))
    choose.forget()
    torch.manual_seed(0)
    layer = LSTM(3, 5, num_layers=2, dropout=0.5)
    x = torch.randn(6, 2, 3)
    before = torch.get_rng_state()
    out, _ = layer(x)  # the trial, then the chosen kernel (dropout draws from the seeded state)
    assert "timing torch's and rnnkit's kernels once" in capsys.readouterr().err
    assert all(p.grad is None for p in layer.parameters())
    (answers,) = json.loads((tmp_path / "kernels.json").read_text())["machines"].values()
    (answer,) = answers.values()
    assert set(answer["ms"]) == {"fused", "reference"}
    twin = LSTM(3, 5, num_layers=2, dropout=0.5, impl=answer["choice"])
    twin.load_state_dict(layer.state_dict())
    torch.set_rng_state(before)
    want, _ = twin(x)
    assert torch.equal(out, want)  # as if no trial had run
    choose.forget()
