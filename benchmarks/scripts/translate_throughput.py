"""Translation throughput of a trained run: sentences/s, greedy and beam 5, batched, side by side.

    python benchmarks/scripts/translate_throughput.py RUN [--split test] [--threads 2] [--repeats 3]

Translates the split's source sentences with each setting (batch 64, and one sentence at a
time for the first 200 sentences) and prints sentences/s (median of ``--repeats``), so the
ratios come from one run on one machine. The model is loaded once; tokenising and
detokenising are included, BLEU scoring is not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import rnnkit
from rnnkit.families.seq2seq.bitext import load_bitext
from rnnkit.families.seq2seq.translator import SearchOptions


def timed(translator, sentences, options, repeats: int) -> float:
    """Median sentences/s of ``repeats`` translations of ``sentences``."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        translator.translate(sentences, options)
        rates.append(len(sentences) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = rnnkit.load(args.run)
    pairs = load_bitext(model.sections["data"], model.sections["train"].seed, model.meta.get("split_lines"))
    sentences = [p.src for p in pairs.splits[args.split]]
    rows = []
    for beam in (1, 5):
        batched = timed(model.translator, sentences, SearchOptions(beam=beam, batch_size=64), args.repeats)
        single = timed(model.translator, sentences[:200], SearchOptions(beam=beam, batch_size=1), 1)
        rows.append(
            {
                "beam": beam,
                "batched_sentences_per_s": round(batched, 1),
                "one_at_a_time_sentences_per_s": round(single, 1),
                "batching_speedup": round(batched / single, 2),
            }
        )
    print(f"{len(sentences):,} {args.split} sentences, {args.threads} threads, torch {torch.__version__}")
    print(f"{'search':<8} {'batch 64 (sent/s)':>18} {'batch 1 (sent/s)':>17} {'speed-up':>9}")
    for row in rows:
        name = "greedy" if row["beam"] == 1 else f"beam {row['beam']}"
        print(
            f"{name:<8} {row['batched_sentences_per_s']:>18.1f} {row['one_at_a_time_sentences_per_s']:>17.1f} "
            f"{row['batching_speedup']:>8.2f}x"
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {"split": args.split, "sentences": len(sentences), "threads": args.threads, "rows": rows}, out, indent=1
            )


if __name__ == "__main__":
    main()
