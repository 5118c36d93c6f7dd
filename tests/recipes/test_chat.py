"""The chat recipe: scripted conversations over stdin, the data paths (TSV, Cornell), the split by
conversation, the masked loss, and the bad-input cases."""

import io
import json
from pathlib import Path

import pytest
import torch
from helpers import pairs_tsv

import rnnkit
from rnnkit.cli import main
from rnnkit.data.batches import collate_pairs
from rnnkit.families.seq2seq.pairs import pair_example
from rnnkit.families.seq2seq.translator import pair_loss
from rnnkit.recipes.chat.data import ChatDataConfig, load_dialogue

FIXTURES = Path(__file__).parents[1] / "fixtures"
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
    "--quiet",
    "--threads",
    "1",
    "--no-eval-each-epoch",
)


def stdin(text: str):
    return io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8")


@pytest.fixture(scope="module")
def tsv_run(tmp_path_factory):
    """A chatbot trained on 'German' lines answered by their 'English' translations (a TSV)."""
    folder = tmp_path_factory.mktemp("chat")
    pairs_tsv(folder)
    run = folder / "run"
    assert (
        main(
            [
                "train",
                "chat",
                "--dataset",
                str(folder / "pairs.tsv"),
                *SMALL,
                "--max-steps",
                "200",
                "--eval-every",
                "200",
                "--min-freq",
                "1",
                "--valid-fraction",
                "0.1",
                "--test-fraction",
                "0.1",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    return run


def test_it_learns_the_pairs_and_beats_the_unigram_baseline(tsv_run):
    report = json.loads((tsv_run / "report_test.json").read_text())
    assert report["perplexity"] < 0.2 * report["unigram_perplexity"]
    assert set(report["replies"]) >= {"greedy", "beam 5", "most frequent reply"}
    assert len(report["examples"]) == 10


def test_scripted_chat_answers_each_line_ignores_empty_ones_and_stops_at_quit(tsv_run, capsys, monkeypatch):
    monkeypatch.setattr(
        "sys.stdin",
        stdin("Der rote Hund läuft.\n\nDer Elefant XYZ schläft.\nDer Elefant singt.\nq\nDer Hund schläft.\n"),
    )
    assert main(["chat", str(tsv_run)]) == 0
    captured = capsys.readouterr()
    replies = captured.out.splitlines()
    assert len(replies) == 3 and replies[0] == "the red dog runs ."
    assert captured.err.count("not in the vocabulary") == 1 and "elefant, xyz" in captured.err  # shown once


def test_a_long_line_is_cut_with_a_note(tsv_run, capsys):
    assert main(["chat", str(tsv_run), " ".join(["hund"] * 40), "--seed", "1", "--temperature", "0.7"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and "only the first 20 words are read" in captured.err


def test_sampled_replies_repeat_with_a_seed(tsv_run, capsys):
    outs = []
    for seed in (3, 3):
        assert main(["chat", str(tsv_run), "Der Hund.", "Die Katze.", "--temperature", "1.5", "--seed", str(seed)]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert main(["chat", str(tsv_run), "Der Hund.", "--beam", "3", "--temperature", "0.5"]) == 2
    assert "cannot be combined with --beam" in capsys.readouterr().err


def test_shakespeare_splits_keep_conversations_apart():
    data = ChatDataConfig()
    splits, origin, split = load_dialogue(data, seed=0)
    assert "Shakespeare" in origin and set(split) == {"train", "valid", "test"}
    lines = {name: {p.line for p in pairs} for name, pairs in splits.items()}
    assert not (lines["train"] & lines["valid"]) and not (lines["train"] & lines["test"])
    assert all(len(p.src.split()) <= data.max_length and p.src == p.src.lower() for p in splits["train"])
    again, _, _ = load_dialogue(data, seed=0, saved=split)
    assert again == splits


def test_padding_never_changes_the_loss(tsv_run):
    bot = rnnkit.load(tsv_run)
    pairs = load_dialogue(bot.sections["data"], 0, bot.meta["split"])[0]["valid"][:4]
    batch = collate_pairs([pair_example(bot.translator, p) for p in pairs])
    wide = batch._replace(
        src=torch.nn.functional.pad(batch.src, (0, 5)),
        tgt_in=torch.nn.functional.pad(batch.tgt_in, (0, 3)),
        tgt_out=torch.nn.functional.pad(batch.tgt_out, (0, 3)),
    )
    with torch.no_grad():
        a, n = pair_loss(bot.model, batch, "sum")
        b, m = pair_loss(bot.model, wide, "sum")
    assert n == m and torch.allclose(a, b)


def test_cornell_folder_trains_and_a_bad_line_is_named(tmp_path, capsys):
    run = tmp_path / "run"
    args = [
        "train",
        "chat",
        "--dataset",
        str(FIXTURES / "cornell"),
        *SMALL,
        "--max-steps",
        "2",
        "--eval-every",
        "2",
        "--min-freq",
        "1",
        "--valid-fraction",
        "0.3",
        "--test-fraction",
        "0.3",
    ]
    # 4 conversations (4, 2, 1 and 2 lines: 3, 1, 0 and 1 pairs); seed 1 holds out the second and the
    # fourth whole, so each split has pairs
    assert main(args + ["--seed", "1", "--run-dir", str(run)]) == 0
    assert "3 training pairs, 1 valid, 1 test" in capsys.readouterr().err
    assert rnnkit.load(run).meta["split"] == {"train": [0, 2], "valid": [1], "test": [3]}
    # seed 3 holds out the one-line conversation for validation: no pairs there, said in one line
    assert main(args + ["--seed", "3", "--run-dir", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the valid split has no pairs" in err, err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "movie_lines.txt").write_text("L1 +++$+++ u0 +++$+++ m0 +++$+++ A +++$+++ Hi.\nL2 +++$+++ u1 +++$+++ m0\n")
    (bad / "movie_conversations.txt").write_text("u0 +++$+++ u1 +++$+++ m0 +++$+++ ['L1', 'L2']\n")
    assert main(["train", "chat", "--dataset", str(bad), "--run-dir", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "movie_lines.txt:2: expected 5 fields" in err


def test_empty_pairs_file_is_one_line(tmp_path, capsys):
    empty = tmp_path / "pairs.tsv"
    empty.write_text("\n\n")
    assert main(["train", "chat", "--dataset", str(empty), "--run-dir", str(tmp_path / "run")]) == 2
    assert "no utterance<TAB>reply pairs" in capsys.readouterr().err


def test_replies_never_hold_unk_unless_allowed(tsv_run, capsys):
    lines = ["Der Hund."] * 30
    assert main(["chat", str(tsv_run), *lines, "--temperature", "20", "--seed", "0"]) == 0
    assert "<unk>" not in capsys.readouterr().out
    assert main(["chat", str(tsv_run), *lines, "--temperature", "20", "--seed", "0", "--allow-unk"]) == 0
    assert "<unk>" in capsys.readouterr().out


def test_a_terminal_gets_a_prompt_and_quit_leaves(tsv_run):
    """On a pseudo-terminal (Python writes input()'s prompt to stderr): '> ' before each line, a reply per line, 'quit' ends with exit 0."""
    import os
    import pty
    import subprocess
    import sys

    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "chat", str(tsv_run)],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
    )
    os.close(secondary)
    os.write(primary, b"Der rote Hund l\xc3\xa4uft.\n\nquit\n")
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed: the bot has left
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0
    os.close(primary)
    text = output.decode(errors="replace")
    assert text.count("> ") >= 3 and "the red dog runs ." in text
