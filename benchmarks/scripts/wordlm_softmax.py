"""What makes a word-level LM training step cheaper on a CPU: full vs adaptive softmax, width, batch.

Times whole SGD training steps (forward, loss, backward, clip, update) of
``WordLanguageModel`` on real PTB windows (the adaptive softmax's cost
depends on how often targets fall in the tail, so random ids would mislead).
Each row runs a full-softmax model and its adaptive twin interleaved, one
step each in turn, and reports the median tokens/s of both and their ratio.

Usage: ``python benchmarks/scripts/wordlm_softmax.py [--data-dir ../shared/data] [--threads 2] [--steps 12]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnkit.data.corpus import load_corpus
from rnnkit.recipes.wordlm.model import WordLanguageModel, WordLMConfig

# (embedding = hidden, layers, batch) rows; every model is tied, seq length 35
ROWS = [(256, 1, 32), (256, 1, 20), (400, 1, 32), (512, 1, 32), (650, 1, 32), (400, 2, 32)]


def build(width: int, layers: int, cutoffs: str, vocab: int) -> tuple[WordLanguageModel, torch.optim.Optimizer]:
    torch.manual_seed(0)
    config = WordLMConfig(
        embedding_dim=width,
        hidden_size=width,
        num_layers=layers,
        dropout=0.3,
        dropout_input=0.3,
        dropout_hidden=0.3,
        dropout_embedding=0.0,
        weight_dropout=0.0,
        ar_alpha=0.0,
        tar_beta=0.0,
        adaptive_cutoffs=cutoffs,
    )
    model = WordLanguageModel(vocab, config)
    return model, torch.optim.SGD(model.parameters(), lr=1.0)


def timed_step(model, optimizer, inputs, targets) -> float:
    start = time.perf_counter()
    loss, _ = model.loss(inputs, targets)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--cutoffs", default="2000,5000")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = load_corpus("ptb", args.data_dir, splits=("train",))
    ids, vocab = corpus.ids["train"], len(corpus.vocab)
    print(
        f"PTB, vocabulary {vocab:,}, {args.threads} threads, adaptive cutoffs {args.cutoffs}; tokens/s, median of",
        args.steps,
        "interleaved steps after 2 warm-up steps",
    )
    print(f"{'width':>5} {'layers':>6} {'batch':>5} | {'full':>8} {'adaptive':>8} | ratio")
    for width, layers, batch in ROWS:
        sides = {"full": build(width, layers, "", vocab), "adaptive": build(width, layers, args.cutoffs, vocab)}
        times = {name: [] for name in sides}
        span = batch * 36
        for step in range(args.steps + 2):
            chunk = ids[step * span : (step + 1) * span].view(batch, 36)
            for name, (model, optimizer) in sides.items():
                elapsed = timed_step(model, optimizer, chunk[:, :-1], chunk[:, 1:])
                if step >= 2:
                    times[name].append(elapsed)
        rate = {name: batch * 35 / statistics.median(t) for name, t in times.items()}
        print(
            f"{width:>5} {layers:>6} {batch:>5} | {rate['full']:>8,.0f} {rate['adaptive']:>8,.0f} | "
            f"{rate['adaptive'] / rate['full']:.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
