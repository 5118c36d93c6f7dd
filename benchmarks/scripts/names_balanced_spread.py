"""How much does the per-pair balanced accuracy of a names run move with the test sample?

Six of the 18 languages have 7-14 test pairs, and each language weighs 1/18 of balanced
accuracy, so one more right Portuguese name moves it by 1/(18 * 7) = 0.008. This script
scores a run's split under a prior (default uniform, after the run's temperature) and
resamples it: a stratified bootstrap (each language's pairs drawn with replacement, its
count kept) gives the spread of the figure a test split of the same make-up would show.

    python benchmarks/scripts/names_balanced_spread.py runs/names [--split test] [--prior uniform]
        [--samples 2000] [--seed 0]
"""

from __future__ import annotations

import argparse

import torch

from runs import run_of


def balanced_accuracy(right: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Mean per-class recall of ``right`` (S, M) bools over labels (M,): (S,)."""
    per_class = torch.zeros(right.shape[0], classes, dtype=torch.float64)
    per_class.index_add_(1, labels, right.double())
    counts = torch.bincount(labels, minlength=classes).double()
    present = counts > 0
    return (per_class[:, present] / counts[present]).mean(1)


def stratified_resample(labels: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
    """Indices (S, M): for each sample, each class's positions drawn with replacement."""
    out = torch.empty(samples, len(labels), dtype=torch.long)
    for c in labels.unique():
        where = (labels == c).nonzero().squeeze(1)
        out[:, where] = where[torch.randint(len(where), (samples, len(where)), generator=generator)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=run_of("names"), help="run directory of `rnnkit train names`")
    parser.add_argument("--split", default="test", choices=("valid", "test"))
    parser.add_argument("--prior", default="uniform")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    classifier = args.run
    _, parts = classifier.split()
    pairs = parts[args.split]
    labels = torch.tensor([label for _, label in pairs])
    predicted = classifier.log_probs([n for n, _ in pairs], args.prior).argmax(-1)
    right = predicted == labels
    classes = len(classifier.languages)
    observed = balanced_accuracy(right[None], labels, classes).item()
    draws = stratified_resample(labels, args.samples, torch.Generator().manual_seed(args.seed))
    spread = balanced_accuracy(right[draws], labels, classes)  # draws keep each position's class
    low, mid, high = spread.quantile(torch.tensor([0.025, 0.5, 0.975], dtype=torch.float64)).tolist()
    print(
        f"{classifier.run_dir} {args.split}, prior {args.prior}: per-pair balanced accuracy {observed:.4f}; "
        f"stratified bootstrap ({args.samples} samples): median {mid:.4f}, 95% interval "
        f"[{low:.4f}, {high:.4f}], standard deviation {spread.std().item():.4f}"
    )
    print(f"share of samples at or above 0.70: {(spread >= 0.70).double().mean().item():.4f}")


if __name__ == "__main__":
    main()
