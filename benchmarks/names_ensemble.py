"""Does averaging many trained names runs raise balanced accuracy under a prior?

Loads each run (all on the same data and split), takes ``rnnkit predict``'s probabilities
under ``--prior`` (each run's own temperature included) on the validation and test pairs,
and scores each run alone and the mean of all of them: per-pair balanced accuracy and
accuracy. If the mean of many runs scores no better than one, the runs' variance is not
what holds the figure down.

    python benchmarks/names_ensemble.py runs/names other-run ... [--prior uniform]
"""
from __future__ import annotations

import argparse

import torch

from rnnkit.tasks import load
from rnnkit.tasks.names import NameClassifier
from rnnkit.train.metrics import balanced_accuracy, confusion_matrix


def scores(probs: torch.Tensor, labels: torch.Tensor) -> str:
    predicted = probs.argmax(-1)
    confusion = confusion_matrix(predicted, labels, probs.shape[1])
    return (f"balanced accuracy {balanced_accuracy(confusion):.4f}, "
            f"accuracy {(predicted == labels).double().mean().item():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories of `rnnkit train names`, same split")
    parser.add_argument("--prior", default="uniform")
    args = parser.parse_args()
    classifiers = [load(run) for run in args.runs]
    if not all(isinstance(c, NameClassifier) for c in classifiers):
        parser.error("expected runs of `rnnkit train names`")
    splits = [c.split()[1] for c in classifiers]
    if any(s != splits[0] for s in splits[1:]):
        parser.error("the runs were trained on different splits")
    for split in ("valid", "test"):
        pairs = splits[0][split]
        labels = torch.tensor([label for _, label in pairs])
        probs = [c.log_probs([n for n, _ in pairs], args.prior).double().exp() for c in classifiers]
        for run, p in zip(args.runs, probs):
            print(f"{split}  {run}: {scores(p, labels)}")
        print(f"{split}  mean of the {len(probs)} runs: {scores(torch.stack(probs).mean(0), labels)}")


if __name__ == "__main__":
    main()
