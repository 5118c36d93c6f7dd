"""The postag recipe: it learns a made-up treebank, batches tag like single sentences, `tag` writes
CoNLL-U that parses back, and bad input is named, warned about or handled."""

import io
import json
import os
from pathlib import Path

import conllu
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.recipes.postag.batches import TaggingVocab
from rnnkit.recipes.postag.model import Tagger, TaggerConfig
from rnnkit.recipes.postag.objective import predict_tags

TREEBANK = Path(__file__).parents[1] / "fixtures" / "treebank"
SMALL = [
    "--word-dim",
    "16",
    "--char-dim",
    "8",
    "--char-hidden",
    "8",
    "--hidden-size",
    "24",
    "--num-layers",
    "1",
    "--batch-size",
    "8",
    "--max-minutes",
    "0",
    "--warmup-steps",
    "0",
    "--min-count",
    "1",
    "--dropout",
    "0.1",
    "--word-dropout",
    "0.1",
    "--lr",
    "0.01",
    "--quiet",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("postag") / "run"
    assert (
        main(["train", "postag", "--treebank", str(TREEBANK), "--run-dir", str(folder), "--max-steps", "120", *SMALL])
        == 0
    )
    return folder


def test_the_tagger_learns_the_made_up_treebank(run):
    report = json.loads((run / "report_test.json").read_text())
    # 5 UPOS tags; "the"/"a" are DET and "." PUNCT in every sentence, the rest by position
    assert report["upos"] >= 0.95 and report["xpos"] >= 0.9 and report["feats"] >= 0.9, report
    assert report["words"] == sum(
        1 for line in (TREEBANK / "made-up-ud-test.conllu").read_text().splitlines() if line[:1].isdigit()
    )
    assert (run / "confusion_test.png").stat().st_size > 1000
    best = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"upos", "xpos", "feats"} <= set(best[-1])


@pytest.mark.parametrize("cell,crf", [("lstm", False), ("gru", True)])
def test_length_bucketed_batches_tag_like_one_sentence_at_a_time(cell, crf):
    sentences = [
        s.split()
        for s in (
            "the old man sees a dog .",
            "a dog .",
            "the big red boat saw the dogs .",
            "dogs",
            "the man likes a big old red dog and a boat .",
        )
    ]
    vocab = TaggingVocab.from_sentences(sentences, {"upos": [["X"] * len(s) for s in sentences]}, 1)
    vocab.labels["upos"].tags = ["A", "B", "C", "D"]
    vocab.labels["upos"].index = {t: i for i, t in enumerate(vocab.labels["upos"].tags)}
    torch.manual_seed(0)
    model = Tagger(
        len(vocab.words),
        len(vocab.chars),
        {"upos": 4, "xpos": 3},
        TaggerConfig(cell=cell, word_dim=6, char_dim=5, char_hidden=4, hidden_size=7, crf=crf),
    )
    model.double().eval()
    examples = [vocab.encode(s) for s in sentences]
    batched = predict_tags(model, examples, batch_size=64)
    alone = [predict_tags(model, [e], batch_size=1)[0] for e in examples]
    assert batched == alone and [len(p["upos"]) for p in batched] == [len(s) for s in sentences]
    emissions = model(*_inputs(model, examples))  # padding never changes a sentence's scores
    single = model(*_inputs(model, examples[1:2]))
    torch.testing.assert_close(emissions["upos"][1, :3], single["upos"][0], rtol=0, atol=1e-12)


def _inputs(model, examples):
    from rnnkit.recipes.postag.batches import collate

    batch = collate(examples)
    return batch.words, batch.lengths, batch.chars, batch.char_lengths


def test_tag_prints_pairs_tsv_and_conllu_that_parses_back(run, tmp_path, capsys, monkeypatch):
    capsys.readouterr()
    assert main(["tag", str(run), "The old man sees the boat."]) == 0
    out = capsys.readouterr().out
    assert out.split() == ["The/DET", "old/ADJ", "man/NOUN", "sees/VERB", "the/DET", "boat/NOUN", "./PUNCT"]
    text = tmp_path / "in.txt"
    text.write_text("The old man sees the boat.\n\nA dog saw a red boat .\n")
    out_file = tmp_path / "out.conllu"
    assert main(["tag", str(run), "--input", str(text), "--format", "conllu", "--output", str(out_file)]) == 0
    parsed = conllu.parse(out_file.read_text())
    assert [[t["form"] for t in s] for s in parsed] == [
        ["The", "old", "man", "sees", "the", "boat", "."],
        ["A", "dog", "saw", "a", "red", "boat", "."],
    ]
    assert parsed[0].metadata["text"] == "The old man sees the boat."
    assert [t["upos"] for t in parsed[1]] == ["DET", "NOUN", "VERB", "DET", "ADJ", "NOUN", "PUNCT"]
    monkeypatch.setattr("sys.stdin", io.StringIO("a dog .\n"))
    assert main(["tag", str(run), "--format", "tsv"]) == 0
    assert capsys.readouterr().out == "a\tDET\tDT\ndog\tNOUN\tNN\n.\tPUNCT\t.\n"
    assert rnnkit.load(run).tag([["a", "dog"]])[0]["upos"] == ["DET", "NOUN"]


def test_empty_input_gives_empty_output(run, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    capsys.readouterr()
    assert main(["tag", str(run), "--input", str(empty), "--format", "conllu"]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n"))
    assert main(["tag", str(run)]) == 0
    assert capsys.readouterr().out == ""


def test_an_output_in_a_missing_folder_is_named(run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["tag", str(run), "a dog .", "--output", str(tmp_path / "nowhere" / "out.txt")]) == 2
    assert f"the folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_a_failed_write_leaves_the_old_output_file(run, tmp_path, monkeypatch):
    out_file = tmp_path / "out.txt"
    out_file.write_text("the user's earlier output")

    def crash(*args):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", crash)
    assert main(["tag", str(run), "a dog .", "--output", str(out_file)]) == 2
    assert out_file.read_text() == "the user's earlier output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_bad_conllu_is_named_and_unseen_tags_are_warned_about_and_counted(run, tmp_path, capsys):
    bad = tmp_path / "bad.conllu"
    lines = (TREEBANK / "made-up-ud-dev.conllu").read_text().splitlines()
    bad.write_text("\n".join(lines[:3] + [lines[3].rsplit("\t", 1)[0]] + lines[4:]) + "\n")
    capsys.readouterr()
    assert main(["eval", str(run), "--conllu", str(bad)]) == 2
    assert f"{bad}:4:" in capsys.readouterr().err
    odd = tmp_path / "odd.conllu"
    odd.write_text("\n".join(lines).replace("\tADJ\t", "\tINTJ\t", 1) + "\n")
    with pytest.warns(UserWarning, match=rf"{odd}:\d+: UPOS tag 'INTJ' not seen in training"):
        assert main(["eval", str(run), "--conllu", str(odd), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unknown_gold_tags"] == 1 and result["split"] == "odd"


def test_a_missing_treebank_is_named_before_the_run_directory_exists(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "postag",
                "--treebank",
                str(tmp_path / "nowhere"),
                "--run-dir",
                str(tmp_path / "run"),
                "--max-steps",
                "5",
                *SMALL,
            ]
        )
        == 2
    )
    assert "expected one *-ud-train.conllu" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
