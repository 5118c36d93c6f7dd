"""Sequence labelling in the engine: predicting tags for encoded sentences, and scoring them.

A tagging model takes ``(words (N, L), lengths (N,), chars (W, Lc), char_lengths (W,))``
and returns ``{tag set: emissions (N, L, C)}``; ``model.decode(emissions, lengths)``
gives the best ids ``{tag set: (N, L)}`` (see :class:`rnnkit.recipes.postag.model.Tagger`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from rnnkit.metrics.classification import classification_report, confusion_matrix
from rnnkit.objectives.supervised import evaluating
from rnnkit.recipes.postag.batches import IGNORE, Example, collate
from rnnkit.recipes.postag.model import positions


def tagging_loss(model, batch, reduction: str = "mean") -> tuple[torch.Tensor, int]:
    """A :class:`~rnnkit.recipes.postag.batches.TagBatch` through a tagging model: the sum over tag sets of the per-word cross-entropy (CRF negative log-likelihood per word
    for the first set under ``--crf``); (loss, number of words)."""
    device = next(model.parameters()).device
    lengths = batch.lengths
    emissions = model(batch.words.to(device), lengths, batch.chars.to(device), batch.char_lengths)
    words = int(lengths.sum())
    total = 0.0
    for index, (name, scores) in enumerate(emissions.items()):
        gold = batch.tags[name].to(device)
        if index == 0 and model.crf is not None:
            mask = positions(lengths, gold.shape[1]).to(device)
            total = total + model.crf.nll(
                scores.float(), gold.clamp(min=0), mask, reduction="token_mean" if reduction == "mean" else reduction
            )
        else:
            total = total + F.cross_entropy(
                scores.flatten(0, 1).float(), gold.flatten(), ignore_index=IGNORE, reduction=reduction
            )
    return total, words


def predict_tags(model, examples: Sequence[Example], batch_size: int = 64) -> list[dict[str, list[int]]]:
    """Best tag ids of every sentence (``{tag set: [id per word]}``), batched by length,
    returned in the given order."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]))
    out: list[Optional[dict]] = [None] * len(examples)
    device = next(model.parameters()).device
    with evaluating(model):
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = collate([examples[i] for i in rows])
            emissions = model(batch.words.to(device), batch.lengths, batch.chars.to(device), batch.char_lengths)
            best = model.decode(emissions, batch.lengths)
            for row, i in enumerate(rows):
                length = int(batch.lengths[row])
                out[i] = {name: ids[row, :length].tolist() for name, ids in best.items()}
    return out


def accuracy(
    predicted: Sequence[dict], examples: Sequence[Example], name: str, only: Optional[Sequence[Sequence[bool]]] = None
) -> tuple[Optional[float], int]:
    """(accuracy, words counted) of tag set ``name``; ``only`` picks words (e.g. unseen ones).

    A gold tag never seen in training (:data:`IGNORE`) counts as wrong. The
    accuracy is None when no word is counted.
    """
    right = total = 0
    for index, (guess, example) in enumerate(zip(predicted, examples)):
        gold = example.tags[name].tolist()
        for position, (p, g) in enumerate(zip(guess[name], gold)):
            if only is None or only[index][position]:
                right += int(p == g)
                total += 1
    return (right / total if total else None), total


def tag_report(predicted: Sequence[dict], examples: Sequence[Example], name: str, tags: Sequence[str]) -> dict:
    """Per-tag precision/recall/F1 and the confusion matrix (C, C) (row = gold) of tag set
    ``name``; gold tags unseen in training are left out (and counted)."""
    guesses, golds, unseen = [], [], 0
    for guess, example in zip(predicted, examples):
        for p, g in zip(guess[name], example.tags[name].tolist()):
            if g == IGNORE:
                unseen += 1
            else:
                guesses.append(p)
                golds.append(g)
    confusion = confusion_matrix(torch.tensor(guesses), torch.tensor(golds), len(tags))
    report = classification_report(confusion, tags)
    report.update(confusion=confusion, unseen_gold_tags=unseen)
    return report
