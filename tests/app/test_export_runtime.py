"""What an exported model needs at run time, from its JSON alone: every id mapping complete, the
names recipe's temperature and priors, so onnxruntime without rnnkit answers as ``rnnkit predict``;
``--opset`` within torch's range; a write that fails leaves nothing and says so in one line."""

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import smoke_runs, write_languages
from test_export import EXPORTING

import rnnkit
from rnnkit.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return smoke_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def names_run(tmp_path_factory):
    """Three made-up languages of 120 / 40 / 20 names, trained with balanced loss weights: the
    training prior, the data's and the uniform one all differ, so each step of the formula counts."""
    root = tmp_path_factory.mktemp("names_runtime")
    data = write_languages(root / "langs", per_language=120)
    for language, keep in (("Sonish", 40), ("Mcish", 20)):
        path = data / f"{language}.txt"
        path.write_text("\n".join(path.read_text().split()[:keep]) + "\n")
    run = root / "run"
    assert (
        main(
            [
                "train",
                "names",
                "--data-dir",
                str(data),
                "--run-dir",
                str(run),
                "--max-steps",
                "60",
                "--embedding-dim",
                "16",
                "--hidden-size",
                "16",
                "--batch-size",
                "16",
                "--lr",
                "0.01",
                "--members",
                "2",
                "--balance",
                "weighted",
                "--max-minutes",
                "0",
                "--quiet",
            ]
        )
        == 0
    )
    return run


# ---- a runtime without rnnkit: the sidecar alone ----
def sidecar_predict(onnx_file: Path, names: list, prior: str) -> list:
    """The top language and its log-probability of each name, from the .onnx file and its JSON only
    (numpy and onnxruntime; no rnnkit)."""
    ort = pytest.importorskip("onnxruntime")
    side = json.loads(onnx_file.with_suffix(".json").read_text(encoding="utf-8"))
    chars, languages, post = side["ids"]["characters"], side["ids"]["languages"], side["postprocess"]
    to_id, roles = chars["token_to_id"], chars["roles"]
    assert not post["names"]["ascii_fold"]  # these names need no folding
    cleaned = [name.strip() for name in names]
    rows = [[to_id.get(c, to_id[roles["unknown"]]) for c in name] for name in cleaned]
    width = max(map(len, rows))
    ids = np.array([row + [to_id[roles["padding"]]] * (width - len(row)) for row in rows], dtype=np.int64)
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    session = ort.InferenceSession(
        str(onnx_file.parent / side["graphs"]["classify"]["file"]), providers=["CPUExecutionProvider"]
    )
    scores = session.run(None, {"ids": ids, "lengths": lengths})[0].astype(np.float64)

    def log_softmax(x):
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    data, train = np.log(post["data_prior"]), np.log(post["training_prior"])
    chosen = np.log(post["priors"][prior or post["default_prior"]])
    log_p = log_softmax((log_softmax(scores) + data - train) / post["temperature"] + chosen - data)
    by_id = {i: language for language, i in languages["token_to_id"].items()}
    return [(by_id[int(row.argmax())], float(row.max())) for row in log_p]


def rnnkit_predict(run: Path, names: list, prior: str, capsys) -> list:
    """``rnnkit predict RUN NAMES --top 1 --prior PRIOR``: [(language, log-probability)]."""
    capsys.readouterr()
    assert main(["predict", str(run), *names, "--top", "1", "--prior", prior]) == 0
    found = re.findall(r"^    \((-?\d+\.\d\d)\) (\w+)$", capsys.readouterr().out, re.M)
    assert len(found) == len(names)
    return [(language, float(value)) for value, language in found]


@pytest.mark.parametrize("prior", ["uniform", "data"])
def test_onnx_run_from_the_sidecar_alone_answers_as_rnnkit_predict(names_run, tmp_path, prior, capsys):
    """The issue's silent wrong result: the characters were listed without the 4 specials in
    front of them, so ids by position were off by 4 and about half the languages wrong."""
    out = tmp_path / "names.onnx"
    capsys.readouterr()
    assert main(["export", str(names_run), "--out", str(out)]) == 0
    held_out = [pair[0] for pair in json.loads((names_run / "split.json").read_text())["test"]]
    names = held_out + ["Zyxov ", " Qwerson", "McZ"]  # characters never seen in training: <unk>
    ours = sidecar_predict(out, names, prior)
    theirs = rnnkit_predict(names_run, names, prior, capsys)
    assert [language for language, _ in ours] == [language for language, _ in theirs]
    for (_, a), (_, b) in zip(ours, theirs):
        assert abs(min(a, -0.0) - b) <= 0.0051  # predict prints two decimals
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["postprocess"]["temperature"] == json.loads((names_run / "calibration.json").read_text())["temperature"]
    assert side["postprocess"]["training_prior"] != pytest.approx(side["postprocess"]["data_prior"])


@pytest.mark.parametrize("name", EXPORTING)
def test_every_sidecar_maps_every_id_exactly_once(name, runs, tmp_path, capsys):
    run = runs(name)
    out = tmp_path / "m.pt"
    capsys.readouterr()
    assert main(["export", str(run), "--format", "torchscript", "--out", str(out)]) == 0
    side = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert side["ids"], "no id mapping"
    ports = {f"{g}.{p['name']}": p for g, graph in side["graphs"].items() for p in graph["inputs"] + graph["outputs"]}
    embeddings = {m.num_embeddings for m in rnnkit.load(run).model.modules() if isinstance(m, torch.nn.Embedding)}
    fed = set()
    for vocab, table in side["ids"].items():
        mapping = table["token_to_id"]
        assert sorted(mapping.values()) == list(range(table["size"])), vocab  # every id once
        assert len(mapping) == table["size"]
        assert all(token is None or token in mapping for token in table["roles"].values()), vocab
        for port in table["used_by"]:
            assert port in ports, f"{vocab}: {port} is not an input or output of the exported graphs"
            last = ports[port]["shape"][-1]
            if port in {f"{g}.{o['name']}" for g, graph in side["graphs"].items() for o in graph["outputs"]}:
                assert last == table["size"], f"{vocab}: {port} scores {last} ids, the table has {table['size']}"
            else:
                assert table["size"] in embeddings, f"{vocab}: no embedding of {table['size']} rows"
                fed.add(port)
    token_inputs = {
        p
        for p in ports
        if p.split(".")[1] in ("ids", "tokens", "src", "words", "chars")
        and p in {f"{g}.{i['name']}" for g, graph in side["graphs"].items() for i in graph["inputs"]}
    }
    assert token_inputs <= fed, f"inputs without an id mapping: {token_inputs - fed}"


# ---- --opset ----
@pytest.mark.parametrize("opset", ["1", "8", "21", "9999", "x"])
def test_opset_outside_the_exporters_range_is_one_line(opset, runs, tmp_path, capfd):
    run = runs("names")
    with pytest.raises(SystemExit) as stop:
        main(["export", str(run), "--opset", opset, "--out", str(tmp_path / "m.onnx")])
    out, err = capfd.readouterr()
    assert stop.value.code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--opset" in err and "from 9 to 20" in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_graph_the_opset_cannot_express_fails_in_one_line_without_the_graph_dump(runs, tmp_path, capfd):
    """postag's tagger needs opset 11; torch prints the whole graph from C++ before its error."""
    pytest.importorskip("onnxruntime")
    run = runs("postag")
    capfd.readouterr()
    assert main(["export", str(run), "--opset", "9", "--out", str(tmp_path / "m.onnx")]) == 2
    out, err = capfd.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "opset" in err, (out[:300], err)
    assert list(tmp_path.iterdir()) == []
    assert main(["export", str(run), "--opset", "11", "--out", str(tmp_path / "m.onnx")]) == 0


# ---- a write that fails ----
def full_disk_after(monkeypatch, good: int) -> list:
    """``os.fsync`` fails with ENOSPC after ``good`` successful calls; returns the calls' count."""
    calls, real = [], os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) > good:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.mark.parametrize("name, good", [("names", 0), ("translate", 1), ("translate", 2)])
def test_a_failed_write_is_one_line_and_leaves_nothing(name, good, runs, tmp_path, capfd, monkeypatch):
    """The issue: TorchScript onto a full disk aborted with a C++ stack trace (exit 134). Now the
    file is made in memory and written through rnnkit.files; ``good`` files succeed first (translate
    writes its encoder, its decoder, then the JSON)."""
    run = runs(name)
    out = tmp_path / "out" / "m.pt"
    out.parent.mkdir()
    calls = full_disk_after(monkeypatch, good)
    capfd.readouterr()
    assert main(["export", str(run), "--format", "torchscript", "--out", str(out)]) == 2
    _, err = capfd.readouterr()
    assert len(calls) == good + 1
    assert len(err.strip().splitlines()) == 1 and "cannot write: No space left on device" in err, err
    assert str(out.parent) in err
    assert list(out.parent.iterdir()) == [], "a partial export (or a temporary) was left behind"
    monkeypatch.undo()
    assert main(["export", str(run), "--format", "torchscript", "--out", str(out)]) == 0
