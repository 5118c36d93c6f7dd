"""The translate recipe through the CLI: it learns the fixture, eval writes hypotheses beside the
scores, the translate command keeps order and empty lines, and each bad input gets its one-line error."""

import io
import json
import shutil
from pathlib import Path

import pytest

import rnnkit
from rnnkit.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "translate"
SMALL = (
    "--embedding-dim",
    "32",
    "--hidden-size",
    "64",
    "--encoder-layers",
    "1",
    "--batch-size",
    "16",
    "--max-minutes",
    "0",
    "--warmup-steps",
    "0",
    "--lr",
    "0.01",
    "--dropout",
    "0.1",
    "--no-eval-each-epoch",
    "--quiet",
    "--threads",
    "1",
)


def stdin(data: bytes):
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def train(run: Path, *extra: str, steps: int = 250) -> int:
    return main(
        [
            "train",
            "translate",
            "--dataset",
            str(FIXTURES),
            *SMALL,
            "--min-freq",
            "1",
            "--max-steps",
            str(steps),
            "--eval-every",
            str(steps),
            "--run-dir",
            str(run),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def luong(tmp_path_factory):
    run = tmp_path_factory.mktemp("translate") / "luong"
    assert train(run) == 0
    return run


def test_learns_the_fixture_and_reports_both_searches(luong):
    report = json.loads((luong / "report_test.json").read_text())
    assert [r["beam"] for r in report] == [1, 5]
    for result in report:
        assert result["bleu"] > 80 and result["bleu_lowercased"] >= result["bleu"]
        assert result["signature_bleu"].startswith("nrefs:1|case:mixed")
        assert "case:lc" in result["signature_bleu_lowercased"]
    hyps = (luong / "eval_test_beam5.txt").read_text().splitlines()
    assert len(hyps) == len((FIXTURES / "test.en").read_text().splitlines())


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_other_decoders_learn_too(tmp_path, attention, capsys):
    assert train(tmp_path / attention, "--attention", attention, "--cell", "gru") == 0
    bleu = json.loads((tmp_path / attention / "report_test.json").read_text())[0]["bleu"]
    assert bleu > (70 if attention == "bahdanau" else 30)
    if attention == "none":  # nothing to plot: said before any translation is printed
        capsys.readouterr()
        assert (
            main(
                ["translate", str(tmp_path / attention), "Der Hund läuft.", "--attention-plot", str(tmp_path / "a.png")]
            )
            == 2
        )
        captured = capsys.readouterr()
        assert captured.out == "" and "trained with --attention none" in captured.err
        assert not (tmp_path / "a.png").exists()


def test_bad_stdin_is_one_line(luong, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", stdin(b""))
    assert main(["translate", str(luong)]) == 2
    assert "no input: give sentences as arguments" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", stdin(b"Der Hund\n\xff\xfe Mann\n"))
    assert main(["translate", str(luong)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "<stdin>: not valid UTF-8 at byte offset 9" in captured.err


def test_translate_keeps_order_and_empty_lines_and_counts_unknown_words(luong, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", stdin("Der rote Hund läuft.\n\n   \nDer Elefant XYZ schläft.\n".encode()))
    assert main(["translate", str(luong), "--verbose"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.split("\n")
    assert lines[0] == "The red dog runs." and lines[1] == "" and lines[2] == "" and lines[3]
    assert "2 source tokens outside the vocabulary: Elefant (1), XYZ (1)" in captured.err


def test_batched_translation_equals_one_at_a_time(luong):
    model = rnnkit.load(luong)
    sentences = (FIXTURES / "test.de").read_text().splitlines()[:12]
    from rnnkit.families.seq2seq.translator import SearchOptions

    for beam in (1, 4):
        together = [t.text for t in model.translator.translate(sentences, SearchOptions(beam=beam))]
        alone = [model.translator.translate([s], SearchOptions(beam=beam))[0].text for s in sentences]
        assert together == alone


def test_attention_plot_and_unk_replacement(luong, tmp_path, capsys):
    png = tmp_path / "attention.png"
    assert main(["translate", str(luong), "Heute schläft der kleine Vogel.", "--attention-plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = rnnkit.load(luong)
    from rnnkit.families.seq2seq.translator import SearchOptions

    out = model.translator.translate(["Der rote Hund läuft."], SearchOptions(beam=3))[0]
    assert out.attention.shape == (len(out.tokens) + 1, len(out.source) + 1)
    assert abs(float(out.attention.sum()) - out.attention.shape[0]) < 1e-4


def test_eval_writes_hypotheses_beside_the_scores(luong, capsys):
    assert main(["eval", str(luong), "--split", "valid", "--beam", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("valid: BLEU ") and "hypotheses:" in out
    scores = json.loads((luong / "eval_valid_beam3.json").read_text())
    assert scores["sentences"] == 30 and len((luong / "eval_valid_beam3.txt").read_text().splitlines()) == 30
    assert scores["replace_unk"] is False and scores["references"] == "raw"
    assert (
        main(["eval", str(luong), "--split", "valid", "--beam", "3", "--length-penalty", "0.6", "--replace-unk"]) == 0
    )  # other options: other files, the first kept
    assert json.loads((luong / "eval_valid_beam3_lp0.6_unk.json").read_text())["replace_unk"] is True
    assert json.loads((luong / "eval_valid_beam3.json").read_text()) == scores


def test_tsv_pairs_with_tutorial_normalisation_subwords_and_skipped_lines(tmp_path, capsys):
    bad = tmp_path / "pairs.tsv"
    lines = (FIXTURES / "pairs.tsv").read_text().splitlines()
    bad.write_text("\n".join(lines[:10] + ["no tab here"] + lines[10:]) + "\n")
    common = [
        "--dataset",
        str(bad),
        "--src",
        "fr",
        "--tgt",
        "en",
        "--columns",
        "en,fr",
        *SMALL[:-4],
        "--max-steps",
        "20",
        "--eval-every",
        "20",
        "--lowercase",
        "--ascii-fold",
        "--tutorial-punctuation",
    ]
    assert main(["train", "translate", *common, "--run-dir", str(tmp_path / "a")]) == 2
    assert "pairs.tsv:11: expected 2 tab-separated fields, found 1" in capsys.readouterr().err
    run = tmp_path / "b"
    assert (
        main(
            [
                "train",
                "translate",
                *common,
                "--skip-bad-lines",
                "--tokenizer",
                "bpe",
                "--vocab-size",
                "40",
                "--run-dir",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    assert "1 bad lines skipped" in capsys.readouterr().err
    model = rnnkit.load(run)
    assert model.meta["src_tokenizer"]["kind"] == "sentencepiece"
    assert model.meta["split_lines"]["rule"] == "sentence groups"
    assert sum(len(model.meta["split_lines"][n]) for n in ("valid", "test")) >= 12  # 60 pairs: 10% + 10%
    assert main(["eval", str(run), "--split", "test"]) == 0
    assert "references: normalised like the training text" in capsys.readouterr().out
    assert main(["eval", str(run), "--split", "test", "--data-dir", str(tmp_path)]) == 2
    assert "--data-dir applies only to runs on a named data set" in capsys.readouterr().err


def test_different_line_counts_name_both_files(tmp_path, capsys):
    folder = tmp_path / "corpus"
    shutil.copytree(FIXTURES, folder)
    shutil.copy(FIXTURES / "short.en", folder / "train.en")
    assert main(["train", "translate", "--dataset", str(folder), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "train.de has 200 lines but" in err and "train.en has 5" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "no/such/place"], "--dataset no/such/place: no such folder or file"),
        (["--src", "fr"], "no train.fr"),
        (["--src", "en", "--tgt", "en"], "two different languages"),
        (["--dataset", str(FIXTURES / "pairs.tsv"), "--src", "de"], "'de' is not one of them"),
        (["--vocab-size", "100"], "--vocab-size applies only with --tokenizer bpe or unigram"),
    ],
)
def test_bad_training_input_is_one_line(tmp_path, capsys, args, message):
    base = ["train", "translate", "--dataset", str(FIXTURES), "--run-dir", str(tmp_path / "run"), "--max-steps", "1"]
    assert main(base + args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "run").exists()


def test_search_options_are_checked(luong, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["translate", str(luong), "Der Hund", "--beam", "0"])
    assert stop.value.code == 2 and "--beam: expected an integer from 1 to 64, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["translate", str(luong), "Der Hund", "--length-penalty", "-1"])
    assert stop.value.code == 2 and "--length-penalty: expected a number from 0 to 10" in capsys.readouterr().err
