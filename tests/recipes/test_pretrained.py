"""``--pretrained-embeddings`` in the word-level recipes: found rows start from the file (and stay
there when frozen), the counts are reported, bad files and widths are one-line errors."""

import random
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnkit.cli import main
from rnnkit.data.subword import RegexTokenizer
from rnnkit.data.token_vocab import Vocab
from rnnkit.families import pretrained
from rnnkit.families.seq2seq.pairs import vector_words
from rnnkit.recipes import recipe
from rnnkit.train import checkpoint as ckpt

FIXTURES = Path(__file__).parents[1] / "fixtures"


def smoke(name: str, run: Path, *extra: str) -> list[str]:
    args = [a.replace("{fixtures}", str(FIXTURES)) for a in recipe(name).smoke.train]
    return ["train", name, *args, "--run-dir", str(run), "--quiet", *extra]


def write_vectors(path: Path, words, dim: int, seed: int = 0) -> dict[str, torch.Tensor]:
    rng = random.Random(seed)
    rows = {w: torch.tensor([round(rng.uniform(-1, 1), 4) for _ in range(dim)]) for w in words}
    path.write_text(
        f"{len(rows)} {dim}\n"
        + "".join(w + " " + " ".join(f"{v:.4f}" for v in row.tolist()) + "\n" for w, row in rows.items())
    )
    return rows


def fixture_words(name: str) -> list[str]:
    return sorted(set((FIXTURES / "wordlm" / "train.txt").read_text().split()))[:10] + [name]


def embedding_rows(run: Path, key: str) -> torch.Tensor:
    return ckpt.load(run / ckpt.LAST).section("model")[key]


@pytest.mark.parametrize("freeze", [True, False])
def test_wordlm_rows_start_from_the_file_and_stay_when_frozen(tmp_path, capsys, freeze):
    vectors = write_vectors(tmp_path / "v.txt", fixture_words("notinthecorpus"), 8)
    run = tmp_path / "run"
    code = main(
        smoke(
            "wordlm",
            run,
            "--pretrained-embeddings",
            str(tmp_path / "v.txt"),
            "--lr",
            "5",
            "--pretrained-scale",
            "1",
            *(["--freeze-embeddings"] if freeze else []),
        )
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "wordlm: 10 of " in err and "(11 vectors of 8, times 1)" in err and ("frozen" in err) == freeze
    meta = ckpt.load(run / ckpt.LAST).meta
    assert meta["pretrained_embeddings"]["found"] == 10
    weight = embedding_rows(run, "embedding.weight")
    words = meta["vocab"]["words"] if isinstance(meta["vocab"], dict) else meta["vocab"]
    same = [torch.equal(weight[words.index(w)], row) for w, row in vectors.items() if w in words]
    assert len(same) == 10
    assert all(same) if freeze else not any(same)


def test_frozen_rows_survive_weight_decay_and_momentum():
    embedding = nn.Embedding(6, 3)
    vectors = pretrained.WordVectors(["b", "d"], torch.arange(6.0).view(2, 3))
    callbacks, report = pretrained.initialise(embedding, list("abcdef"), vectors, True, "v.txt", "test")
    assert report == {"file": "v.txt", "found": 2, "words": 6, "frozen": True, "scale": 1.0}
    before = embedding.weight.detach().clone()
    optimizer = torch.optim.SGD(embedding.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        embedding(torch.arange(6)).pow(2).sum().backward()
        assert embedding.weight.grad[[1, 3]].abs().sum() == 0  # clipping never sees them
        optimizer.step()
        for callback in callbacks:
            callback.on_step_end(None, 0.0, 1)
    assert torch.equal(embedding.weight[1], torch.tensor([0.0, 1, 2]))
    assert torch.equal(embedding.weight[3], torch.tensor([3.0, 4, 5]))
    assert not torch.equal(embedding.weight[0], before[0])


def test_scale_zero_matches_the_models_initial_spread():
    torch.manual_seed(0)
    embedding = nn.Embedding(500, 16)
    nn.init.uniform_(embedding.weight, -0.1, 0.1)
    spread = embedding.weight.std().item()
    vectors = pretrained.WordVectors([f"w{i}" for i in range(500)], 7 * torch.randn(500, 16))
    _, report = pretrained.initialise(embedding, [f"w{i}" for i in range(500)], vectors, False, "v", "t", scale=0.0)
    assert report["scale"] == pytest.approx(spread / vectors.vectors.std().item())
    assert embedding.weight.std().item() == pytest.approx(spread, rel=1e-5)
    assert torch.allclose(embedding.weight, vectors.vectors * report["scale"])


def test_width_mismatch_names_both_sizes(tmp_path, capsys):
    write_vectors(tmp_path / "v.txt", ["the", "a"], 5)
    assert main(smoke("wordlm", tmp_path / "run", "--pretrained-embeddings", str(tmp_path / "v.txt"))) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "dimension 5" in err and "embedding size is 8" in err
    assert not (tmp_path / "run" / ckpt.LAST).exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("2 3\nthe 1 2 3\na 1 2\n", "v.txt:3: row of width 2, expected 3"),
        ("2 3\nthe 1 2 3\na 1 x 3\n", "v.txt:3: non-numeric value"),
        ("two three\nthe 1 2 3\n", "v.txt:1: wrong header"),
    ],
)
def test_bad_vectors_file_is_one_line_with_its_line(tmp_path, capsys, text, message):
    (tmp_path / "v.txt").write_text(text)
    assert main(smoke("postag", tmp_path / "run", "--pretrained-embeddings", str(tmp_path / "v.txt"))) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_missing_file_and_freeze_without_file_are_errors(tmp_path, capsys):
    assert main(smoke("wordlm", tmp_path / "a", "--pretrained-embeddings", str(tmp_path / "none.txt"))) == 2
    assert "none.txt: no such file" in capsys.readouterr().err
    assert main(smoke("wordlm", tmp_path / "c", "--pretrained-embeddings", str(tmp_path))) == 2
    assert "is a directory; expected a text file" in capsys.readouterr().err
    assert main(smoke("wordlm", tmp_path / "b", "--freeze-embeddings")) == 2
    assert "freeze_embeddings: needs a vectors file" in capsys.readouterr().err


def test_tagger_vocabulary_grows_by_the_files_words_and_tags_them(tmp_path, capsys):
    rows = write_vectors(tmp_path / "v.txt", ["the", "boat", "zyzzyva", "quokka"], 8)
    run = tmp_path / "run"
    assert (
        main(
            smoke(
                "postag",
                run,
                "--pretrained-embeddings",
                str(tmp_path / "v.txt"),
                "--pretrained-vocab",
                "1",
                "--freeze-embeddings",
                "--pretrained-scale",
                "1",
            )
        )
        == 0
    )
    meta = ckpt.load(run / ckpt.LAST).meta
    words = meta["vocab"]["words"]
    new = [w for w in ("zyzzyva", "quokka") if w in words]
    assert new == ["zyzzyva"] and meta["pretrained_embeddings"]["extra_words"] == 1
    weight = embedding_rows(run, "words.weight")
    assert torch.equal(weight[words.index("zyzzyva") + 2], rows["zyzzyva"])  # <pad>, <unk> first
    capsys.readouterr()
    assert main(["tag", str(run), "the zyzzyva"]) == 0
    assert capsys.readouterr().out.startswith("the/")
    assert main(smoke("postag", tmp_path / "b", "--pretrained-vocab", "3")) == 2
    assert "pretrained_vocab: needs a vectors file" in capsys.readouterr().err


def test_translator_sides_take_their_own_files(tmp_path, capsys):
    write_vectors(tmp_path / "en.txt", ["the", "dog", "a"], 8)
    run = tmp_path / "run"
    assert main(smoke("translate", run, "--pretrained-target-embeddings", str(tmp_path / "en.txt"))) == 0
    err = capsys.readouterr().err
    assert "translate (tgt): " in err and "translate (src)" not in err
    meta = ckpt.load(run / ckpt.LAST).meta
    assert set(meta["pretrained_embeddings"]) == {"tgt"} and meta["pretrained_embeddings"]["tgt"]["found"] >= 2


def test_sentencepiece_pieces_map_to_the_words_they_start():
    vocab = Vocab(["\u2581house", "ing", "\u2581", "dog"])
    assert vector_words(vocab, object())[4:] == ["house", "", "", ""]
    assert vector_words(vocab, RegexTokenizer())[4:] == ["\u2581house", "ing", "\u2581", "dog"]
