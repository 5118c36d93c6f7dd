"""Word vectors in use: the vectors-file reader's errors, evaluation, the commands, gensim's reader."""

from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.data.vectors import format_word2vec, read_vectors
from rnnkit.metrics import similarity as wordsim

FIXTURES = Path(__file__).parents[1] / "fixtures" / "embeddings"


def write(tmp_path, text, name="v.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reader_reads_both_formats_and_round_trips(tmp_path):
    glove = read_vectors(write(tmp_path, "the 0.1 0.2 0.3\ncat -1 2e-3 4\n"))
    assert glove.words == ["the", "cat"] and glove.dim == 3 and not glove.header
    words, vectors = ["a", "b", "c"], torch.randn(3, 4)
    back = read_vectors(write(tmp_path, format_word2vec(words, vectors), "w2v.txt"))
    assert back.header and back.words == words and torch.allclose(back.vectors, vectors, atol=1e-5)
    one = read_vectors(write(tmp_path, "x 0.5\ny 1\n", "one.txt"))  # one dimension: not a header
    assert one.words == ["x", "y"] and one.dim == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("2 three\na 1 2 3\n", r"v.txt:1: wrong header '2 three'"),
        ("0 3\n", r"v.txt:1: wrong header 0 3"),
        ("2 3\na 1 2 3\n", r"v.txt:1: header says 2 words, the file has 1"),
        ("2 3\na 1 2 3\nb 1 2\n", r"v.txt:3: row of width 2, expected 3 values after the word 'b'"),
        ("a 1 2 3\nb 1 2 3 4\n", r"v.txt:2: row of width 4, expected 3"),
        ("a 1 2 3\nb 1 x 3\n", r"v.txt:2: non-numeric value in the row of 'b'"),
        ("a 1 2 3\nb 1 nan 3\n", r"v.txt:2: non-finite value"),
        ("a 1 2\nb 1 2\na 3 4\nb 5 6\nc 1 1\n", r"2 duplicate word\(s\); first 'a' on lines 1 and 3"),
        ("word\n", r"v.txt:1: expected 'word v1 ... vD'"),
    ],
)
def test_reader_names_the_line_of_each_bad_input(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_vectors(write(tmp_path, text))


def test_writer_refuses_words_with_spaces():
    with pytest.raises(ValueError, match="holds whitespace"):
        format_word2vec(["new york"], torch.zeros(1, 2))


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    x = torch.tensor([1.0, 2, 2, 3, 5, 5, 5, 0, 9])
    y = torch.tensor([2.0, 1, 4, 3, 3, 6, 7, 0, 8])
    assert wordsim.spearman(x, y) == pytest.approx(stats.spearmanr(x.numpy(), y.numpy())[0], abs=1e-12)
    assert torch.equal(wordsim.rank(torch.tensor([3.0, 1, 3])), torch.tensor([2.5, 1, 2.5], dtype=torch.float64))


def test_analogies_exclude_the_question_words_and_count_the_unknown(tmp_path):
    words = ["man", "king", "woman", "queen", "apple"]
    vectors = torch.tensor([[1.0, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1], [-1, -1, -1]])
    path = write(tmp_path, ": royal\nman king woman queen\nman king woman dragon\nMAN KING WOMAN QUEEN\n")
    result = wordsim.analogies(vectors, words, wordsim.read_analogies(path))
    assert result == {"accuracy": 1.0, "correct": 2, "questions": 2, "oov": 1}
    pairs = write(tmp_path, "# c\nman\twoman\t3\nking\tqueen\t9\napple\tking\t0\nman\tdragon\t1\n", "p.tsv")
    figures = wordsim.similarity(vectors, words, wordsim.read_pairs(pairs))
    assert figures["pairs"] == 3 and figures["oov"] == 1 and figures["spearman"] is not None


def test_bad_pair_and_analogy_files_name_the_line(tmp_path):
    with pytest.raises(ValueError, match=r"p.txt:2: expected 'word1 word2 score'"):
        wordsim.read_pairs(write(tmp_path, "a b 1\na b c\n", "p.txt"))
    with pytest.raises(ValueError, match=r"q.txt:2: expected four words"):
        wordsim.read_analogies(write(tmp_path, ": s\na b c\n", "q.txt"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("emb") / "run"
    assert (
        main(
            [
                "train",
                "embeddings",
                "--corpus",
                str(FIXTURES / "corpus.txt"),
                "--min-count",
                "1",
                "--dim",
                "8",
                "--window",
                "2",
                "--batch-words",
                "64",
                "--max-minutes",
                "0",
                "--max-steps",
                "20",
                "--eval-every",
                "10",
                "--run-dir",
                str(path),
                "--quiet",
            ]
        )
        == 0
    )
    return path


def test_unknown_query_words_are_named_in_one_line(run, capsys):
    capsys.readouterr()
    assert main(["neighbors", str(run), "king", "unicorn", "zebra"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown words unicorn, zebra" in err and "Traceback" not in err
    assert main(["analogy", str(run), "man", "king", "dragon"]) == 2
    assert "unknown word dragon" in capsys.readouterr().err
    words = write(run.parent, "king queen griffin\n", "words.txt")
    assert main(["plot-embeddings", str(run), "--words", str(words)]) == 2
    assert "unknown word griffin" in capsys.readouterr().err


def test_neighbors_analogy_and_case_insensitive_lookup(run, capsys):
    capsys.readouterr()
    assert main(["neighbors", str(run), "KING", "--top", "4"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("KING: ") and len(line.split(", ")) == 4 and " king " not in f" {line} "
    assert main(["analogy", str(run), "man", "king", "woman", "--top", "2"]) == 0
    answer = capsys.readouterr().out
    assert answer.startswith("man : king :: woman : ") and len(answer.split(", ")) == 2


def test_exported_vectors_load_in_gensim_with_the_same_neighbours(run, tmp_path, capsys):
    gensim_models = pytest.importorskip("gensim.models")
    out = tmp_path / "vectors.txt"
    assert main(["export", str(run), "--out", str(out)]) == 0
    assert not list(tmp_path.glob("*.tmp*"))
    loaded = gensim_models.KeyedVectors.load_word2vec_format(str(out), binary=False)
    import rnnkit

    ours = rnnkit.load(run)
    assert list(loaded.index_to_key) == ours.words
    for word in ("king", "cat", "man"):
        query = ours.ids([word])
        _, found = wordsim.nearest(ours.vectors, ours.vectors[query], 5, query[:, None])
        assert [w for w, _ in loaded.most_similar(word, topn=5)] == [ours.words[i] for i in found[0]]


@pytest.mark.parametrize(
    "method, extra",
    [("cbow", []), ("ngram", ["--hidden-size", "8"]), ("ngram", ["--hidden-size", "8", "--adaptive-cutoffs", "8,16"])],
)
def test_cbow_and_ngram_train_and_evaluate(method, extra, tmp_path, capsys):
    path = tmp_path / method  # --hidden-size is the ngram model's only (a contradictory option is refused)
    assert (
        main(
            [
                "train",
                "embeddings",
                "--method",
                method,
                *extra,
                "--corpus",
                str(FIXTURES / "corpus.txt"),
                "--min-count",
                "1",
                "--dim",
                "8",
                "--max-minutes",
                "0",
                "--max-steps",
                "4",
                "--eval-every",
                "2",
                "--batch-words",
                "64",
                "--run-dir",
                str(path),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["eval", str(path), "--pairs", str(FIXTURES / "pairs.tsv")]) == 0
    assert capsys.readouterr().out.startswith(f"{method} vectors of 29 words\npairs: Spearman")


def test_adaptive_cutoffs_beyond_the_vocabulary_are_an_error(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "embeddings",
                "--method",
                "ngram",
                "--adaptive-cutoffs",
                "100",
                "--corpus",
                str(FIXTURES / "corpus.txt"),
                "--min-count",
                "1",
                "--max-steps",
                "2",
                "--run-dir",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 2
    )
    assert (
        "adaptive_cutoffs: expected increasing values between 0 and the vocabulary size 29" in capsys.readouterr().err
    )


def test_a_corpus_smaller_than_the_window_is_an_error(tmp_path, capsys):
    corpus = write(tmp_path, "one two three\n", "small.txt")
    assert (
        main(
            [
                "train",
                "embeddings",
                "--corpus",
                str(corpus),
                "--min-count",
                "1",
                "--window",
                "5",
                "--max-steps",
                "2",
                "--run-dir",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "fewer than --window 5 needs" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--method", "glove"], "method: expected one of skipgram, cbow, ngram, got 'glove'"),
        (["--method", "ngram", "--output", "hierarchical"], "applies to skipgram and cbow"),
        (["--adaptive-cutoffs", "100"], "an adaptive softmax applies to the ngram method"),
        (["--output", "full"], "output: expected one of negative, hierarchical"),
    ],
)
def test_bad_method_options_are_named_before_the_corpus_is_read(options, message, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "embeddings",
                "--corpus",
                str(tmp_path / "missing"),
                *options,
                "--max-steps",
                "2",
                "--run-dir",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 2
    )
    assert message in capsys.readouterr().err


def test_align_vectors_finds_words_and_names_both_sizes_on_a_width_mismatch(tmp_path):
    from rnnkit.data.vectors import align_vectors

    vectors = read_vectors(write(tmp_path, "2 2\nThe 1 2\ncat 3 4\n"))
    matrix, found = align_vectors(vectors, ["the", "dog", "cat"], 2)
    assert found.tolist() == [True, False, True]
    assert matrix.tolist() == [[1, 2], [0, 0], [3, 4]]
    with pytest.raises(ValueError, match="vectors of dimension 2, but the model's embedding size is 400"):
        align_vectors(vectors, ["the"], 400)


def test_tsne_without_scikit_learn_is_a_one_line_error(run, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    capsys.readouterr()
    assert main(["plot-embeddings", str(run), "--top", "10", "--tsne", "--out-dir", str(run.parent)]) == 2
    assert "--tsne needs scikit-learn: pip install scikit-learn" in capsys.readouterr().err
    assert (run.parent / "embeddings_pca.png").stat().st_size > 1000


@pytest.mark.parametrize("score", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_eval_refuses_a_pair_score_that_is_not_finite(run, tmp_path, capsys, score):
    """Issue 28: NaN or inf scores were accepted and changed Spearman's rho."""
    pairs = write(tmp_path, (FIXTURES / "pairs.tsv").read_text() + f"man\tking\t{score}\n", "scores.tsv")
    line = len(pairs.read_text().splitlines())
    capsys.readouterr()
    assert main(["eval", str(run), "--pairs", str(pairs)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        f"rnnkit eval: error: {pairs}:{line}: score {score!r} of 'man' and "
        "'king' is not a finite number; expected 'word1 word2 score'\n"
    )


def test_vectors_pairs_and_word_lists_that_are_folders_or_fifos_are_named(run, tmp_path, capsys):
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    capsys.readouterr()
    for path, what in ((tmp_path, "is a directory"), (fifo, "not a regular file (a FIFO (named pipe))")):
        for argv in (
            ["eval", str(run), "--pairs", str(path)],
            ["eval", str(run), "--analogies", str(path)],
            ["plot-embeddings", str(run), "--words", str(path)],
        ):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"{path}: {what}; expected a text file" in err, (argv, err)
        with pytest.raises(ValueError, match=f"{what.split(' (')[0]}"):
            read_vectors(path)
