"""The chat recipe's baselines: the unigram model on the bot's own vocabulary (recomputed here by
hand from the run's data) and ``--ignore-prompt``, the language model of the replies alone."""

import json
import math
from collections import Counter

import pytest
from helpers import pairs_tsv as write_pairs

import rnnkit
from rnnkit.cli import main
from rnnkit.families.seq2seq.translator import Translator
from rnnkit.recipes.chat.data import NO_PROMPT, load_dialogue

SMALL = (
    "--embedding-dim",
    "16",
    "--hidden-size",
    "16",
    "--encoder-layers",
    "1",
    "--batch-size",
    "16",
    "--max-minutes",
    "0",
    "--warmup-steps",
    "0",
    "--max-steps",
    "30",
    "--eval-every",
    "30",
    "--quiet",
    "--threads",
    "1",
    "--no-eval-each-epoch",
    "--min-freq",
    "2",
    "--valid-fraction",
    "0.1",
    "--test-fraction",
    "0.1",
)


@pytest.fixture(scope="module")
def pairs_tsv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat-baselines")
    write_pairs(folder)
    return folder


def _train(folder, name, *extra):
    run = folder / name
    assert main(["train", "chat", "--dataset", str(folder / "pairs.tsv"), *SMALL, *extra, "--run-dir", str(run)]) == 0
    return run


def test_the_unigram_baseline_scores_the_bots_vocabulary_and_unk(pairs_tsv):
    run = _train(pairs_tsv, "plain")
    report = json.loads((run / "report_test.json").read_text())
    bot = rnnkit.load(run)
    splits, _, _ = load_dialogue(bot.sections["data"], bot.sections["train"].seed, bot.meta["split"])
    tok, vocab = bot.translator.tgt_tokenizer.tokenize, bot.translator.tgt_vocab
    closed = [[t if t in vocab.index else "<unk>" for t in tok(p.tgt)] + ["<eos>"] for p in splits["train"]]
    counts, total = Counter(t for seq in closed for t in seq), sum(map(len, closed))
    test = [[t if t in vocab.index else "<unk>" for t in tok(p.tgt)] + ["<eos>"] for p in splits["test"]]
    nll = -sum(math.log((counts[t] + 1) / (total + len(vocab.tokens))) for seq in test for t in seq)
    tokens = sum(map(len, test))
    assert report["tokens"] == tokens and report["vocabulary"] == len(vocab.tokens)
    assert report["unk_tokens"] == sum(seq.count("<unk>") for seq in test) > 0  # min-freq 2 leaves some
    assert report["unigram_perplexity"] == pytest.approx(math.exp(nll / tokens), rel=1e-9)
    assert report["unigram_perplexity"] < report["unigram_perplexity_open"]  # one <unk> is cheaper than words


def test_ignore_prompt_trains_a_language_model_of_the_replies(pairs_tsv, capsys, monkeypatch):
    run = _train(pairs_tsv, "blind", "--ignore-prompt")
    bot = rnnkit.load(run)
    splits, _, _ = load_dialogue(bot.sections["data"], bot.sections["train"].seed, bot.meta["split"])
    assert {p.src for name in splits for p in splits[name]} == {NO_PROMPT}
    assert len({p.tgt for p in splits["test"]}) > 1
    report = json.loads((run / "report_test.json").read_text())
    assert report["ignore_prompt"] is True and report["examples"][0]["utterance"] == NO_PROMPT
    capsys.readouterr()
    read = []
    translate = Translator.translate
    monkeypatch.setattr(
        Translator, "translate", lambda self, lines, options: read.extend(lines) or translate(self, lines, options)
    )
    assert main(["chat", str(run), "Der rote Hund läuft.", "Ein Mann schläft.", "--temperature", "0"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert read == [NO_PROMPT, NO_PROMPT] and first == second  # the encoder never sees the prompt


def test_ignore_prompt_needs_word_tokens(pairs_tsv, capsys):
    options = [o for o in SMALL if o not in ("--min-freq", "2")]
    assert (
        main(
            [
                "train",
                "chat",
                "--dataset",
                str(pairs_tsv / "pairs.tsv"),
                *options,
                "--ignore-prompt",
                "--tokenizer",
                "bpe",
                "--run-dir",
                str(pairs_tsv / "bpe"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--ignore-prompt" in err and "regex" in err and err.count("\n") == 1, err
