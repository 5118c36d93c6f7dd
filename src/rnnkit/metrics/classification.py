"""Metrics: confusion matrix, per-class precision/recall/F1, accuracy, macro-F1, balanced and
top-k accuracy; for generated text, distinct-n and a unigram-perplexity baseline."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def confusion_matrix(predicted: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """(C, C) counts; row = true class, column = predicted class."""
    index = target.long() * num_classes + predicted.long()
    return torch.bincount(index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def classification_report(confusion: Tensor, names: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support from a confusion matrix.

    A class never predicted has precision 0. As in scikit-learn, the macro
    average runs over the classes that occur as a label or as a prediction.
    """
    confusion = confusion.double()
    correct = confusion.diag()
    support, predicted = confusion.sum(1), confusion.sum(0)
    precision = torch.where(predicted > 0, correct / predicted.clamp(min=1), torch.zeros_like(correct))
    recall = torch.where(support > 0, correct / support.clamp(min=1), torch.zeros_like(correct))
    denominator = precision + recall
    f1 = torch.where(denominator > 0, 2 * precision * recall / denominator.clamp(min=1e-12), torch.zeros_like(correct))
    present = (support > 0) | (predicted > 0)
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(names)
    }
    return {
        "accuracy": float(correct.sum() / confusion.sum().clamp(min=1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": per_class,
    }


def any_label_reference(predicted: Sequence[int], label_sets: Sequence[Sequence[int]]) -> list[int]:
    """The reference label of each item that has several right answers.

    An item whose prediction is one of its labels counts as that label (right);
    otherwise it counts as its lowest label (wrong, charged to that class).
    Accuracy on these references is "right when any of its labels".
    """
    if len(predicted) != len(label_sets):
        raise ValueError(f"{len(predicted)} predictions for {len(label_sets)} label sets")
    references = []
    for guess, labels in zip(predicted, label_sets):
        if not labels:
            raise ValueError("every item needs at least one label")
        references.append(int(guess) if int(guess) in labels else min(labels))
    return references


def classification_scores(log_probs: Tensor, labels: Tensor, names: Sequence[str]) -> dict:
    """Loss, accuracy, macro-F1, per-class figures and the confusion matrix (C, C) (row = true
    class, column = prediction) of M examples, from log-probabilities (M, C) and labels (M,)."""
    confusion = confusion_matrix(log_probs.argmax(-1), labels, len(names))
    report = classification_report(confusion, names)
    report["loss"] = float(F.nll_loss(log_probs, labels))
    report["confusion"] = confusion
    return report


def any_label_scores(predicted: Sequence[int], keys: Sequence, label_sets: dict, names: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and per-class figures with each distinct item counted once.

    ``predicted[i]`` is the prediction for the example whose item is
    ``keys[i]`` (all examples of one item share it); ``label_sets`` maps each
    item to its labels. An item is right when the prediction is any of them
    (:func:`any_label_reference`).
    """
    first: dict = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    guesses = [predicted[i] for i in first.values()]
    references = any_label_reference(guesses, [label_sets[key] for key in first])
    confusion = confusion_matrix(torch.tensor(guesses), torch.tensor(references), len(names))
    report = classification_report(confusion, names)
    report["examples"] = len(guesses)
    return report


def plot_confusion(confusion: Tensor, names: Sequence[str], path, title: str = "") -> None:
    """Row-normalised confusion matrix (true class per row) as a PNG at ``path``."""
    from rnnkit.train.plots import plot_matrix

    rates = confusion.double() / confusion.sum(1, keepdim=True).clamp(min=1)
    size = max(5.0, 0.38 * len(names) + 2)
    plot_matrix(
        rates.numpy(),
        list(names),
        list(names),
        path,
        title=title,
        xlabel="predicted",
        ylabel="true",
        colorbar="fraction of the true class",
        size=(size, size * 0.9),
    )


def distinct_n(sequences: Sequence[Sequence[str]], n: int) -> float:
    """distinct-n (Li et al., 2016): distinct n-grams / all n-grams over the generated ``sequences``
    (0.0 when there is none)."""
    if n < 1:
        raise ValueError(f"distinct_n: expected n >= 1, got {n}")
    grams = [tuple(seq[i : i + n]) for seq in sequences for i in range(len(seq) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def unigram_perplexity(
    train: Sequence[Sequence[str]],
    test: Sequence[Sequence[str]],
    end: str = "</s>",
    vocabulary: Optional[Sequence[str]] = None,
) -> float:
    """Per-token perplexity of ``test`` under an add-one unigram model of ``train``; each sequence
    ends with ``end`` (counted as a token, as a decoder's ``<eos>`` is).

    Without ``vocabulary`` the outcomes are the training tokens plus one unknown slot that every
    unseen test token shares. With it, the outcomes are exactly ``vocabulary`` and ``end`` (a
    model's output vocabulary): the caller maps words outside it to its unknown token first, and a
    test token outside it is an error."""
    from collections import Counter

    counts = Counter(token for seq in train for token in [*seq, end])
    if vocabulary is None:
        vocab = len(counts) + 1  # + the unknown slot
    else:
        outcomes = set(vocabulary) | {end}
        strays = [t for seq in (*train, *test) for t in seq if t not in outcomes]
        if strays:
            raise ValueError(f"unigram_perplexity: {strays[0]!r} is outside the given vocabulary")
        vocab = len(outcomes)
    total = sum(counts.values())
    nll, tokens = 0.0, 0
    for seq in test:
        for token in [*seq, end]:
            nll -= math.log((counts.get(token, 0) + 1) / (total + vocab))
            tokens += 1
    if not tokens:
        raise ValueError("unigram_perplexity: the test sequences are empty")
    return math.exp(nll / tokens)


def balanced_accuracy(confusion: Tensor) -> float:
    """Mean recall over the classes that occur as a label (rows of ``confusion`` (C, C) with
    support), as scikit-learn's ``balanced_accuracy_score``: the accuracy on a test set in which
    every class is equally frequent."""
    confusion = confusion.double()
    support = confusion.sum(1)
    present = support > 0
    if not present.any():
        raise ValueError("balanced_accuracy: no examples")
    return float((confusion.diag()[present] / support[present]).mean())


def top_k_accuracy(log_probs: Tensor, labels: Tensor, k: int) -> float:
    """Share of the M examples whose label (M,) is among the ``k`` highest scores (M, C)."""
    if k < 1:
        raise ValueError(f"top_k_accuracy: expected k >= 1, got {k}")
    top = log_probs.topk(min(k, log_probs.shape[-1]), dim=-1).indices  # (M, k)
    return float((top == labels.long().unsqueeze(-1)).any(-1).double().mean())


def top_k_any_label(log_probs: Tensor, keys: Sequence, label_sets: dict, k: int) -> float:
    """Top-k accuracy with each distinct item counted once (its first row of ``log_probs``
    (M, C)): right when any of its labels ``label_sets[key]`` is among the ``k`` best."""
    first: dict = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    if not first:
        raise ValueError("top_k_any_label: no examples")
    top = log_probs.topk(min(k, log_probs.shape[-1]), dim=-1).indices.tolist()
    return sum(bool(set(top[i]) & set(label_sets[key])) for key, i in first.items()) / len(first)


def per_class_lines(per_class: dict, label: str, width: int, skip_empty: bool = False) -> list[str]:
    """A header and one ``name precision recall F1 support`` line per class of a
    :func:`classification_report`'s ``per_class`` (``skip_empty``: leave out classes that were
    neither present nor predicted)."""
    lines = [f"{label:<{width}} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>7}"]
    for name, row in per_class.items():
        if skip_empty and not (row["support"] or row["precision"]):
            continue
        lines.append(
            f"{name:<{width}} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>7}"
        )
    return lines
