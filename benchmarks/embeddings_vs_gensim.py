"""rnnkit's word vectors beside gensim's word2vec, at equal wall time, on the same tokens.

For each method (skip-gram vs ``Word2Vec(sg=1)``, CBOW vs ``sg=0``): gensim trains
``--gensim-epochs`` passes with ``--threads`` workers and its time T is measured
(vocabulary build + training); then ``rnnkit train embeddings`` runs in this
process with ``--max-minutes T/60`` (the learning rate decays over that time) and
the same vocabulary cut-off, dimension, window, negatives and subsampling. Both
sides read the same whitespace tokens (gensim as 10,000-token sentences of the
training stream, which rnnkit reads unbroken) and are scored by the same code
(rnnkit.train.wordsim: WordSim-353, SimLex-999 Spearman, Google analogies 3CosAdd,
case-insensitive); gensim's own ``evaluate_word_pairs`` is reported beside as a
check of the scorer.

    python benchmarks/embeddings_vs_gensim.py --threads 2                # WikiText-2 train
    python benchmarks/embeddings_vs_gensim.py --tokens 200000 --threads 1  # a quick slice

Writes a JSON file (``--out``) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from rnnkit.cli import main as rnnkit_main
from rnnkit.data import skipgram as sg
from rnnkit.train import wordsim
from rnnkit.train.rundir import read_metrics


def standard_sets() -> tuple[dict, dict]:
    pairs = {k: wordsim.gensim_datapath(v) for k, v in wordsim.STANDARD_PAIRS.items()}
    return pairs, {k: wordsim.gensim_datapath(v) for k, v in wordsim.STANDARD_ANALOGIES.items()}


def figures(vectors: torch.Tensor, words: list[str]) -> dict:
    pairs, analogies = standard_sets()
    found = wordsim.evaluate_sets(vectors, words, pairs, analogies)
    return {"wordsim353": found["wordsim353"]["spearman"], "simlex999": found["simlex999"]["spearman"],
            "analogy": found["google"]["accuracy"], "detail": found}


def run_gensim(tokens: list[str], method: str, args) -> dict:
    from gensim.models import Word2Vec
    sentences = [tokens[i:i + 10_000] for i in range(0, len(tokens), 10_000)]
    start = time.perf_counter()
    model = Word2Vec(vector_size=args.dim, window=args.window, min_count=args.min_count,
                     sg=1 if method == "skipgram" else 0, negative=args.negatives, sample=args.sample,
                     workers=args.threads, seed=args.seed)
    model.build_vocab(sentences)
    effective, raw = model.train(sentences, total_examples=len(sentences), epochs=args.gensim_epochs)
    seconds = time.perf_counter() - start
    words = list(model.wv.index_to_key)
    result = figures(torch.tensor(model.wv.vectors), words)
    own = model.wv.evaluate_word_pairs(wordsim.gensim_datapath("wordsim353.tsv"))[1][0]
    return {"side": "gensim", "method": method, "seconds": seconds, "epochs": args.gensim_epochs,
            "words_per_s": effective / seconds, "raw_words_per_s": raw / seconds, "vocab": len(words),
            "gensim_own_wordsim353": own, **result}


def run_rnnkit(corpus: str, method: str, seconds: float, args, run_dir: Path) -> dict:
    import rnnkit
    command = ["train", "embeddings", "--corpus", corpus, "--method", method, "--dim", str(args.dim),
               "--window", str(args.window), "--min-count", str(args.min_count),
               "--negatives", str(args.negatives), "--sample", str(args.sample),
               "--max-minutes", f"{seconds / 60:.6f}", "--eval-every", "1000000", "--log-every", "5",
               "--threads", str(args.threads), "--seed", str(args.seed), "--run-dir", str(run_dir),
               "--quiet", *args.rnnkit_options.split()]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    start = time.perf_counter()
    assert rnnkit_main(command) == 0, command
    wall = time.perf_counter() - start
    rows = [r for r in read_metrics(run_dir) if r.get("split") == "train"]
    model = rnnkit.load(run_dir)
    return {"side": "rnnkit", "method": method, "seconds": wall, "train_seconds": rows[-1]["elapsed"] if rows else None,
            "epochs": _passes(run_dir),
            "words_per_s": rows[-1]["tokens_per_s"] if rows else None, "vocab": len(model.words),
            "command": "rnnkit " + " ".join(command), **figures(model.vectors, model.words)}


def _passes(run_dir: Path) -> float:
    """Passes over the training stream the rnnkit run made (whole passes + the share of the last)."""
    from rnnkit.train import checkpoint as ckpt
    state = ckpt.load(run_dir / ckpt.LAST).meta.get("objective") or {}
    return state.get("epoch")


def prepare_corpus(args, folder: Path) -> tuple[str, list[str]]:
    """(the corpus argument for rnnkit, its training tokens for gensim)."""
    train, valid = sg.corpus_tokens(args.corpus, args.data_dir or None)
    if not args.tokens:
        return args.corpus, train
    train = train[:args.tokens]
    (folder / "train.txt").write_text(" ".join(train) + "\n")
    (folder / "valid.txt").write_text(" ".join(valid[:20_000]) + "\n")
    return str(folder), train


def table(rows: list[dict]) -> str:
    def show(value, percent=False):
        return "n/a" if value is None else (f"{100 * value:.2f}%" if percent else f"{value:.4f}")
    lines = ["| method | side | wall s | words/s | WordSim-353 | SimLex-999 | analogies |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['side']} | {r['seconds']:.1f} | {r['words_per_s'] or 0:,.0f} | "
                     f"{show(r['wordsim353'])} | {show(r['simlex999'])} | {show(r['analogy'], True)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="wikitext-2")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--tokens", type=int, default=0, help="only the first N training tokens (0 = all)")
    parser.add_argument("--methods", default="skipgram,cbow")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gensim-epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rnnkit-options", default="", help="extra rnnkit train options, e.g. '--lr 0.02'")
    parser.add_argument("--out", default="benchmarks/embeddings_vs_gensim.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus, tokens = prepare_corpus(args, Path(tmp))
        for method in args.methods.split(","):
            theirs = run_gensim(tokens, method, args)
            ours = run_rnnkit(corpus, method, theirs["seconds"], args, Path(tmp) / f"run-{method}")
            rows += [theirs, ours]
            print(table(rows[-2:]), flush=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "tokens": len(tokens), "rows": rows}, indent=1) + "\n")
    print(table(rows))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
