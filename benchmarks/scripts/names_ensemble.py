"""Does averaging many trained names runs raise balanced accuracy under a prior?

Loads each run (all on the same data and split), takes ``rnnkit predict``'s probabilities
under ``--prior`` (each run's own temperature included) on the validation and test pairs,
and scores each run alone and the mean of all of them: per-pair balanced accuracy and
accuracy. If the mean of many runs scores no better than one, the runs' variance is not
what holds the figure down.

    python benchmarks/scripts/names_ensemble.py runs/names other-run ... [--prior uniform]
"""

from __future__ import annotations

import argparse

import torch

from rnnkit.metrics.classification import balanced_accuracy, confusion_matrix
from runs import run_of


def scores(probs: torch.Tensor, labels: torch.Tensor) -> str:
    predicted = probs.argmax(-1)
    confusion = confusion_matrix(predicted, labels, probs.shape[1])
    return (
        f"balanced accuracy {balanced_accuracy(confusion):.4f}, "
        f"accuracy {(predicted == labels).double().mean().item():.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "runs", nargs="+", type=run_of("names"), help="run directories of `rnnkit train names`, same split"
    )
    parser.add_argument("--prior", default="uniform")
    args = parser.parse_args()
    classifiers = args.runs
    splits = [c.split()[1] for c in classifiers]
    if any(s != splits[0] for s in splits[1:]):
        parser.error("the runs were trained on different splits")
    for split in ("valid", "test"):
        pairs = splits[0][split]
        labels = torch.tensor([label for _, label in pairs])
        probs = [c.log_probs([n for n, _ in pairs], args.prior).double().exp() for c in classifiers]
        for classifier, p in zip(classifiers, probs):
            print(f"{split}  {classifier.run_dir}: {scores(p, labels)}")
        print(f"{split}  mean of the {len(probs)} runs: {scores(torch.stack(probs).mean(0), labels)}")


if __name__ == "__main__":
    main()
