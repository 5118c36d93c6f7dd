"""Names: test figures under priors between the data's (alpha 1) and uniform (alpha 0).

The prior is pi_data ** alpha, normalised; the run's temperature is applied first, as
``rnnkit predict`` does. Usage:

    python benchmarks/scripts/names_prior_sweep.py RUN_DIR [--split test] [--alphas 1,0.75,0.5,0.25,0]
"""

from __future__ import annotations

import argparse

import torch

from rnnkit.metrics import calibration as cal
from rnnkit.recipes.names.evaluate import HEADLINE, split_figures
from runs import run_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=run_of("names"), help="run directory of `rnnkit train names`")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--alphas", default="1,0.75,0.5,0.25,0")
    args = parser.parse_args()
    torch.set_num_threads(1)
    classifier = args.run
    names, parts = classifier.split()
    pairs = parts[args.split]
    raw = classifier.raw_log_probs([classifier.vocab.encode(n, warn=False) for n, _ in pairs])
    calibrated = cal.apply_temperature(raw, classifier.calibration()["temperature"])
    data = classifier.log_prior("data")
    print(f"{args.split}: alpha | per pair {' '.join(HEADLINE)} | per name {' '.join(HEADLINE)}")
    for alpha in (float(a) for a in args.alphas.split(",")):
        shifted = cal.prior_shift(calibrated, torch.log_softmax(alpha * data, -1), data).float()
        figures = split_figures(shifted, pairs, names)
        print(
            f"{alpha:.2f} | "
            + " ".join(f"{figures[k]:.4f}" for k in HEADLINE)
            + " | "
            + " ".join(f"{figures['by_name'][k]:.4f}" for k in HEADLINE)
        )


if __name__ == "__main__":
    main()
