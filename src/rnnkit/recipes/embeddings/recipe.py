"""Recipe: word vectors (skip-gram or CBOW with negative sampling, or the tutorial's N-gram LM).

Train: ``rnnkit train embeddings --corpus wikitext-2 --method skipgram --max-minutes 5``
Evaluate: ``rnnkit eval RUN`` (WordSim-353, SimLex-999 Spearman; Google analogies, 3CosAdd)
Use: ``rnnkit neighbors RUN king``, ``rnnkit analogy RUN man king woman``,
``rnnkit plot-embeddings RUN --top 300``, ``rnnkit export RUN --out vectors.txt``
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import torch

from rnnkit.bounds import MAX_COUNT, only_with
from rnnkit.metrics import similarity as wordsim
from rnnkit.recipes.embeddings import skipgram as sg
from rnnkit.recipes.embeddings import use
from rnnkit.recipes.embeddings.model import EmbeddingModelConfig, build_embedding_model
from rnnkit.recipes.embeddings.objective import WordRate, WordVectorObjective
from rnnkit.train.config import PATH, bound
from rnnkit.train.limits import check_bytes
from rnnkit.train.meta import VOCAB
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke, TrainedModel


@dataclass
class EmbeddingDataConfig:
    """Corpus and example drawing.

    Attributes:
        corpus: ``wikitext-2``, ``ptb``, a folder or a text file (see
            :func:`rnnkit.recipes.embeddings.skipgram.corpus_tokens`).
        data_dir: where ``ptb/`` and ``wikitext-2/`` live.
        min_count: words seen fewer times are dropped (word2vec's ``-min-count``).
        sample: subsampling threshold t (word2vec.c's formula; 0 = off).
        window: largest window; each centre draws its own in 1..window.
        negatives: negative samples per example, from unigram^0.75.
        batch_words: centre words per batch.
    """

    corpus: str = field(default="wikitext-2", metadata=PATH)
    data_dir: str = field(default="", metadata=PATH)
    min_count: int = field(default=5, metadata=bound(1, MAX_COUNT))
    sample: float = field(default=1e-3, metadata={**bound(0, 1), **only_with("model.method", "skipgram", "cbow")})
    window: int = field(default=5, metadata={**bound(1, 100), **only_with("model.method", "skipgram", "cbow")})
    negatives: int = field(default=10, metadata={**bound(1, 1000), **only_with("model.output", "negative")})
    batch_words: int = field(default=4096, metadata=bound(1, 10**6))


def defaults():
    return {
        "data": EmbeddingDataConfig(),
        "model": EmbeddingModelConfig(),
        # measured on WikiText-2 (docs/recipes/embeddings.md): Adam on the mean loss beat word2vec's
        # SGD at 0.025 per pair, which needs batches of ~1k words (larger ones diverge: a
        # frequent word's summed update overshoots). Adam 0.02, 4,096 words and 10 negatives
        # (data) are the best of benchmarks/scripts/embeddings_vs_gensim.py's 8 settings, chosen on the
        # tuning halves of WordSim-353 and SimLex-999 only (issue 27)
        "train": TrainConfig(
            optimizer="adam",
            lr=0.02,
            grad_clip=0.0,
            schedule="linear",
            final_lr_ratio=1e-3,
            max_minutes=5.0,
            anneal_by_time=True,
            eval_every=500,
            log_every=50,
            precision="fp32",
        ),
    }


PRESETS = {"cpu-quick": {}}
HELP = {
    "corpus": "wikitext-2, ptb, a folder (train.txt/valid.txt or *.txt) or a text file",
    "data_dir": "folder holding ptb/ and wikitext-2/ (default $RNNKIT_DATA or ../shared/data)",
    "method": "skipgram or cbow (negative sampling) or ngram (the tutorial's LM, full softmax)",
    "sample": "subsampling threshold t: keep = (sqrt(f/t) + 1) t/f (word2vec.c)",
    "output": "negative (sampling, --negatives) or hierarchical (softmax over a Huffman tree)",
    "context": "words before the target (ngram)",
    "hidden_size": "hidden layer (ngram)",
    "adaptive_cutoffs": "ngram: adaptive softmax cluster bounds, e.g. 2000,10000 (default: full softmax)",
    "lr": "learning rate; with --optimizer sgd it is per example as in word2vec.c (0.025 "
    "skip-gram, 0.05 CBOW; use --batch-words 1024)",
}


def _digest(words: list[str]) -> str:
    return hashlib.sha256("\n".join(words).encode()).hexdigest()


def build(sections, resume_meta: Optional[dict]) -> Built:
    data: EmbeddingDataConfig = sections["data"]
    method = sections["model"].method
    # bad options first, before the corpus is read (cutoffs need the vocabulary: checked below)
    build_embedding_model(2, replace(sections["model"], dim=1, hidden_size=1, adaptive_cutoffs=""))
    train_tokens, valid_tokens = sg.corpus_tokens(data.corpus, data.data_dir or None)
    words, counts = sg.count_vocabulary(train_tokens, data.min_count)
    dim = sections["model"].dim  # input and output tables, their gradients and Adam's moments
    check_bytes(
        8 * 4 * len(words) * dim,
        "the word vectors with their gradients and Adam's state",
        [f"{len(words):,} words (--min-count {data.min_count})", f"--dim {dim}"],
    )
    if resume_meta is not None and resume_meta.get("vocab_sha256") != _digest(words):
        raise ValueError(
            f"corpus {data.corpus!r}: its vocabulary differs from the checkpoint's; resume needs the same corpus"
        )
    stream = sg.encode_known(train_tokens, words)
    need = sections["model"].context if method == "ngram" else data.window
    if len(stream) <= need:
        what = f"--context {need}" if method == "ngram" else f"--window {need}"
        raise ValueError(
            f"corpus {data.corpus!r}: {len(stream):,} tokens of known words, fewer than {what} needs (more than {need})"
        )
    print(
        f"embeddings: {len(words):,} words (min count {data.min_count}), {len(stream):,} training tokens",
        file=sys.stderr,
    )
    objective = WordVectorObjective(
        stream,
        sg.encode_known(valid_tokens, words),
        counts,
        method,
        data.window,
        sections["model"].context,
        data.negatives,
        data.sample,
        data.batch_words,
        sections["train"].seed,
        sum_gradient=sections["train"].optimizer in ("sgd", "ntasgd"),
        hierarchical=sections["model"].output == "hierarchical",
    )
    meta = {
        "words": words,
        "counts": [int(c) for c in counts.tolist()],
        "vocab_sha256": _digest(words),
        "corpus": data.corpus,
    }
    return Built(build_embedding_model(len(words), sections["model"]), objective, meta, (WordRate(),))


class WordEmbeddings(TrainedModel):
    """Trained word vectors: similarity and analogy scores, neighbours, export.

    Attributes:
        words: the vocabulary, most frequent first.
        vectors: (V, D) the input vectors.
    """

    config_defaults = staticmethod(defaults)

    meta_fields = {"words": VOCAB}

    @classmethod
    def build_model(cls, sections, meta: dict):
        return build_embedding_model(len(meta["words"]), sections["model"])

    def __init__(self, model, sections, meta: dict, path: Optional[Path] = None) -> None:
        super().__init__(model, sections, meta, path)
        self.words = list(meta["words"])
        self.index = {w: i for i, w in enumerate(self.words)}
        self.vectors = model.vectors.detach().float().cpu()

    def ids(self, words: list[str]) -> torch.Tensor:
        """Ids of ``words`` (exact, else case-insensitive); ValueError naming every unknown one."""
        lower = wordsim.case_index(self.words)
        found = [self.index.get(w, lower.get(w.lower())) for w in words]
        unknown = [w for w, i in zip(words, found) if i is None]
        if unknown:
            raise ValueError(
                f"unknown word{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                f"not in the {len(self.words):,}-word vocabulary"
            )
        return torch.tensor(found)

    def evaluate(self, pairs: Optional[list] = None, analogies: Optional[list] = None) -> dict:
        """Figures on WordSim-353, SimLex-999 and the Google analogies (from gensim), or on the
        given ``pairs`` / ``analogies`` files only."""
        if pairs or analogies:
            pair_sets = {Path(p).stem: p for p in pairs or []}
            analogy_sets = {Path(p).stem: p for p in analogies or []}
        else:
            pair_sets = {k: wordsim.gensim_datapath(v) for k, v in wordsim.STANDARD_PAIRS.items()}
            analogy_sets = {k: wordsim.gensim_datapath(v) for k, v in wordsim.STANDARD_ANALOGIES.items()}
        result = wordsim.evaluate_sets(self.vectors, self.words, pair_sets, analogy_sets)
        return {"method": self.sections["model"].method, "words": len(self.words), "sets": result}

    def describe(self, result: dict) -> str:
        lines = [f"{result['method']} vectors of {result['words']:,} words"]
        for name, figures in result["sets"].items():
            if "spearman" in figures:
                rho = "n/a" if figures["spearman"] is None else f"{figures['spearman']:.4f}"
                lines.append(
                    f"{name}: Spearman {rho} over {figures['pairs']:,} pairs "
                    f"({figures['oov']:,} skipped as out of vocabulary)"
                )
            else:
                acc = "n/a" if figures["accuracy"] is None else f"{100 * figures['accuracy']:.2f}%"
                lines.append(
                    f"{name}: analogy accuracy {acc} ({figures['correct']:,} of "
                    f"{figures['questions']:,}; {figures['oov']:,} skipped as out of vocabulary)"
                )
        return "\n".join(lines)


SMOKE_SETS = ("--pairs", "{fixtures}/embeddings/pairs.tsv", "--analogies", "{fixtures}/embeddings/analogies.txt")

RECIPE = Recipe(
    name="embeddings",
    summary="word vectors: skip-gram, CBOW (negative sampling) or the N-gram LM",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=WordEmbeddings,
    commands=use.COMMANDS,
    eval_params=(
        Param("pairs", "strings", None, "word-pair similarity file (word1 word2 score); repeatable", metavar="FILE"),
        Param("analogies", "strings", None, "analogy file (': section', then 'a b c d')", metavar="FILE"),
    ),
    help=HELP,
    outputs=use.OUTPUTS,
    smoke=Smoke(
        train=(
            "--corpus",
            "{fixtures}/embeddings/corpus.txt",
            "--min-count",
            "1",
            "--dim",
            "8",
            "--window",
            "2",
            "--batch-words",
            "32",
            "--max-minutes",
            "0",
            "--max-steps",
            "6",
            "--eval-every",
            "3",
        ),
        uses={
            "neighbors": ("king", "--top", "3"),
            "analogy": ("man", "king", "woman"),
            "plot-embeddings": ("--top", "20"),
            "export": ("--format", "word2vec"),
            "eval": SMOKE_SETS,
        },
        expect={"neighbors": r"^king:", "eval": r"pairs: Spearman"},
    ),
)
