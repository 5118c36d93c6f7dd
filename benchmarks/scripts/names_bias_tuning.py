"""Does shifting each language's score, tuned on validation to maximise macro-F1, help on test?

Reads the valid/test log-probabilities saved by ``benchmarks/scripts/names_variants.py``
(several files are averaged as an ensemble), then searches one additive bias
per language by coordinate ascent (3 sweeps, steps of +-0.5, 1, 2 nats) for the
best validation macro-F1, once per scoring (per pair, per name). It prints the
test figures before and after.

Usage: ``python benchmarks/scripts/names_bias_tuning.py base.safetensors s1.safetensors s2.safetensors``.
"""

from __future__ import annotations

import sys

import torch
from safetensors.torch import load_file

from rnnkit.data.names_split import NamesDataConfig, load_split
from rnnkit.recipes.names.evaluate import split_figures as score_split

STEPS = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(
            "usage: python benchmarks/scripts/names_bias_tuning.py RUN.safetensors [...] "
            "(files written by names_variants.py --out)"
        )
    names, _, parts = load_split(NamesDataConfig())
    runs = [load_file(path) for path in sys.argv[1:]]
    log_probs = {split: torch.stack([run[split] for run in runs]).exp().mean(0).log() for split in ("valid", "test")}

    def report(split: str, bias: torch.Tensor) -> dict:
        return score_split(torch.log_softmax(log_probs[split] + bias, -1), parts[split], names)

    def macro_f1(result: dict, scoring: str) -> float:
        return result["macro_f1"] if scoring == "pair" else result["by_name"]["macro_f1"]

    def figures(result: dict) -> str:
        by_name = result["by_name"]
        return (
            f"per pair {result['accuracy']:.4f} / {result['macro_f1']:.4f}, "
            f"per name {by_name['accuracy']:.4f} / {by_name['macro_f1']:.4f}"
        )

    languages = len(names.languages)
    for scoring in ("pair", "name"):
        bias = torch.zeros(languages)
        best = macro_f1(report("valid", bias), scoring)
        before = best
        for _ in range(3):
            for language in range(languages):
                for step in STEPS:
                    trial = bias.clone()
                    trial[language] += step
                    value = macro_f1(report("valid", trial), scoring)
                    if value > best + 1e-9:
                        best, bias = value, trial
        print(
            f"tuned for macro-F1 {scoring}: valid {before:.4f} -> {best:.4f}; test before "
            f"{figures(report('test', torch.zeros(languages)))}; after {figures(report('test', bias))}"
        )


if __name__ == "__main__":
    main()
