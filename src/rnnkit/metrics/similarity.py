"""Intrinsic evaluation of word vectors: similarity (Spearman) and analogies (3CosAdd).

Lookups are case-insensitive, as gensim's evaluators: a test word matches the
most frequent vocabulary word equal to it lowercased (vocabularies are sorted by
frequency). Pairs and questions with a word outside the vocabulary are skipped
and counted.

Choosing settings and quoting figures on the same set overstates a result, so
:func:`halves` splits each set once, by a fixed seed, into a tuning half (choose on
it) and a report half (quote figures from it); benchmarks/scripts/embeddings_vs_gensim.py
uses them.

Shape legend: V vocabulary, D dimension, Q questions.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar

import torch
from torch import Tensor

from rnnkit.data.text import read_text

#: the test sets shipped in the gensim wheel (gensim.test.utils.datapath)
STANDARD_PAIRS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
STANDARD_ANALOGIES = {"google": "questions-words.txt"}
#: the seed of the fixed tuning/report split (:func:`halves`); changing it changes every
#: published tuning/report figure
SPLIT_SEED = 353
HALVES = ("tune", "report")

Item = TypeVar("Item")


def gensim_datapath(name: str) -> str:
    """Path of a test file shipped with gensim; ValueError naming ``pip install gensim``."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        raise ValueError(
            f"the standard test set {name} ships with gensim: pip install gensim (or pass --pairs/--analogies FILE)"
        ) from None
    return datapath(name)


def read_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """``word1 word2 score`` rows (tab or space separated; ``#`` lines are comments)."""
    pairs = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        try:
            pair = (fields[0].strip(), fields[1].strip(), float(fields[2]))
        except (IndexError, ValueError):
            raise ValueError(f"{path}:{number}: expected 'word1 word2 score', got {line[:60]!r}") from None
        if not math.isfinite(pair[2]):  # a NaN or inf score would change every rank (Spearman)
            raise ValueError(
                f"{path}:{number}: score {fields[2].strip()!r} of {pair[0]!r} and {pair[1]!r} is not "
                "a finite number; expected 'word1 word2 score'"
            )
        pairs.append(pair)
    if not pairs:
        raise ValueError(f"{path}: no word pairs")
    return pairs


def read_analogies(path: str | Path) -> list[tuple[str, str, str, str, str]]:
    """``(section, a, b, c, d)`` from Google's format: ``: section`` lines, then ``a b c d``."""
    section, questions = "", []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise ValueError(f"{path}:{number}: expected four words 'a b c d', got {line[:60]!r}")
        questions.append((section, *fields))
    if not questions:
        raise ValueError(f"{path}: no analogy questions")
    return questions


def pair_key(pair: tuple) -> str:
    """A pair's identity for the split: its two words lowercased, in sorted order (a pair
    listed twice, or as (b, a), is the same pair)."""
    return "\t".join(sorted((pair[0].lower(), pair[1].lower())))


def question_key(question: tuple) -> str:
    """An analogy question's identity for the split: its four words lowercased."""
    return " ".join(w.lower() for w in question[1:])


def halves(
    items: Sequence[Item], key: Callable[[Item], str] = pair_key, seed: int = SPLIT_SEED
) -> dict[str, list[Item]]:
    """``{"tune": [...], "report": [...]}``: a fixed split of ``items`` by their keys.

    Distinct keys are ordered by sha256 of ``"{seed}:{key}"``; the first half of them
    (``ceil(K / 2)``) is the tuning half. Items with the same key fall in the same half, each
    half keeps the file's order, and the split does not depend on that order (a reordered
    copy of the file splits the same way)."""
    keys = sorted({key(item) for item in items}, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    tune = set(keys[: (len(keys) + 1) // 2])
    return {
        "tune": [item for item in items if key(item) in tune],
        "report": [item for item in items if key(item) not in tune],
    }


def case_index(words: Sequence[str]) -> dict[str, int]:
    """Lowercased word -> id of its first (most frequent) variant."""
    index: dict[str, int] = {}
    for i, word in enumerate(words):
        index.setdefault(word.lower(), i)
    return index


def rank(values: Tensor) -> Tensor:
    """Ranks (1-based) of ``values`` (n,), ties given their mean rank."""
    order = values.argsort(stable=True)
    ranks = torch.empty(len(values), dtype=torch.float64)
    ranks[order] = torch.arange(1, len(values) + 1, dtype=torch.float64)
    unique, inverse = values.unique(return_inverse=True)
    sums = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, ranks)
    counts = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, torch.ones_like(ranks))
    return (sums / counts)[inverse]


def spearman(x: Tensor, y: Tensor) -> float:
    """Spearman's rho: Pearson's correlation of the (tie-averaged) ranks; nan under 2 points."""
    if len(x) < 2:
        return float("nan")
    a, b = rank(x.double()), rank(y.double())
    a, b = a - a.mean(), b - b.mean()
    scale = (a.norm() * b.norm()).item()
    return float((a @ b).item() / scale) if scale > 0 else float("nan")


def unit_rows(vectors: Tensor) -> Tensor:
    """Rows scaled to length 1 (V, D); zero rows stay zero."""
    return vectors / vectors.norm(dim=1, keepdim=True).clamp(min=1e-12)


def pair_cosines(vectors: Tensor, words: Sequence[str], pairs: list) -> tuple[Tensor, Tensor, int]:
    """(cosines (P,), human scores (P,) float64, pairs skipped as out of vocabulary) over
    the ``pairs`` whose two words are in the vocabulary, in their order."""
    index, unit = case_index(words), unit_rows(vectors.float())
    found = [(index[a.lower()], index[b.lower()], s) for a, b, s in pairs if a.lower() in index and b.lower() in index]
    if not found:
        return torch.zeros(0), torch.zeros(0, dtype=torch.float64), len(pairs)
    left, right, human = (torch.tensor(column) for column in zip(*found))
    return (unit[left] * unit[right]).sum(1), human.double(), len(pairs) - len(found)


def similarity(vectors: Tensor, words: Sequence[str], pairs: list) -> dict:
    """Spearman between cosine similarity and the human scores of ``pairs``."""
    cosine, human, oov = pair_cosines(vectors, words, pairs)
    if not len(cosine):
        return {"spearman": None, "pairs": 0, "oov": oov}
    rho = spearman(cosine, human)
    return {"spearman": rho if rho == rho else None, "pairs": len(cosine), "oov": oov}


def analogy_hits(vectors: Tensor, words: Sequence[str], questions: list, chunk: int = 512) -> tuple[Tensor, int]:
    """(hits (Q,) bool, questions skipped as out of vocabulary): 3CosAdd (Mikolov et al.
    2013) over the questions whose four words are in the vocabulary: the answer to
    ``a:b :: c:?`` is the word nearest ``b - a + c`` by cosine among all but the three
    question words."""
    index, unit = case_index(words), unit_rows(vectors.float())
    known = [[index[w.lower()] for w in q[1:]] for q in questions if all(w.lower() in index for w in q[1:])]
    hits = []
    for start in range(0, len(known), chunk):
        ids = torch.tensor(known[start : start + chunk])  # (Q, 4)
        query = unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]  # (Q, D)
        scores = query @ unit.T  # (Q, V)
        scores.scatter_(1, ids[:, :3], float("-inf"))
        hits.append(scores.argmax(1) == ids[:, 3])
    return (torch.cat(hits) if hits else torch.zeros(0, dtype=torch.bool)), len(questions) - len(known)


def analogies(vectors: Tensor, words: Sequence[str], questions: list, chunk: int = 512) -> dict:
    """3CosAdd accuracy (see :func:`analogy_hits`)."""
    hits, oov = analogy_hits(vectors, words, questions, chunk)
    correct = int(hits.sum())
    return {
        "accuracy": correct / len(hits) if len(hits) else None,
        "correct": correct,
        "questions": len(hits),
        "oov": oov,
    }


def nearest(vectors: Tensor, query: Tensor, top: int, exclude: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """(cosines (Q, top), ids (Q, top)) of the words nearest each query vector (Q, D);
    ``exclude`` (Q, E) ids are never returned."""
    unit = unit_rows(vectors.float())
    scores = unit_rows(query.float()) @ unit.T
    if exclude is not None:
        scores.scatter_(1, exclude, float("-inf"))
    return scores.topk(min(top, scores.shape[1] - (exclude.shape[1] if exclude is not None else 0)), dim=1)


def evaluate_sets(vectors: Tensor, words: Sequence[str], pairs: dict[str, str], analogy_sets: dict[str, str]) -> dict:
    """Every named pair file's similarity and every analogy file's accuracy: ``{name: figures}``."""
    result = {name: similarity(vectors, words, read_pairs(path)) for name, path in pairs.items()}
    result.update({name: analogies(vectors, words, read_analogies(path)) for name, path in analogy_sets.items()})
    return result
