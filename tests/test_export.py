"""``rnnkit export RUN --format onnx|torchscript``: the files run in their runtimes, at batch sizes
and lengths other than the traced ones, and agree with the eager model; a generation loop on
the exported LM step and a greedy translation on the exported encoder/decoder equal rnnkit's."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.export.layers import for_export
from rnnkit.nn import GRU, LSTM, RNN

from helpers import smoke_runs

EXPORTING = ["charlm", "wordlm", "names", "postag", "translate", "chat"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return smoke_runs(tmp_path_factory)


def export(run: Path, fmt: str, capsys, *extra: str) -> str:
    capsys.readouterr()
    assert main(["export", str(run), "--format", fmt, *extra]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("name", EXPORTING)
def test_every_graph_matches_the_eager_model(name, fmt, runs, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    run = runs(name)
    out = export(run, fmt, capsys)
    diffs = [float(d) for d in re.findall(r"max \|exported - eager\| = (\S+) over 4 input shapes", out)]
    assert diffs and max(diffs) <= 1e-4, out
    side = json.loads((run / "model.json").read_text())
    assert side["format"] == fmt
    for graph in side["graphs"].values():
        assert (run / graph["file"]).is_file()
        assert any("N" in i["shape"] for i in graph["inputs"])  # the batch is a variable axis


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_a_pooled_classifier_exports_and_matches(pooling, fmt, tmp_path, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    from helpers import smoke_train
    run = tmp_path / "run"
    assert main(smoke_train("names", run, "--pooling", pooling)) == 0
    diffs = [float(d) for d in re.findall(r"max \|exported - eager\| = (\S+) over 4 input shapes",
                                          export(run, fmt, capsys))]
    assert diffs and max(diffs) <= 1e-4


def test_onnx_lm_step_generates_what_rnnkit_generates(runs, capsys):
    ort = pytest.importorskip("onnxruntime")
    run = runs("charlm")
    export(run, "onnx", capsys)
    side = json.loads((run / "model.json").read_text())["graphs"]["step"]
    session = ort.InferenceSession(str(run / side["file"]))
    lm = rnnkit.load(run)
    tokens = torch.tensor([[3, 5, 7]])
    state_names = [i["name"] for i in side["inputs"] if i["name"] != "tokens"]
    with torch.no_grad():
        _, state = lm.model(tokens[:, :1], None)
    feed = {n: np.zeros(s.shape, np.float32) for n, s in zip(state_names, [state[0], state[1]])}
    eager_state, mine, theirs, step = None, [], [], tokens
    for _ in range(12):
        with torch.no_grad():
            scores, eager_state = lm.model(step, eager_state)
        outputs = session.run(None, {"tokens": step.numpy(), **feed})
        feed = dict(zip(state_names, outputs[1:]))
        mine.append(int(scores[0, -1].argmax()))
        theirs.append(int(outputs[0][0, -1].argmax()))
        step = torch.tensor([[mine[-1]]])
    assert theirs == mine


def test_onnx_encoder_and_decoder_translate_greedily_like_rnnkit(runs, capsys):
    ort = pytest.importorskip("onnxruntime")
    run = runs("translate")
    export(run, "onnx", capsys)
    graphs = json.loads((run / "model.json").read_text())["graphs"]
    encoder = ort.InferenceSession(str(run / graphs["encoder"]["file"]))
    decoder = ort.InferenceSession(str(run / graphs["decoder_step"]["file"]))
    model = rnnkit.load(run).model
    src = torch.tensor([[5, 6, 7, 2], [8, 9, 2, 0]])
    lengths = torch.tensor([4, 3])
    names = [o["name"] for o in graphs["encoder"]["outputs"]]
    carried = dict(zip(names, encoder.run(None, {"src": src.numpy(), "src_lengths": lengths.numpy()})))
    taken = {i.name for i in decoder.get_inputs()}
    state_names = [o["name"][5:] for o in graphs["decoder_step"]["outputs"] if o["name"].startswith("next_")]
    tokens = torch.ones(2, dtype=torch.long)  # <sos>
    with torch.no_grad():
        state, memory = model.start(src, lengths)
    eager, exported = [], []
    for _ in range(6):
        with torch.no_grad():
            log_probs, state, _ = model.step(tokens, state, memory)
        feed = {k: v for k, v in carried.items() if k in taken}
        outputs = decoder.run(None, {"tokens": tokens.numpy(), **feed})
        carried.update(zip(state_names, outputs[1:1 + len(state_names)]))
        assert np.abs(outputs[0] - log_probs.numpy()).max() < 1e-4
        eager.append(log_probs.argmax(-1))
        exported.append(torch.from_numpy(outputs[0]).argmax(-1))
        tokens = eager[-1]
    assert torch.equal(torch.stack(eager), torch.stack(exported))


@pytest.mark.parametrize("layer", [
    LSTM(3, 4, batch_first=True), LSTM(3, 4, 2, batch_first=True, bidirectional=True),
    GRU(3, 4, batch_first=True, bidirectional=True), RNN(3, 4, 2, nonlinearity="relu", batch_first=True)])
def test_padded_layers_export_with_sequence_lengths(layer, tmp_path):
    """The single-layer packed case is one torch's own ONNX exporter fails on."""
    ort = pytest.importorskip("onnxruntime")

    class Wrap(torch.nn.Module):
        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def forward(self, x, lengths):
            out, state = self.rnn(x, lengths=lengths)
            return (out, *state) if isinstance(state, tuple) else (out, state)

    torch.manual_seed(0)
    eager = Wrap(layer).eval()
    x, lengths = torch.randn(3, 5, 3), torch.tensor([5, 2, 4])
    names = ["out", "h", "c"][:len(eager(x, lengths))]
    torch.onnx.export(for_export(eager), (x, lengths), str(tmp_path / "l.onnx"), dynamo=False,
                      input_names=["x", "lengths"], output_names=names,
                      dynamic_axes={"x": {0: "N", 1: "L"}, "lengths": {0: "N"}, "out": {0: "N", 1: "L"},
                                    **{n: {1: "N"} for n in names[1:]}})
    session = ort.InferenceSession(str(tmp_path / "l.onnx"))
    for n, length in [(3, 5), (6, 9), (1, 2)]:
        x = torch.randn(n, length, 3)
        lengths = torch.randint(1, length + 1, (n,))
        lengths[0] = length
        with torch.no_grad():
            expected = eager(x, lengths)
        got = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})
        for a, b in zip(got, expected):
            assert np.abs(a - b.numpy()).max() < 1e-5


def test_too_tight_a_tolerance_fails_and_leaves_nothing(runs, capsys, tmp_path):
    pytest.importorskip("onnxruntime")
    run = runs("wordlm")
    capsys.readouterr()
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx"),
                 "--tolerance", "1e-12"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "differs from the eager model by" in err and "1e-12" in err
    assert list(tmp_path.iterdir()) == []
    assert main(["export", str(run), "--out", str(tmp_path / "missing" / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    for bad in ("nan", "-1"):
        with pytest.raises(SystemExit) as stop:
            main(["export", str(run), "--tolerance", bad])
        assert stop.value.code == 2 and "--tolerance" in capsys.readouterr().err
