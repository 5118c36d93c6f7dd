"""How far can any model go on the names split? rnnkit's classifier beside two other model families.

On the split saved in a classifier run, this scores side by side:

* ``rnnkit names``: the trained recurrent classifier (``--classifier RUN``);
* ``char n-gram LR``: logistic regression on counts of character 1..5-grams of
  ``^name$`` (no recurrence at all), its L2 strength chosen on the validation split;
* ``generator + Bayes``: a trained ``names-gen`` run (``--generator RUN``, same
  data and split seed) as a classifier, log p(name | language) + log p(language);
* ``ensemble``: the mean of the three models' probabilities.

Each is scored per (name, language) pair and per distinct name (right when
any of its languages), under the data prior (accuracy, macro-F1) and under
the uniform prior (accuracy, balanced accuracy; every model's probabilities
divided by the training prior and renormalised, the generator's taken as
they are). Under the uniform prior the recurrent classifier's figures are
``rnnkit predict``'s, so they include the run's temperature; the other two
models have none (a temperature changes the answers once a prior is applied). If models this different land on the same figures, the data,
not the model, sets the limit.

Usage: ``python benchmarks/scripts/names_reference.py --classifier runs/names [--generator runs/names-gen]
[--split test] [--threads 2]``.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.recipes.names.evaluate import split_figures as score_split
from runs import run_of


def char_ngrams(name: str, longest: int = 5) -> list[str]:
    padded = f"^{name}$"
    return [padded[i : i + n] for n in range(1, longest + 1) for i in range(len(padded) - n + 1)]


class NgramLogisticRegression:
    """Multinomial logistic regression over bags of character n-grams, full-batch Adam."""

    def __init__(self, train_names: list[str], num_classes: int) -> None:
        self.index: dict[str, int] = {}  # n-gram -> feature id; 0 = unseen in training
        for name in train_names:
            for gram in char_ngrams(name):
                self.index.setdefault(gram, len(self.index) + 1)
        self.num_classes = num_classes

    def features(self, names: list[str]) -> tuple[Tensor, Tensor]:
        """(flat feature ids, offsets (M,)) for ``nn.EmbeddingBag``."""
        bags = [torch.tensor([self.index.get(g, 0) for g in char_ngrams(name)]) for name in names]
        offsets = torch.tensor([0] + [len(b) for b in bags[:-1]]).cumsum(0)
        return torch.cat(bags), offsets

    def fit(self, names: list[str], labels: Tensor, l2: float, steps: int = 300, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.weight = torch.nn.EmbeddingBag(len(self.index) + 1, self.num_classes, mode="sum")
        torch.nn.init.zeros_(self.weight.weight)
        self.bias = torch.zeros(self.num_classes, requires_grad=True)
        optimizer = torch.optim.Adam([self.weight.weight, self.bias], lr=0.05)
        ids, offsets = self.features(names)
        for _ in range(steps):
            loss = F.cross_entropy(self.weight(ids, offsets) + self.bias, labels)
            loss = loss + l2 * self.weight.weight[1:].pow(2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    @torch.no_grad()
    def log_probs(self, names: list[str]) -> Tensor:
        ids, offsets = self.features(names)
        return F.log_softmax(self.weight(ids, offsets) + self.bias, dim=-1)


def ngram_reference(parts: dict, num_classes: int, names_data) -> tuple[NgramLogisticRegression, float]:
    """The n-gram model with the L2 strength that scores best on validation (accuracy + macro-F1)."""
    train_names = [n for n, _ in parts["train"]]
    train_labels = torch.tensor([l for _, l in parts["train"]])
    best = None
    for l2 in (1e-5, 3e-5, 1e-4):
        model = NgramLogisticRegression(train_names, num_classes)
        model.fit(train_names, train_labels, l2)
        valid = score_split(model.log_probs([n for n, _ in parts["valid"]]), parts["valid"], names_data)
        figure = valid["by_name"]["accuracy"] + valid["by_name"]["macro_f1"]
        if best is None or figure > best[0]:
            best = (figure, model, l2)
    return best[1], best[2]


def row(label: str, result: dict) -> str:
    by_name = result["by_name"]
    return (
        f"| {label} | {result['accuracy']:.4f} | {result['macro_f1']:.4f} | "
        f"{by_name['accuracy']:.4f} | {by_name['macro_f1']:.4f} |"
    )


def uniform_row(label: str, result: dict) -> str:
    by_name = result["by_name"]
    return (
        f"| {label} | {result['accuracy']:.4f} | {result['balanced_accuracy']:.4f} | "
        f"{by_name['accuracy']:.4f} | {by_name['balanced_accuracy']:.4f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--classifier", required=True, type=run_of("names"), help="run directory of `rnnkit train names`"
    )
    parser.add_argument(
        "--generator", type=run_of("names-gen"), help="run directory of `rnnkit train names-gen` (same data and split)"
    )
    parser.add_argument("--split", default="test", choices=("valid", "test"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    classifier = args.classifier
    names_data, parts = classifier.split()
    pairs = parts[args.split]
    pair_names = [n for n, _ in pairs]
    counts = torch.bincount(torch.tensor([l for _, l in parts["train"]]), minlength=len(names_data.languages))
    log_prior = (counts.double() / counts.sum()).log().float()
    probabilities, rows, uniform_probabilities, uniform_rows = [], [], [], []

    def add(label: str, log_probs: Tensor, uniform: Tensor) -> None:
        """``log_probs`` (M, C) under the data prior, ``uniform`` (M, C) under the uniform one."""
        probabilities.append(log_probs.exp())
        rows.append(row(label, score_split(log_probs, pairs, names_data)))
        uniform_probabilities.append(uniform.exp())
        uniform_rows.append(uniform_row(label, score_split(uniform, pairs, names_data)))

    add(
        "rnnkit names (recurrent classifier)",
        classifier.log_probs(pair_names, "data", calibrated=False),
        classifier.log_probs(pair_names, "uniform"),
    )
    ngram, l2 = ngram_reference(parts, len(names_data.languages), names_data)
    ngram_log_probs = ngram.log_probs(pair_names)
    add(
        f"char 1-5-gram logistic regression (L2 {l2:g})",
        ngram_log_probs,
        F.log_softmax(ngram_log_probs - log_prior, -1),
    )
    if args.generator:
        generator = args.generator
        if generator.split()[1] != parts:
            parser.error(f"--generator {generator.run_dir}: its split differs from {classifier.run_dir}'s")
        likelihoods = generator.log_likelihoods(pair_names)
        add("names-gen as Bayes classifier", F.log_softmax(likelihoods + log_prior, -1), F.log_softmax(likelihoods, -1))
    if len(probabilities) > 1:
        label = f"ensemble (mean of the {len(probabilities)} above)"
        add(label, torch.stack(probabilities).mean(0).log(), torch.stack(uniform_probabilities).mean(0).log())

    print(f"{args.split}: {len(pairs):,} (name, language) pairs, {len(set(pair_names)):,} distinct names")
    print("data prior\n| model | per pair: accuracy | macro-F1 | per name: accuracy | macro-F1 |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(
        "\nuniform prior\n| model | per pair: accuracy | balanced accuracy | per name: accuracy | balanced accuracy |"
    )
    print("|---|---:|---:|---:|---:|")
    print("\n".join(uniform_rows))


if __name__ == "__main__":
    main()
