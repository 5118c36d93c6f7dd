"""Classifier re-training (Kang et al., 2020, "Decoupling representation and classifier"):
does a class-balanced output layer on a names run's frozen features beat the uniform prior?

For each member of the run, the features its output layer reads are computed for the
train, validation and test pairs; a new output layer (started from the trained one) is fitted
on the training features by full-batch L-BFGS on cross-entropy weighted by inverse class
frequency, plus ``wd`` times the squared weights. Its softmax is then a uniform-prior answer,
so it is scored as it is (members' probabilities averaged), beside the run's own answer under
``--prior uniform``. Per-pair balanced accuracy on validation and test.

    python benchmarks/scripts/names_retrain_head.py runs/names [--wd 1e-4 1e-3 1e-2]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from rnnkit.data.batches import pad_batch
from rnnkit.metrics.classification import balanced_accuracy, confusion_matrix
from rnnkit.objectives.supervised import class_weights, evaluating
from rnnkit.recipes.names.trained import NameClassifier
from runs import run_of


def features(classifier: NameClassifier, member: torch.nn.Module, pairs) -> torch.Tensor:
    """What ``member.output`` reads (M, F) for the (name, label) ``pairs``."""
    seen = []
    hook = member.output.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].float()))
    with evaluating(member):
        for start in range(0, len(pairs), 512):
            ids, lengths = pad_batch([classifier.vocab.encode(n, warn=False) for n, _ in pairs[start : start + 512]])
            member(ids, lengths)
    hook.remove()
    return torch.cat(seen)


def retrained(
    member: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, wd: float
) -> torch.nn.Linear:
    """A copy of ``member.output`` fitted on features ``x`` (M, F) with class weights (C,)."""
    layer = torch.nn.Linear(x.shape[1], len(weight))
    layer.load_state_dict(member.output.state_dict())
    optimizer = torch.optim.LBFGS(layer.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(x), labels, weight=weight) + wd * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=run_of("names"), help="run directory of `rnnkit train names`")
    parser.add_argument("--wd", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    classifier = args.run
    _, parts = classifier.split()
    labels = {k: torch.tensor([label for _, label in parts[k]]) for k in ("train", "valid", "test")}
    classes = len(classifier.languages)
    weight = class_weights(labels["train"].tolist(), classes, 1.0)
    members = list(getattr(classifier.model, "members", [classifier.model]))
    feats = [{k: features(classifier, m, parts[k]) for k in labels} for m in members]

    def score(probs: torch.Tensor, split: str) -> float:
        return balanced_accuracy(confusion_matrix(probs.argmax(-1), labels[split], classes))

    own = {k: classifier.log_probs([n for n, _ in parts[k]], "uniform") for k in ("valid", "test")}
    print(f"run under --prior uniform: valid {score(own['valid'], 'valid'):.4f}, test {score(own['test'], 'test'):.4f}")
    for wd in args.wd:
        probs = {k: 0 for k in ("valid", "test")}
        for member, x in zip(members, feats):
            layer = retrained(member, x["train"], labels["train"], weight, wd)
            with torch.no_grad():
                for k in probs:
                    probs[k] = probs[k] + torch.softmax(layer(x[k]), -1)
        print(
            f"balanced output layer, wd {wd:g}: valid {score(probs['valid'], 'valid'):.4f}, "
            f"test {score(probs['test'], 'test'):.4f}"
        )


if __name__ == "__main__":
    main()
