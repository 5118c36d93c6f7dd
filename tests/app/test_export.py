"""``rnnkit export RUN --format onnx|torchscript``: the files run in their runtimes, at batch sizes
and lengths other than the traced ones, and agree with the eager model; a generation loop on
the exported LM step and a greedy translation on the exported encoder/decoder equal rnnkit's;
every recipe's ONNX files, loaded here with onnxruntime and fed inputs made from real text, match
the eager model called here within 1e-5 (not only the exporter's own printed difference)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import FIXTURES, smoke_runs

import rnnkit
from rnnkit.cli import main
from rnnkit.export.layers import for_export
from rnnkit.nn import GRU, LSTM, RNN

EXPORTING = ["charlm", "wordlm", "names", "postag", "translate", "chat", "cnn", "stn", "transfer"]
#: the ONNX opset a recipe's graphs need beyond the default (the spatial transformer's affine grid: 20)
OPSET = {"stn": ("--opset", "20")}


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
    out = export(run, fmt, capsys, *(OPSET.get(name, ()) if fmt == "onnx" else ()))
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
    diffs = [
        float(d) for d in re.findall(r"max \|exported - eager\| = (\S+) over 4 input shapes", export(run, fmt, capsys))
    ]
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
        carried.update(zip(state_names, outputs[1 : 1 + len(state_names)]))
        assert np.abs(outputs[0] - log_probs.numpy()).max() < 1e-4
        eager.append(log_probs.argmax(-1))
        exported.append(torch.from_numpy(outputs[0]).argmax(-1))
        tokens = eager[-1]
    assert torch.equal(torch.stack(eager), torch.stack(exported))


@pytest.mark.parametrize(
    "layer",
    [
        LSTM(3, 4, batch_first=True),
        LSTM(3, 4, 2, batch_first=True, bidirectional=True),
        GRU(3, 4, batch_first=True, bidirectional=True),
        RNN(3, 4, 2, nonlinearity="relu", batch_first=True),
    ],
)
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
    names = ["out", "h", "c"][: len(eager(x, lengths))]
    torch.onnx.export(
        for_export(eager),
        (x, lengths),
        str(tmp_path / "l.onnx"),
        dynamo=False,
        input_names=["x", "lengths"],
        output_names=names,
        dynamic_axes={
            "x": {0: "N", 1: "L"},
            "lengths": {0: "N"},
            "out": {0: "N", 1: "L"},
            **{n: {1: "N"} for n in names[1:]},
        },
    )
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
    assert (
        main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--tolerance", "1e-12"]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "differs from the eager model by" in err and "1e-12" in err
    assert list(tmp_path.iterdir()) == []
    assert main(["export", str(run), "--out", str(tmp_path / "missing" / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    for bad in ("nan", "-1"):
        with pytest.raises(SystemExit) as stop:
            main(["export", str(run), "--tolerance", bad])
        assert stop.value.code == 2 and "--tolerance" in capsys.readouterr().err


# ---- independent ONNX parity: real inputs, the eager model called here, onnxruntime loaded here ----

PARITY = 1e-5


def onnx_sessions(run: Path, out: Path, capsys, *extra: str) -> tuple[dict, dict]:
    """Export ``run`` to ``out`` (ONNX); (graph name -> onnxruntime session, graph name -> sidecar entry)."""
    ort = pytest.importorskip("onnxruntime")
    export(run, "onnx", capsys, "--out", str(out), *extra)
    graphs = json.loads(out.with_suffix(".json").read_text())["graphs"]
    return (
        {
            name: ort.InferenceSession(str(out.parent / g["file"]), providers=["CPUExecutionProvider"])
            for name, g in graphs.items()
        },
        graphs,
    )


def assert_close(got, expected, what: str) -> None:
    expected = expected.detach().numpy()
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, eager {expected.shape}"
    worst = float(np.abs(got.astype(np.float64) - expected.astype(np.float64)).max())
    assert worst <= PARITY, f"{what}: max |onnx - eager| = {worst:.3g} > {PARITY}"


def lm_parity(trained, texts: list, session, graph) -> None:
    """Prime from zeros, then continue from the primed state: scores and states at both steps."""
    from torch.utils import _pytree as pytree

    if isinstance(texts[0], str):
        ids = torch.stack([trained.vocab.encode(t) for t in texts])
    else:
        ids = torch.stack([trained.vocab.encode(t)[0] for t in texts])
    names = [i["name"] for i in graph["inputs"] if i["name"] != "tokens"]
    prime, rest = ids[:, :-3], ids[:, -3:]
    with torch.no_grad():
        scores, state = trained.model(prime, None)  # hx=None: zeros
        zeros = [np.zeros(leaf.shape, np.float32) for leaf in pytree.tree_leaves(state)]
        got = session.run(None, {"tokens": prime.numpy(), **dict(zip(names, zeros))})
        assert_close(got[0], scores, "scores from a zero state")
        for name, a, b in zip(names, got[1:], pytree.tree_leaves(state), strict=True):
            assert_close(a, b, f"next {name} from a zero state")
        scores, after = trained.model(rest, state)
        got = session.run(
            None, {"tokens": rest.numpy(), **{n: leaf.numpy() for n, leaf in zip(names, pytree.tree_leaves(state))}}
        )
    assert_close(got[0], scores, "scores from the primed state")
    for name, a, b in zip(names, got[1:], pytree.tree_leaves(after), strict=True):
        assert_close(a, b, f"next {name} from the primed state")


def check_charlm(trained, sessions, graphs):
    lm_parity(trained, ["First Citizen:", "Before we proc"], sessions["step"], graphs["step"])


def check_wordlm(trained, sessions, graphs):
    texts = [["the", "big", "cat", "sees", "a", "dog", "<eos>"], ["the", "red", "man", "hits", "a", "car", "<eos>"]]
    lm_parity(trained, texts, sessions["step"], graphs["step"])


def check_names(trained, sessions, graphs):
    from rnnkit.data.batches import pad_batch

    ids, lengths = pad_batch([trained.vocab.encode(n, warn=False) for n in ["Kateov", "McRi", "Lusason", "Ba"]])
    with torch.no_grad():
        expected = trained.model(ids, lengths)
    got = sessions["classify"].run(None, {"ids": ids.numpy(), "lengths": lengths.numpy()})
    assert_close(got[0], expected, "scores")


def check_postag(trained, sessions, graphs):
    from rnnkit.recipes.postag.batches import collate

    batch = collate([trained.vocab.encode(s.split()) for s in ["The old man the boat .", "A dog runs .", "Dogs ."]])
    feed = {"words": batch.words, "lengths": batch.lengths, "chars": batch.chars, "char_lengths": batch.char_lengths}
    taken = {i.name for i in sessions["tag"].get_inputs()}
    assert {"words", "lengths"} <= taken
    with torch.no_grad():
        expected = trained.model(*feed.values())
    got = sessions["tag"].run(None, {k: v.numpy() for k, v in feed.items() if k in taken})
    heads = list(trained.vocab.labels)
    assert [o["name"] for o in graphs["tag"]["outputs"]] == heads
    for name, array in zip(heads, got):
        assert_close(array, expected[name], f"{name} scores")


def pair_parity(trained, sentences: list[str], sessions, graphs) -> None:
    """Encode real sentences, then 8 greedy decoder steps fed back from the eager argmax."""
    from torch.utils import _pytree as pytree

    from rnnkit.data.token_vocab import Vocab

    translator = trained.translator
    ids = [
        torch.tensor(translator.source_ids(translator.src_tokenizer.tokenize(translator.prepare(s)))) for s in sentences
    ]
    src = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=Vocab.PAD)
    lengths = torch.tensor([len(i) for i in ids])
    assert len(set(lengths.tolist())) > 1  # padding is exercised
    names = [o["name"] for o in graphs["encoder"]["outputs"]]
    with torch.no_grad():
        state, memory = trained.model.start(src, lengths)
    got = sessions["encoder"].run(None, {"src": src.numpy(), "src_lengths": lengths.numpy()})
    for name, a, b in zip(names, got, pytree.tree_leaves((state, memory)), strict=True):
        assert_close(a, b, f"encoder output {name}")
    carried = dict(zip(names, got))
    decoder = sessions["decoder_step"]
    taken = {i.name for i in decoder.get_inputs()}
    outputs = [o["name"] for o in graphs["decoder_step"]["outputs"]]
    tokens = torch.full((len(sentences),), Vocab.SOS)
    for step in range(8):
        with torch.no_grad():
            log_probs, state, weights = trained.model.step(tokens, state, memory)
        got = dict(
            zip(
                outputs,
                decoder.run(None, {"tokens": tokens.numpy(), **{k: v for k, v in carried.items() if k in taken}}),
            )
        )
        assert_close(got["log_probs"], log_probs, f"log-probabilities at step {step}")
        if weights is not None:
            assert_close(got["attention"], weights, f"attention at step {step}")
        state_names = [n[len("next_") :] for n in outputs if n.startswith("next_")]
        for name, leaf in zip(state_names, pytree.tree_leaves(state)):
            assert_close(got[f"next_{name}"], leaf, f"state {name} after step {step}")
            carried[name] = got[f"next_{name}"]
        tokens = log_probs.argmax(-1)


def check_translate(trained, sessions, graphs):
    pair_parity(trained, ["Der rote Hund läuft.", "Heute läuft der Hund nicht.", "Der Hund."], sessions, graphs)


def check_chat(trained, sessions, graphs):
    pair_parity(trained, ["What is thy name?", "Whither goest thou, good sir?", "Speak."], sessions, graphs)


def check_image(trained, sessions, graphs):
    """Real pictures (the fixture digit and the caption fixtures' scenes), prepared as the JSON says."""
    from rnnkit.families.vision.inputs import read_images

    files = [str(FIXTURES / "cnn" / "digit.png"), *map(str, sorted((FIXTURES / "caption").glob("*/*.png"))[:3])]
    images = read_images(files, trained.meta["side"], trained.meta["channels"])
    inputs = trained.inputs(images) if hasattr(trained, "inputs") else images.float() / 255
    with torch.no_grad():
        expected = trained.model(inputs)
    (got,) = sessions["classify"].run(None, {"images": inputs.numpy()})
    assert_close(got, expected, "logits")


PARITY_CHECKS = {
    "cnn": check_image,
    "stn": check_image,
    "transfer": check_image,
    "charlm": check_charlm,
    "wordlm": check_wordlm,
    "names": check_names,
    "postag": check_postag,
    "translate": check_translate,
    "chat": check_chat,
}


def test_every_exporting_recipe_has_an_independent_onnx_check():
    from rnnkit.recipes import recipes

    exporting = [
        r.name
        for r in recipes()
        for c in r.commands
        for a in c.arguments  # `export --format onnx`
        if c.name == "export" and a.flags == ("--format",) and "onnx" in a.options.get("choices", ())
    ]
    assert sorted(exporting) == sorted(EXPORTING) == sorted(PARITY_CHECKS)


@pytest.mark.parametrize("name", EXPORTING)
def test_onnx_file_run_by_onnxruntime_matches_the_eager_model_on_real_inputs(name, runs, tmp_path, capsys):
    """Not the exporter's own comparison: the .onnx files are loaded here, fed inputs made from real
    text, and compared with the rnnkit model called here."""
    run = runs(name)
    sessions, graphs = onnx_sessions(run, tmp_path / "model.onnx", capsys, *OPSET.get(name, ()))
    trained = rnnkit.load(run)
    PARITY_CHECKS[name](trained, sessions, graphs)
