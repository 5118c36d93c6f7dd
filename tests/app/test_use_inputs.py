"""Inputs of the use commands that the audit found still slipping through: a name or a sentence
millions of characters long (memory), text arguments that are not UTF-8, and a use verb
without its checkpoint. Each is one line, exit 2."""

from __future__ import annotations

import pytest
from helpers import smoke_runs

from rnnkit.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return smoke_runs(tmp_path_factory)


def one_line(capsys, *parts: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and "Traceback" not in err and all(p in lines[0] for p in parts), err
    return lines[0]


def test_a_name_of_millions_of_characters_is_refused_before_the_model_runs(trained, capsys):
    run = trained("names")
    capsys.readouterr()
    assert main(["predict", str(run), "Nakamura", "w " * 600]) == 2
    one_line(capsys, "rnnkit predict: error: name 2", "1,200 characters; expected at most 1,000")
    assert main(["predict", str(run), "w" * 1000]) == 0  # the limit itself is read


def test_a_sentence_or_word_over_the_limit_is_refused(trained, capsys, monkeypatch):
    run = trained("postag")
    capsys.readouterr()
    assert main(["tag", str(run), " ".join(["the"] * 1001)]) == 2
    one_line(capsys, "rnnkit tag: error: sentence 1", "1,001 words; expected at most 1,000")
    assert main(["tag", str(run), "a " + "x" * 1001]) == 2
    one_line(capsys, "rnnkit tag: error: word 2", "1,001 characters")


@pytest.mark.parametrize("recipe, verb", [("names", "predict"), ("translate", "translate")])
def test_a_text_argument_that_is_not_utf8_is_one_line(trained, capsys, recipe, verb):
    run = trained(recipe)
    capsys.readouterr()
    assert main([verb, str(run), "Ka\udcffte"]) == 2  # how Python keeps the byte 0xff of argv
    one_line(capsys, f"rnnkit {verb}: error:", "1: not valid UTF-8 text")


@pytest.mark.parametrize("verb", ["predict", "translate", "eval", "export"])
def test_a_use_verb_without_its_checkpoint_ends_in_one_error_line(capsys, verb):
    assert main([verb]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 2
        and err[0].startswith(f"usage: rnnkit {verb}")
        and err[1].startswith(f"rnnkit {verb}: error: expected the checkpoint (file or run directory) first")
    )
