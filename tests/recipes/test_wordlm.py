"""Word-level LM: corpus readers, presets against the papers, NT-ASGD, end to end."""

import json
import random
import shutil
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data.corpus import EOS, UNK, WordVocab, load_corpus, split_paths, tokenize
from rnnkit.recipes.wordlm import recipe as wordlm
from rnnkit.recipes.wordlm.model import WordLanguageModel
from rnnkit.train import config as cfg
from rnnkit.train.averaging import NTAverager

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def write_corpus(folder: Path, lines=(400, 60, 60), seed=0) -> Path:
    """A synthetic corpus with structure: 'the <adj> <noun> <verb> a <noun>' sentences."""
    rng = random.Random(seed)
    adj, noun, verb = ["big", "red", "old", "new"], ["cat", "dog", "man", "car", "tree"], ["sees", "likes", "hits"]
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in zip(("train", "valid", "test"), lines):
        text = "\n".join(
            f" the {rng.choice(adj)} {rng.choice(noun)} {rng.choice(verb)} a {rng.choice(noun)} " for _ in range(count)
        )
        (folder / f"{split}.txt").write_text(text + "\n")
    return folder


def test_tokenize_vocab_and_unk_counting(tmp_path):
    assert tokenize(" a b \n c \n") == ["a", "b", EOS, "c", EOS]
    vocab = WordVocab.from_tokens(["b", "a", "b", EOS])
    assert vocab.words[:3] == ["b", "a", EOS] and vocab.words[-1] == UNK
    ids, unseen = vocab.encode(["a", "zebra", "b", "yak"])
    assert unseen == 2 and vocab.decode(ids.tolist()) == ["a", UNK, "b", UNK]


def test_missing_and_empty_splits_are_named(tmp_path):
    folder = write_corpus(tmp_path / "c")
    (folder / "test.txt").unlink()
    with pytest.raises(ValueError, match=r"test split missing: expected the file .*c/test\.txt"):
        load_corpus(str(folder))
    (folder / "valid.txt").write_text("\n\n")
    with pytest.raises(ValueError, match=r"valid\.txt: the valid split holds no words"):
        load_corpus(str(folder), splits=("train", "valid"))
    with pytest.raises(ValueError, match="expected one of ptb, wikitext-2 or a folder"):
        split_paths(str(tmp_path / "nowhere"))
    with pytest.raises(
        ValueError, match=r"ptb not found in .*ptb\.train\.txt\); get it with: rnnkit data get ptb --data-dir"
    ):
        split_paths("ptb", str(tmp_path))


@pytest.mark.skipif(not (SHARED / "ptb").is_dir(), reason="../shared/data/ptb not present")
def test_ptb_reader_matches_the_published_counts():
    corpus = load_corpus("ptb", str(SHARED))
    assert len(corpus.vocab) == 10_000
    assert {s: t.numel() for s, t in corpus.ids.items()} == {"train": 929_589, "valid": 73_760, "test": 82_430}
    assert corpus.unseen == {"train": 0, "valid": 0, "test": 0}


def params(preset: str, vocab: int = 10_000) -> int:
    sections = cfg.apply(wordlm.defaults(), wordlm.PRESETS[preset])
    return sum(p.numel() for p in WordLanguageModel(vocab, sections["model"]).parameters())


def test_published_presets_match_the_papers():
    medium = cfg.apply(wordlm.defaults(), wordlm.PRESETS["zaremba-medium"])
    assert (medium["model"].hidden_size, medium["model"].num_layers, medium["model"].dropout) == (650, 2, 0.5)
    assert (medium["train"].lr, medium["train"].grad_clip, medium["train"].max_epochs) == (1.0, 5.0, 39)
    assert medium["train"].step_decay == pytest.approx(1 / 1.2) and medium["data"].seq_length == 35
    assert abs(params("zaremba-medium") - 19.8e6) < 0.05e6  # untied 10k vocabulary
    large = cfg.apply(wordlm.defaults(), wordlm.PRESETS["zaremba-large"])
    assert (large["model"].hidden_size, large["model"].dropout, large["train"].grad_clip) == (1500, 0.65, 10.0)
    awd = cfg.apply(wordlm.defaults(), wordlm.PRESETS["awd-lstm"])
    m, t, d = awd["model"], awd["train"], awd["data"]
    assert (m.embedding_dim, m.hidden_size, m.last_layer_size, m.num_layers) == (400, 1150, 400, 3)
    assert (m.dropout, m.dropout_input, m.dropout_hidden, m.dropout_embedding, m.weight_dropout) == (
        0.4,
        0.4,
        0.25,
        0.1,
        0.5,
    )
    assert (m.ar_alpha, m.tar_beta, m.tie_weights) == (2.0, 1.0, True)
    assert (t.optimizer, t.lr, t.grad_clip, t.weight_decay, t.nonmono) == ("ntasgd", 30.0, 0.25, 1.2e-6, 5)
    assert (d.seq_length, d.variable_bptt, d.eval_batch_size, d.test_batch_size) == (70, True, 10, 1)
    assert abs(params("awd-lstm") - 24.2e6) < 0.2e6
    small = cfg.apply(wordlm.defaults(), wordlm.PRESETS["zaremba-small"])
    m, t, d = small["model"], small["train"], small["data"]
    assert (m.hidden_size, m.num_layers, m.dropout, m.init_range, m.tie_weights) == (200, 2, 0.0, 0.1, False)
    assert (t.lr, t.grad_clip, t.max_epochs, t.step_decay, t.step_decay_epoch) == (1.0, 5.0, 13, 0.5, 4)
    assert (d.seq_length, d.batch_size) == (20, 20)
    # by hand: embedding 10k x 200, two LSTM layers of 4 x 200 x (200 + 200) + 2 x 4 x 200, decoder 200 x 10k + 10k
    assert params("zaremba-small") == 10_000 * 200 + 2 * (4 * 200 * 400 + 2 * 4 * 200) + 200 * 10_000 + 10_000
    assert abs(params("zaremba-large") - 66e6) < 0.1e6  # Zaremba et al.: 66M parameters


def test_expected_perplexities_belong_to_the_paper_presets_and_are_the_documented_ones():
    """wordlm.EXPECTED: one published test perplexity per paper preset (every preset but the
    measured cpu-quick and cpu-hour), the figures docs/recipes/wordlm.md gives for them."""
    import re

    assert set(wordlm.EXPECTED) == set(wordlm.PRESETS) - {"cpu-quick", "cpu-hour"}
    labels = {"zaremba-small": "small", "zaremba-medium": "medium", "zaremba-large": "large", "awd-lstm": "AWD-LSTM"}
    root = Path(__file__).resolve().parents[2]
    for doc in ("docs/recipes/wordlm.md",):
        text = " ".join((root / doc).read_text().split())
        assert text.count("Zaremba small") == 1, f"{doc}: the published perplexities are stated once"
        sentence = text[text.index("Zaremba small") :][:100]
        stated = {
            preset: float(re.search(rf"\b{label} (\d+\.\d)", sentence).group(1)) for preset, label in labels.items()
        }
        assert stated == wordlm.EXPECTED, f"{doc}: {sentence!r}"


def test_nt_asgd_triggers_at_the_documented_point_and_averages():
    model = torch.nn.Linear(2, 1, bias=False)
    averager = NTAverager(model, nonmono=2)
    losses = [5.0, 4.0, 3.0, 3.5, 2.9, 3.1]
    # 6th value 3.1 > min(losses[:-2] of the 5 seen) = min(5, 4, 3) = 3.0 -> trigger
    triggers = [averager.observe(v, step) for step, v in enumerate(losses)]
    assert triggers == [False, False, False, False, False, True] and averager.trigger_step == 5
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, 0.0]]))
    averager.average = {"weight": model.weight.detach().clone()}
    averager.count = 1
    for value in (2.0, 4.0):
        with torch.no_grad():
            model.weight.fill_(value)
        averager.update()
    with averager.swapped():
        assert torch.allclose(model.weight, torch.full((1, 2), 2.0))  # mean of 0, 2, 4
    assert torch.allclose(model.weight, torch.full((1, 2), 4.0))  # raw weights restored


@pytest.mark.parametrize("cutoffs", ["", "6,11"], ids=["full-softmax", "adaptive-softmax"])
def test_wordlm_trains_samples_and_evaluates_end_to_end(tmp_path, capsys, cutoffs):
    folder = write_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    args = [
        "train",
        "wordlm",
        "--corpus",
        str(folder),
        "--run-dir",
        str(run),
        "--quiet",
        "--embedding-dim",
        "24",
        "--hidden-size",
        "24",
        "--num-layers",
        "2",
        "--last-layer-size",
        "24",
        "--batch-size",
        "4",
        "--seq-length",
        "12",
        "--variable-bptt",
        "--max-steps",
        "240",
        "--eval-every",
        "60",
        "--dropout",
        "0.1",
        "--dropout-input",
        "0.1",
        "--dropout-hidden",
        "0.1",
        "--eval-batch-size",
        "2",
        "--dropout-embedding",
        "0.1",
        "--weight-dropout",
        "0.2",
        "--ar-alpha",
        "2",
        "--tar-beta",
        "1",
        "--optimizer",
        "ntasgd",
        "--nonmono",
        "1",
        "--lr",
        "20",
        "--schedule",
        "constant",
        "--adaptive-cutoffs",
        cutoffs,
    ]
    assert main(args) == 0
    val = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["split"] == "val"]
    # 14 words + <eos> + <unk>: uniform guessing is perplexity 16, the grammar's own entropy 2.26
    assert val[-1]["ppl"] < 6
    capsys.readouterr()
    assert main(["eval", str(run), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["batch_size"] == 1 and result["tokens"] == 60 * 7 - 1 and result["ppl"] < 6
    assert main(["sample", str(run), "--words", "12", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    generated_eos = text.count("\n") - 1  # <eos> prints as a newline; the CLI adds a final one
    assert len(text.split()) + generated_eos == 12 and set(text.split()) <= {
        "the",
        "big",
        "red",
        "old",
        "new",
        "cat",
        "dog",
        "man",
        "car",
        "tree",
        "sees",
        "likes",
        "hits",
        "a",
    } | {UNK}

    train = folder / "train.txt"
    train.write_text(train.read_text() + " zebra quagga\n")  # the corpus changed since training
    assert main(["eval", str(run), "--split", "valid"]) == 2
    assert "differs from the checkpoint's (16 words)" in capsys.readouterr().err


def test_nt_asgd_run_resumed_after_averaging_began_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    import signal

    from helpers import assert_same_checkpoints, comparable

    from rnnkit.train import checkpoint as ckpt
    from rnnkit.train.trainer import Trainer

    folder = write_corpus(tmp_path / "corpus")

    def args(run):
        return [
            "train",
            "wordlm",
            "--corpus",
            str(folder),
            "--run-dir",
            str(run),
            "--quiet",
            "--embedding-dim",
            "12",
            "--hidden-size",
            "12",
            "--num-layers",
            "1",
            "--batch-size",
            "4",
            "--seq-length",
            "8",
            "--max-steps",
            "40",
            "--eval-every",
            "4",
            "--log-every",
            "2",
            "--optimizer",
            "ntasgd",
            "--nonmono",
            "1",
            "--lr",
            "30",
            "--schedule",
            "constant",
            "--variable-bptt",
            "--adaptive-cutoffs",
            "",
        ]

    assert main(args(tmp_path / "straight")) == 0
    straight = ckpt.load(tmp_path / "straight" / ckpt.LAST)
    trigger = straight.meta["callbacks"]["ntasgd"]["trigger_step"]
    assert 0 < trigger < 30 and straight.meta["inference_weights"] == "callback/ntasgd"
    original, calls = Trainer.train_step, [0]

    def ctrl_c(self):
        calls[0] += 1
        if calls[0] == 30:  # after averaging began, between evaluations
            signal.raise_signal(signal.SIGINT)
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", ctrl_c)
    assert main(args(tmp_path / "cut")) == 130
    monkeypatch.setattr(Trainer, "train_step", original)
    shutil.copytree(tmp_path / "cut", tmp_path / "legacy")
    write_legacy_format(tmp_path / "legacy" / ckpt.LAST)
    assert main(["train", "wordlm", "--resume", str(tmp_path / "cut"), "--quiet"]) == 0
    assert comparable(tmp_path / "cut") == comparable(tmp_path / "straight")
    assert_same_checkpoints(tmp_path / "cut" / ckpt.LAST, tmp_path / "straight" / ckpt.LAST)
    # a checkpoint written before callbacks existed (best_loss, averager, avg/) resumes the same
    assert main(["train", "wordlm", "--resume", str(tmp_path / "legacy"), "--quiet"]) == 0
    assert comparable(tmp_path / "legacy") == comparable(tmp_path / "straight")
    assert_same_checkpoints(tmp_path / "legacy" / ckpt.LAST, tmp_path / "straight" / ckpt.LAST)
    # the loaded model holds the average, which is not the raw last iterate
    averaged = rnnkit.load(tmp_path / "cut" / ckpt.LAST).model.state_dict()
    raw = straight.section("model")
    assert any(not torch.equal(averaged[k], raw[k]) for k in raw)
    assert all(
        torch.equal(averaged[k], straight.section("callback/ntasgd")[k]) for k in straight.section("callback/ntasgd")
    )


def write_legacy_format(path):
    """Rewrite a checkpoint in the layout of rnnkit before trainer callbacks (cfd7348)."""
    from rnnkit.train import checkpoint as ckpt

    state = ckpt.load(path)
    tensors = {
        ("avg/" + k[len("callback/ntasgd/") :] if k.startswith("callback/ntasgd/") else k): v
        for k, v in state.tensors.items()
    }
    meta = {
        k: v
        for k, v in state.meta.items()
        if k not in ("best", "monitor", "callbacks", "inference_weights", "aliases", "format")
    }
    meta.update(best_loss=state.meta["best"], averager=state.meta["callbacks"]["ntasgd"])
    ckpt.save(path, tensors, meta)


def test_data_dir_is_where_a_folder_corpus_is_read(tmp_path, capsys, monkeypatch):
    """Issue 28: --data-dir was ignored for folder corpora, in training and in eval."""
    write_corpus(tmp_path / "data" / "mine", lines=(40, 10, 10))
    monkeypatch.chdir(tmp_path)  # "mine" is not in the working folder: only --data-dir finds it
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "wordlm",
                "--corpus",
                "mine",
                "--data-dir",
                str(tmp_path / "data"),
                "--run-dir",
                str(run),
                "--quiet",
                "--embedding-dim",
                "4",
                "--hidden-size",
                "4",
                "--num-layers",
                "1",
                "--batch-size",
                "2",
                "--seq-length",
                "5",
                "--eval-batch-size",
                "2",
                "--max-steps",
                "2",
                "--eval-every",
                "2",
                "--adaptive-cutoffs",
                "",
            ]
        )
        == 0
    )
    moved = tmp_path / "moved" / "mine"
    shutil.copytree(tmp_path / "data" / "mine", moved)
    (moved / "test.txt").write_text((moved / "test.txt").read_text().split("\n", 1)[0] + "\n")  # one sentence
    capsys.readouterr()
    for data_dir in (tmp_path / "moved", moved):  # the folder holding the corpus, or the corpus folder
        assert main(["eval", str(run), "--split", "test", "--data-dir", str(data_dir), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["tokens"] == 7 - 1  # the moved copy's one sentence
    assert main(["eval", str(run), "--split", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 10 * 7 - 1  # the run's own --data-dir
    assert main(["eval", str(run), "--data-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"corpus 'mine' with --data-dir {tmp_path / 'run'}: no train.txt in" in err
    with pytest.raises(ValueError, match="expected one of ptb, wikitext-2 or a folder"):
        split_paths("mine")
