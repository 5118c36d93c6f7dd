"""``rnnkit analyze gates``: recorded activations against the cell equations, text features,
correlation ranking, saturation, the HTML page and PNGs, and bad input through the CLI."""

import argparse
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from rnnkit.analysis import activations as A
from rnnkit.analysis import render
from rnnkit.analysis.gates import load_charlm, read_text
from rnnkit.cli import main
from rnnkit.families.lm import LMConfig, RNNLanguageModel
from rnnkit.train import checkpoint as ckpt

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tiny.txt"  # its training part lacks 'P' and 'q'
TORCH = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-layer, 12-unit LSTM char-LM trained for 3 steps on the fixture."""
    path = tmp_path_factory.mktemp("gates") / "run"
    assert (
        main(
            [
                "train",
                "charlm",
                "--text",
                str(FIXTURE),
                "--run-dir",
                str(path),
                "--quiet",
                "--embedding-dim",
                "8",
                "--hidden-size",
                "12",
                "--num-layers",
                "2",
                "--batch-size",
                "4",
                "--seq-length",
                "20",
                "--max-steps",
                "3",
                "--eval-every",
                "3",
            ]
        )
        == 0
    )
    return path


def tiny_model(cell, layers=2, seed=0):
    torch.manual_seed(seed)
    return RNNLanguageModel(7, LMConfig(cell=cell, embedding_dim=5, hidden_size=6, num_layers=layers)).double()


def hand_lstm(x, w):
    """The LSTM equations step by step (gate order i, f, g, o); x (L, E) -> dict of (L, H)."""
    hid = w["weight_hh"].shape[1]
    h, c, rec = x.new_zeros(hid), x.new_zeros(hid), {k: [] for k in "ifgoch"}
    for t in range(x.shape[0]):
        pre = w["weight_ih"] @ x[t] + w["bias_ih"] + w["weight_hh"] @ h + w["bias_hh"]
        i, f, o = (torch.sigmoid(pre[k * hid : (k + 1) * hid]) for k in (0, 1, 3))
        g = torch.tanh(pre[2 * hid : 3 * hid])
        c = f * c + i * g
        h = o * torch.tanh(c)
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            rec[k].append(v)
    return {k: torch.stack(v) for k, v in rec.items()}


def test_lstm_activations_equal_the_cell_equations_in_float64():
    model = tiny_model("lstm")
    ids = torch.tensor([0, 3, 6, 1, 1, 5, 2, 4, 0])
    acts = A.record(model, ids)
    assert set(acts) == set("ifgoch") and all(v.shape == (2, 9, 6) for v in acts.values())
    assert all(v.dtype == torch.float64 for v in acts.values())
    layer_in = model.embed(ids[None])[0].detach()
    for layer in range(2):
        hand = hand_lstm(layer_in, model.rnn.layer_weights(layer, 0))
        for k in "ifgoch":
            assert torch.allclose(acts[k][layer], hand[k], atol=1e-12), (layer, k)
        layer_in = hand["h"]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_hidden_states_equal_torch_nn_with_the_same_weights(cell):
    model = tiny_model(cell, layers=2, seed=1)
    ids = torch.tensor([4, 0, 2, 2, 6, 1, 3, 5, 0, 1, 2])
    acts = A.record(model, ids)
    ref = TORCH[cell](5, 6, num_layers=2, batch_first=True, dtype=torch.float64)
    ref.load_state_dict(model.rnn.state_dict(), strict=True)
    with torch.no_grad():
        out, state = ref(model.embed(ids[None]))
    h_n = state[0] if cell == "lstm" else state
    assert torch.allclose(acts["h"][-1], out[0], atol=1e-12)
    assert torch.allclose(acts["h"][:, -1], h_n[:, 0], atol=1e-12)  # every layer's last step
    assert tuple(acts) == A.NAMES[cell]
    sat = A.saturation({g: acts[g] for g in A.SIGMOID_GATES[cell]})
    assert [(r["layer"], r["gate"]) for r in A.saturation_rows(sat)] == [
        (k, g) for k in (1, 2) for g in A.SIGMOID_GATES[cell]
    ]


def test_features_of_text():
    assert A.inside_quotes('a "bc" d').tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert A.bracket_depth("f(a[b])c").tolist() == [0, 1, 1, 2, 2, 2, 1, 0]
    assert A.line_position("ab\ncd").tolist() == [1, 2, 0, 1, 2]
    assert A.word_position("to be").tolist() == [1, 2, 0, 1, 2]
    assert A.speaker_line("ROMEO:\nHi").tolist() == [1] * 6 + [0, 0, 0]
    assert A.feature("vowel", "bead").tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match="--find quotes: the feature .* is constant on this text"):
        A.feature("quotes", "no quotes here")


def test_find_ranks_the_unit_that_equals_the_feature_first():
    torch.manual_seed(0)
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
    target = A.line_position(text)
    acts = torch.randn(2, len(text), 5)
    acts[1, :, 3] = target * 0.5 - 2  # an affine copy: correlation exactly 1
    acts[0, :, 1] = -target + 0.1 * torch.randn(len(text))  # strongly anti-correlated, but noisy
    ranked = A.rank_units(acts, target, top=3)
    assert ranked[0][:2] == (1, 3) and ranked[0][2] == pytest.approx(1.0, abs=1e-9)
    assert ranked[1][:2] == (0, 1) and ranked[1][2] < -0.9
    acts[0, :, 0] = 7.0  # a constant unit gets correlation 0, not NaN
    assert A.correlations(acts[0], target)[0] == 0


def test_saturation_fractions_on_hand_made_gates():
    g = torch.tensor([[[0.05, 0.5], [0.95, 0.5], [0.92, 0.01], [0.5, 0.02]]])  # (K=1, L=4, H=2)
    left, right = A.saturation({"f": g})["f"]
    assert left.tolist() == [[0.25, 0.5]] and right.tolist() == [[0.5, 0.0]]
    (row,) = A.saturation_rows(A.saturation({"f": g}))
    assert row == {
        "layer": 1,
        "gate": "f",
        "left": 0.375,
        "right": 0.25,
        "units_left_half": 0,
        "units_right_half": 0,
        "units": 2,
    }


class Balance(HTMLParser):
    """Checks tags nest and close; collects tag names and the text."""

    VOID = {"meta", "br", "img", "link", "input", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.data, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data):
        self.data.append(data)


def parse(page):
    parser = Balance()
    parser.feed(page)
    parser.close()
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack)
    return parser


def test_html_is_well_formed_self_contained_and_escapes_the_text():
    text = 'KING:\n<script>alert(1)</script> & "x" <b>bold</b>\nend'
    values, legend = render.scaled(torch.linspace(0, 1, len(text)), "f")
    page = render.html_page(
        "a <title>",
        text,
        [("unit 0 <&>", values, legend), ("unit 1", -values, legend)],
        ["note <i>"],
        [["layer", "gate"], ["1", "<f>"]],
    )
    parser = parse(page)
    assert "script" not in parser.tags and "b" not in parser.tags and "i" not in parser.tags
    shown = "".join(parser.data)
    assert shown.count("<script>alert(1)</script>") == 2 and shown.count(render.NEWLINE_MARK) == 4
    assert "http" not in page and "src=" not in page and "<link" not in page and "<style>" in page


def test_cli_writes_html_png_json_and_prints_correlations(run, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "analyze",
                "gates",
                str(run),
                "--find",
                "line-position",
                "--top",
                "2",
                "--units",
                "5",
                "--out",
                str(out),
                "--png-chars",
                "80",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    names = ["find-line-position-c.html", "find-line-position-c.png", "saturation.png", "find-line-position-c.json"]
    for name in names:
        assert f"wrote {out / name}" in printed and (out / name).stat().st_size > 500
    summary = json.loads((out / "find-line-position-c.json").read_text())
    assert len(summary["units"]) == 3 and summary["units"][2]["unit"] == 5 and summary["chars"] > 500
    assert "r = " in printed and "gate saturation" in printed
    assert {(r["layer"], r["gate"]) for r in summary["saturation"]} == {(k, g) for k in (1, 2) for g in "ifo"}
    page = (out / "find-line-position-c.html").read_text()
    assert "script" not in parse(page).tags
    assert (
        main(
            [
                "analyze",
                "gates",
                str(run / "best.safetensors"),
                "--text",
                "First <b>\nCitizen",
                "--skip-unknown",
                "--gate",
                "o",
                "--layer",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "units-L1-o.html").is_file() and (out / "units-L1-o.png").is_file()


def test_held_out_r_is_each_units_correlation_on_the_next_characters(run, tmp_path, capsys):
    out = tmp_path / "held"
    assert (
        main(
            [
                "analyze",
                "gates",
                str(run),
                "--find",
                "line-position",
                "--top",
                "2",
                "--max-chars",
                "120",
                "--held-out",
                "150",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    summary = json.loads((out / "find-line-position-c.json").read_text())
    lm = load_charlm(str(run))  # recomputed here: the same units on the 150 characters after the first 120
    text = read_text(argparse.Namespace(text=None, text_file=None, max_chars=270, skip_unknown=False), lm)[0]
    held = text[summary["chars"] :]
    assert "(held out)" in capsys.readouterr().out and summary["held_out"]["chars"] == len(held) > 140
    acts = A.record(lm.model, lm.vocab.encode(text))["c"][:, summary["chars"] :]  # the state carries over
    for unit, r in zip(summary["units"], summary["held_out"]["r"]):
        mine = float(
            A.correlations(
                acts[unit["layer"] - 1, :, unit["unit"] : unit["unit"] + 1], A.feature("line-position", held)
            )[0]
        )
        assert r == pytest.approx(mine, abs=1e-5) and r != pytest.approx(unit["r"], abs=1e-5)
    assert (
        main(
            ["analyze", "gates", str(run), "--find", "space", "--held-out", "10", "--max-chars", "0", "--out", str(out)]
        )
        == 2
    )
    assert "--held-out needs --max-chars" in capsys.readouterr().err
    assert main(["analyze", "gates", str(run), "--held-out", "10", "--out", str(out)]) == 2
    assert "--held-out needs --find" in capsys.readouterr().err


def test_default_out_is_the_run_analysis_folder(run, capsys):
    assert main(["analyze", "gates", str(run), "--units", "0,2-3", "--gate", "h", "--max-chars", "100"]) == 0
    assert (run / "analysis" / "units-L2-h.html").is_file()
    assert "read 100 characters" in capsys.readouterr().out


@pytest.fixture(scope="module")
def not_charlm(run, tmp_path_factory):
    """The same weights filed under another task: only the task label differs."""
    state = ckpt.load(run / "best.safetensors")
    path = tmp_path_factory.mktemp("other") / "wordlm.safetensors"
    ckpt.save(path, state.tensors, dict(state.meta, task="wordlm"))
    return path


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--text", "Pq here"], "--text contains 2 character(s) not in the model's vocabulary: 'P', 'q'"),
        (["--units", "3,12"], "--units 3,12: 12 is out of range; the layer has units 0-11"),
        (["--units", "2-x"], "--units 2-x: expected numbers or ranges like 0,5,17 or 3-7"),
        (["--gate", "z"], "--gate z: not a gate or state of the model's lstm cell; expected one of i, f, g, o, c, h"),
        (["--text", ""], "--text: the text is empty; nothing to analyse"),
        (["--text", "Pq", "--skip-unknown"], "--text: the text is empty after dropping unknown characters"),
        (["--layer", "3"], "--layer 3: out of range; the model has layers 1-2"),
        (["--text", "abc", "--find", "quotes"], "--find quotes: the feature (inside double quotes) is constant"),
    ],
)
def test_bad_input_exits_2_with_one_line(run, tmp_path, capsys, extra, message):
    assert main(["analyze", "gates", str(run), "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_checkpoint_of_another_task_is_refused(not_charlm, capsys):
    assert main(["analyze", "gates", str(not_charlm)]) == 2
    err = capsys.readouterr().err
    assert f"analyze gates needs a charlm checkpoint; {not_charlm} is a wordlm checkpoint" in err
    assert err.count("\n") == 1
