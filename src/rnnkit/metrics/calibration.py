"""Class priors and calibration for classifiers: prior shift, temperature scaling, ECE, reliability.

Shape legend: M examples, C classes. Log-probabilities are natural-log, (M, C), each row
normalised.

* :func:`prior_shift`: Bayes' rule for a new class prior without retraining
  (Saerens, Latinne & Decaestecker, 2002): ``log p'(c|x) = log p(c|x) + log pi'(c) -
  log pi_train(c)``, renormalised over c.
* :func:`fit_temperature`: one scalar T > 0 minimising the negative log-likelihood of
  ``log_softmax(log p / T)`` (Guo et al., 2017, "On calibration of modern neural networks").
* :func:`calibration_bins` / :func:`expected_calibration_error`: top-1 confidence against
  accuracy in equal-width bins, and :func:`plot_reliability` to draw them.
* :func:`read_prior`: a class-to-weight table from a TSV or JSON file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.inputs import decode_utf8, read_input

#: equal-width confidence bins of the expected calibration error (Guo et al. use 15)
ECE_BINS = 15


def log_prior(weights: Tensor) -> Tensor:
    """Normalised log-prior (C,) from non-negative weights (C,) (zeros give -inf).

    Raises:
        ValueError: a weight is negative or not finite, or all are zero.
    """
    weights = torch.as_tensor(weights, dtype=torch.float64)
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("prior: weights must be finite and >= 0")
    total = weights.sum()
    if total <= 0:
        raise ValueError("prior: at least one weight must be > 0")
    return (weights / total).log()


def prior_shift(log_probs: Tensor, new_log_prior: Tensor, train_log_prior: Tensor) -> Tensor:
    """Log-probabilities (M, C) under a new class prior: Bayes' rule with p(x | c) unchanged.

    Args:
        log_probs: log p(c | x) of a model trained under ``train_log_prior``, (M, C).
        new_log_prior, train_log_prior: normalised log-priors (C,).
    """
    shift = (new_log_prior - train_log_prior).to(log_probs)
    return torch.log_softmax(log_probs + shift, dim=-1)


def apply_temperature(log_probs: Tensor, temperature: float) -> Tensor:
    """``log_softmax(log_probs / T)`` (M, C); T > 1 softens, T < 1 sharpens, argmax unchanged."""
    if not temperature > 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature: expected a finite value > 0, got {temperature}")
    return torch.log_softmax(log_probs / temperature, dim=-1)


def nll(log_probs: Tensor, labels: Tensor) -> float:
    """Mean negative log-likelihood of ``labels`` (M,) under ``log_probs`` (M, C)."""
    return float(F.nll_loss(log_probs.double(), labels.long()))


def fit_temperature(log_probs: Tensor, labels: Tensor, low: float = 0.05, high: float = 20.0, steps: int = 80) -> float:
    """The temperature T in [low, high] minimising ``nll(apply_temperature(log_probs, T), labels)``.

    The NLL is convex in 1/T (a log-sum-exp of functions linear in 1/T), so a
    golden-section search over log T finds the minimum; deterministic, float64.
    """
    if len(labels) == 0:
        raise ValueError("fit_temperature: no examples")
    scores, labels = log_probs.double(), labels.long()

    def loss(log_t: float) -> float:
        return float(F.cross_entropy(scores / math.exp(log_t), labels))

    ratio = (math.sqrt(5) - 1) / 2
    a, b = math.log(low), math.log(high)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    return math.exp((a + b) / 2)


def calibration_bins(
    log_probs: Tensor, labels: Tensor, bins: int = ECE_BINS, weights: Optional[Tensor] = None
) -> list[dict]:
    """Top-1 confidence against accuracy in ``bins`` equal-width bins of (0, 1].

    ``weights`` (M,) count each example that much (e.g. to score a test set as if
    drawn under another class prior); default 1. Each bin: ``lower``, ``upper``,
    ``weight`` (total weight in it), ``confidence`` and ``accuracy`` (weighted means;
    0 for an empty bin).
    """
    confidence, predicted = log_probs.exp().double().max(-1)
    correct = (predicted == labels.long()).double()
    w = torch.ones_like(confidence) if weights is None else torch.as_tensor(weights).double()
    # bin b holds confidences in (b/bins, (b+1)/bins]; confidence is >= 1/C > 0
    index = (torch.ceil(confidence * bins).long() - 1).clamp(0, bins - 1)
    rows = []
    for b in range(bins):
        inside = index == b
        total = float(w[inside].sum())
        rows.append(
            {
                "lower": b / bins,
                "upper": (b + 1) / bins,
                "weight": total,
                "confidence": float((w * confidence)[inside].sum()) / total if total else 0.0,
                "accuracy": float((w * correct)[inside].sum()) / total if total else 0.0,
            }
        )
    return rows


def expected_calibration_error(
    log_probs: Tensor, labels: Tensor, bins: int = ECE_BINS, weights: Optional[Tensor] = None
) -> float:
    """ECE: sum over bins of (bin weight / total) * |accuracy - confidence| (:func:`calibration_bins`)."""
    rows = calibration_bins(log_probs, labels, bins, weights)
    total = sum(r["weight"] for r in rows)
    if total <= 0:
        raise ValueError("expected_calibration_error: no examples")
    return sum(r["weight"] / total * abs(r["accuracy"] - r["confidence"]) for r in rows)


def plot_reliability(curves: dict[str, list[dict]], path: str | Path, title: str = "") -> Path:
    """Reliability diagram: accuracy against mean confidence per bin, one line per entry of
    ``curves`` (label -> :func:`calibration_bins` rows), beside the diagonal; written atomically."""
    from rnnkit.train.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    for label, rows in curves.items():
        kept = [r for r in rows if r["weight"] > 0]
        ax.plot([r["confidence"] for r in kept], [r["accuracy"] for r in kept], "o-", ms=3, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence of the top answer (bin mean)")
    ax.set_ylabel("accuracy in the bin")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def read_prior(path: str | Path, classes: Sequence[str], kind: str = "class") -> Tensor:
    """Class weights (C,) in ``classes`` order from a file; classes it does not list get 0.
    ``kind`` names a class in the messages (e.g. "language").

    ``*.json``: one object ``{"class": weight, ...}``. Anything else: one
    ``class<TAB>weight`` per line (blank lines and ``#`` comments skipped; a class
    name may contain spaces when a tab separates it). Weights need not sum to 1.

    Raises:
        ValueError: naming the file (and line): unreadable, an unknown or repeated
            class, a weight that is not a number >= 0, or no weight > 0.
    """
    path = Path(path)
    text = decode_utf8(read_input(path, f"--prior {path}", "a file of language weights"), f"--prior {path}")
    entries = _json_entries(path, text) if path.suffix.lower() == ".json" else _tsv_entries(path, text)
    weights, seen = torch.zeros(len(classes), dtype=torch.float64), set()
    for where, name, value in entries:
        if name not in classes:
            raise ValueError(f"{where}: unknown {kind} {name!r}; expected one of {', '.join(classes)}")
        if name in seen:
            raise ValueError(f"{where}: {name!r} is listed twice")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: weight of {name!r} must be a number >= 0, got {value!r}")
        seen.add(name)
        weights[classes.index(name)] = float(value)
    if not weights.sum() > 0:
        raise ValueError(f"--prior {path}: no {kind} has a weight > 0")
    return weights


class _Pairs(list):
    """A JSON object's (key, value) pairs in file order, repeated keys kept (``read_prior``
    refuses them, as in the TSV form, instead of keeping the last silently)."""


def _json_entries(path: Path, text: str) -> list[tuple[str, str, object]]:
    try:
        table = json.loads(text, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as err:
        raise ValueError(f"--prior {path}:{err.lineno}: not JSON ({err.msg})") from None
    except RecursionError:
        raise ValueError(
            f'--prior {path}: nested too deeply; expected a JSON object {{"class": weight, ...}}'
        ) from None
    if not isinstance(table, _Pairs):
        raise ValueError(f'--prior {path}: expected a JSON object {{"class": weight, ...}}')
    return [(f"--prior {path}", name, value) for name, value in table]


def _tsv_entries(path: Path, text: str) -> list[tuple[str, str, object]]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split("\t") if "\t" in line else line.rsplit(None, 1)
        where = f"--prior {path}:{number}"
        if len(parts) != 2:
            raise ValueError(f"{where}: expected 'name<TAB>weight', got {line!r}")
        try:
            value: object = float(parts[1])
        except ValueError:
            value = parts[1].strip()
        entries.append((where, parts[0].strip(), value))
    return entries
