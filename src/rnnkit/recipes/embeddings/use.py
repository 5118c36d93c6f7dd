"""The use commands of trained word vectors: neighbors, analogy, plot-embeddings, export.

Each prints its result; unknown query words are a one-line error naming them (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import torch

from rnnkit.data.text import read_text
from rnnkit.data.vectors import format_word2vec
from rnnkit.files import atomic_write_text
from rnnkit.metrics import similarity as wordsim
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.ranges import TOP
from rnnkit.train.recipe import Command, Serving
from rnnkit.train.rundir import refuse_run_file

PCA_PNG, TSNE_PNG, EXPORTED = "embeddings_pca.png", "embeddings_tsne.png", "vectors.word2vec.txt"
OUTPUTS = (PCA_PNG, TSNE_PNG, EXPORTED)


def _shown(model, cosines, ids) -> str:
    return ", ".join(f"{model.words[i]} {c:.3f}" for c, i in zip(cosines.tolist(), ids.tolist()))


def _nearest(model, values):
    """(cosines, ids) of the ``top`` words nearest each query word (the word itself left out)."""
    ids = model.ids(values["words"])
    return wordsim.nearest(model.vectors, model.vectors[ids], values["top"], ids[:, None])


def _answers(model, values):
    """(cosines, ids) (1, top) of the words nearest ``b - a + c`` (3CosAdd on unit vectors), question
    words left out."""
    ids = model.ids([values["a"], values["b"], values["c"]])
    unit = wordsim.unit_rows(model.vectors)
    query = (unit[ids[1]] - unit[ids[0]] + unit[ids[2]])[None, :]
    return wordsim.nearest(model.vectors, query, values["top"], ids[None, :])


def neighbors(model, values) -> int:
    """Nearest words by cosine to each query word."""
    for word, row_c, row_i in zip(values.words, *_nearest(model, values)):
        print(f"{word}: {_shown(model, row_c, row_i)}")
    return 0


def analogy(model, values) -> int:
    """``a b c``: the words nearest ``b - a + c``."""
    cosines, found = _answers(model, values)
    print(f"{values.a} : {values.b} :: {values.c} : {_shown(model, cosines[0], found[0])}")
    return 0


def _plot_words(model, values) -> list[str]:
    if values.words:
        listed = [w for w in read_text(values.words).split()]
        model.ids(listed)  # unknown words: the one-line error
        return listed
    return model.words[: values.top]


def project_2d(vectors: torch.Tensor) -> torch.Tensor:
    """PCA: the centred rows (n, D) on their first two principal axes (n, 2)."""
    centred = vectors - vectors.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    return centred @ v[:2].T


def _draw(points: torch.Tensor, words: list[str], title: str, out: Path) -> Path:
    from rnnkit.train.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(12, 12))
    ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.5)
    for (x, y), word in zip(points.tolist(), words):
        ax.annotate(word, (x, y), fontsize=7)
    ax.set_title(title)
    return save_figure(fig, out)


def plot_embeddings(model, values) -> int:
    """A 2-D PCA map of the words (and t-SNE with --tsne where scikit-learn is installed)."""
    words = _plot_words(model, values)
    if len(words) < 3:
        raise ValueError(f"plot-embeddings: need at least 3 words, got {len(words)}")
    vectors = model.vectors[model.ids(words)]
    folder = Path(values.out_dir) if values.out_dir else model.run_dir
    print(_draw(project_2d(vectors), words, f"PCA of {len(words)} word vectors", folder / PCA_PNG))
    if values.tsne:
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise ValueError("--tsne needs scikit-learn: pip install scikit-learn") from None
        points = TSNE(perplexity=min(30.0, len(words) - 1), random_state=0).fit_transform(vectors.numpy())
        print(_draw(torch.as_tensor(points), words, f"t-SNE of {len(words)} word vectors", folder / TSNE_PNG))
    return 0


def export(model, values) -> int:
    """The vectors in word2vec's text format, written atomically."""
    out = Path(values.out) if values.out else model.run_dir / EXPORTED
    refuse_run_file(out, "--out", replaceable=(EXPORTED,))  # never a run's own file
    atomic_write_text(out, format_word2vec(model.words, model.vectors))
    print(f"wrote {len(model.words):,} vectors of dimension {model.vectors.shape[1]} to {out}")
    return 0


def _cosines(model, cosines, ids) -> list[dict]:
    return [{"word": model.words[i], "cosine": c} for c, i in zip(cosines.tolist(), ids.tolist())]


def serve_neighbors(model, values) -> dict:
    """``POST /neighbors``: each word's nearest words with their cosines, as ``neighbors`` prints them."""
    return {
        "neighbors": [
            {"word": word, "neighbors": _cosines(model, c, i)}
            for word, c, i in zip(values["words"], *_nearest(model, values))
        ]
    }


def serve_analogy(model, values) -> dict:
    """``POST /analogy``: the words nearest ``b - a + c`` with their cosines, as ``analogy`` prints them."""
    cosines, found = _answers(model, values)
    return {"answers": _cosines(model, cosines[0], found[0])}


def _word(name: str, help: str) -> Param:
    """One word of an analogy: an argument on the command line, a field of a request."""
    return Param(name, str, REQUIRED, help, positional=True, cli={"help": ""})


COMMANDS = (
    Command(
        "neighbors",
        "nearest words by cosine",
        (
            Param("words", "strings", REQUIRED, "query words", positional=True, size=(1, 256)),
            TOP.replace(default=10, help="neighbours per word"),
        ),
        neighbors,
        # batched: each word's neighbours are one row of the same matrix product
        serve=Serving(serve_neighbors, example={"words": ["king"], "top": 5}, batch="words", output="neighbors"),
    ),
    Command(
        "analogy",
        "a : b :: c : ? (3CosAdd), e.g. man king woman",
        (
            _word("a", "a in a : b :: c : ?"),
            _word("b", "b"),
            _word("c", "c"),
            TOP.replace(default=5, help="answers shown"),
        ),
        analogy,
        # not batched: one query vector per request; the call is one matrix-vector product
        serve=Serving(serve_analogy, example={"a": "man", "b": "king", "c": "woman"}),
    ),
    Command(
        "plot-embeddings",
        "2-D PCA map of word vectors with their words as labels",
        (
            Param("words", str, None, "words to draw (whitespace-separated)", metavar="FILE"),
            TOP.replace(default=300, high=10_000, help="else the most frequent words"),
            Param("tsne", bool, False, "also a t-SNE map (needs scikit-learn)"),
            Param("out_dir", str, None, "folder of the PNGs (default: the run directory)"),
        ),
        plot_embeddings,
    ),
    Command(
        "export",
        "write the vectors to a file",
        (
            Param("format", str, "word2vec", "word2vec text format", choices=("word2vec",)),
            Param("out", str, None, f"file (default RUN_DIR/{EXPORTED})"),
        ),
        export,
    ),
)
