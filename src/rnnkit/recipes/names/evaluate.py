"""Names recipe, scoring side: class priors, the run's temperature, figures under each prior.

Shape legend: M names (or pairs), C languages. A model's log-probabilities (M, C) hold the
prior it was trained under (:func:`training_prior`); ``predict`` and ``eval`` rescale them
by the fitted temperature and move them to the prior asked for
(:func:`rnnkit.metrics.calibration.prior_shift`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from rnnkit.files import WriteError, atomic_write_text, read_manifest
from rnnkit.metrics import calibration as cal
from rnnkit.metrics.classification import (
    any_label_scores,
    balanced_accuracy,
    classification_scores,
    top_k_accuracy,
    top_k_any_label,
)
from rnnkit.train import rundir

#: the run's fitted temperature, beside its checkpoints
CALIBRATION = "calibration.json"
CALIBRATION_LIMIT = 2**20  # bytes read at most
#: the prior ``predict`` uses unless told (README, names: measured choice)
DEFAULT_PRIOR = "uniform"
PRIORS = ("data", "uniform")
TOP_K = 3


def training_prior(counts: Sequence[int], balance: str, power: float) -> Tensor:
    """The class prior (C,) the model learned from training counts (C,).

    A loss weighted by w_c and sampling in proportion to w_c both make the model fit
    p(c) proportional to count_c * w_c, so with ``--balance weighted|sampler`` the
    training prior is that, not the data's; with ``none`` it is the data's. A loss on
    logits + power * log p_data(c) (``logit-adjusted``) leaves the model's own softmax
    at p_data(c) ** (1 - power), which is the same count_c * w_c.
    """
    counts_t = torch.tensor(list(counts), dtype=torch.float64).clamp(min=1)  # a language absent from train
    # class_weights: w_c = (N / (C * count_c)) ** power, so count_c * w_c is proportional to count_c ** (1 - power)
    weighted = counts_t if balance == "none" else counts_t.pow(1 - power)
    return weighted / weighted.sum()


def resolve_prior(spec: str, languages: Sequence[str], counts: Sequence[int]) -> Tensor:
    """Log-prior (C,) named by ``--prior``: ``data`` (training frequencies), ``uniform``, or a
    file of language weights (:func:`rnnkit.metrics.calibration.read_prior`)."""
    if spec == "data":
        return cal.log_prior(torch.tensor(list(counts), dtype=torch.float64))
    if spec == "uniform":
        return cal.log_prior(torch.ones(len(languages), dtype=torch.float64))
    return cal.log_prior(cal.read_prior(spec, list(languages), kind="language"))


def fit_calibration(log_probs: Tensor, labels: Tensor) -> dict:
    """Temperature fitted on validation log-probabilities (M, C) under the data prior (the
    validation split's own), with the validation NLL and ECE before and after."""
    shifted = log_probs.double()
    temperature = cal.fit_temperature(shifted, labels)
    after = cal.apply_temperature(shifted, temperature)
    return {
        "temperature": temperature,
        "fitted_on": "valid",
        "ece_bins": cal.ECE_BINS,
        "valid_nll": {"before": cal.nll(shifted, labels), "after": cal.nll(after, labels)},
        "valid_ece": {
            "before": cal.expected_calibration_error(shifted, labels),
            "after": cal.expected_calibration_error(after, labels),
        },
    }


def owned_output(checkpoint: Optional[Path], name: str) -> Optional[Path]:
    """Where output ``name`` (calibration.json, a PNG) of ``checkpoint`` may be read and written:
    in its folder when that is a names run directory rnnkit made (a ``config.json`` of task
    ``names``) and a file there of that name, if any, was written by rnnkit (listed in the
    run's manifest, where it has one). Else None: the output is kept in memory (or not drawn),
    because a file of that name beside a copied checkpoint is someone else's, never read or
    overwritten."""
    if checkpoint is None:
        return None
    folder = Path(checkpoint).parent
    if rundir.not_a_run(folder) is not None:
        return None
    try:
        if rundir.read_config(folder).get("task") != "names":
            return None
        listed = read_manifest(folder)
    except ValueError:
        return None
    if listed is not None and name not in listed and os.path.lexists(folder / name):
        return None
    return folder / name


def check_calibration(record, path: Path) -> dict:
    """``record`` (a calibration.json read from ``path``) when it has the shape rnnkit writes;
    ValueError naming the file and the field otherwise."""
    fix = "delete it and the temperature is fitted again"
    if not isinstance(record, dict):
        raise ValueError(f"{path}: expected a JSON object, got a JSON {_json_kind(record)} ({fix})")
    temperature = record.get("temperature")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or not temperature > 0
    ):
        raise ValueError(f"{path}: temperature: expected a finite number > 0, got {_shown(temperature)} ({fix})")
    if not isinstance(record.get("checkpoint"), (str, type(None))):
        raise ValueError(f"{path}: checkpoint: expected a file name, got {_shown(record.get('checkpoint'))} ({fix})")
    if isinstance(record.get("step"), bool) or not isinstance(record.get("step"), int):
        raise ValueError(f"{path}: step: expected an integer, got {_shown(record.get('step'))} ({fix})")
    return record


def _json_kind(value) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _shown(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_calibration(path: Path, checkpoint: Path, step: int) -> Optional[dict]:
    """The calibration saved at ``path`` when it was fitted for this checkpoint file and step,
    else None; ValueError naming the file and field when it is not one rnnkit would write."""
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > CALIBRATION_LIMIT:
            raise ValueError(f"{path}: over {CALIBRATION_LIMIT:,} bytes; rnnkit writes a few hundred")
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(
            f"{path}: not readable JSON ({type(err).__name__}); delete it and the temperature is fitted again"
        ) from None
    saved = check_calibration(saved, path)
    if saved.get("checkpoint") != checkpoint.name or saved.get("step") != step:
        return None
    return saved


def calibration(checkpoint: Optional[Path], step: int, fit: Callable[[], dict]) -> dict:
    """The temperature record of ``checkpoint`` at ``step``: read from its run directory
    (:func:`owned_output`), else ``fit()`` (saved there when the run is rnnkit's)."""
    path = owned_output(checkpoint, CALIBRATION)
    saved = read_calibration(path, checkpoint, step) if path is not None else None
    if saved is None:
        saved = dict(fit(), checkpoint=checkpoint.name if checkpoint else None, step=step)
        if path is not None:
            write_calibration(path, saved)
    return saved


def write_calibration(path: Path, record: dict) -> None:
    """Save ``record`` as the run's calibration.json when the run directory is writable."""
    try:
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")
    except WriteError:  # the folder is read-only, gone or full
        pass  # the run still predicts, with the temperature fitted in memory


def split_figures(log_probs: Tensor, pairs: Sequence[tuple[str, int]], names, labels_of: Optional[dict] = None) -> dict:
    """Accuracy, balanced accuracy, top-3, macro-F1, per-class figures and the confusion of the
    (name, label) ``pairs`` from their log-probabilities (M, C): per pair at the top level, per
    distinct name (right when any of its languages) under ``by_name``; ``labels_of``:
    ``names.label_sets()``, when the caller has it."""
    labels = torch.tensor([label for _, label in pairs])
    result = classification_scores(log_probs, labels, names.languages)
    result["balanced_accuracy"] = balanced_accuracy(result["confusion"])
    result[f"top{TOP_K}_accuracy"] = top_k_accuracy(log_probs, labels, TOP_K)
    pair_names, labels_of = [name for name, _ in pairs], labels_of or names.label_sets()
    by_name = any_label_scores(log_probs.argmax(-1).tolist(), pair_names, labels_of, names.languages)
    recalls = [row["recall"] for row in by_name["per_class"].values() if row["support"] > 0]
    by_name["balanced_accuracy"] = sum(recalls) / len(recalls)  # mean recall, as balanced_accuracy
    by_name[f"top{TOP_K}_accuracy"] = top_k_any_label(log_probs, pair_names, labels_of, TOP_K)
    result["by_name"] = by_name
    return result


HEADLINE = ("accuracy", "balanced_accuracy", f"top{TOP_K}_accuracy", "macro_f1")


def headline(result: dict) -> dict:
    """The four headline figures per pair and per name (and the loss) of :func:`split_figures`."""
    return {
        "loss": result["loss"],
        **{k: result[k] for k in HEADLINE},
        "by_name": {k: result["by_name"][k] for k in HEADLINE},
    }


def uniform_weights(labels: Tensor, num_classes: int) -> Tensor:
    """Per-example weights (M,) that make every class that occurs weigh the same."""
    counts = torch.bincount(labels, minlength=num_classes).double()
    return 1.0 / counts[labels]


def describe_priors(split: str, priors: dict) -> list[str]:
    """One line per prior and scoring: the four headline figures."""
    lines = [f"{split} under each prior: accuracy, balanced accuracy (mean recall), top-{TOP_K}, macro-F1"]
    for prior, figures in priors.items():
        for scoring, row in (("per pair", figures), ("per name", figures["by_name"])):
            lines.append(f"  {prior:<8} {scoring:<8}  " + "  ".join(f"{row[k]:.4f}" for k in HEADLINE))
    return lines


def calibration_report(
    adjust: Callable, raw: Tensor, labels: Tensor, temperature: float, png: Optional[Path], split: str
) -> dict:
    """ECE (equal-width bins) and NLL of a split before and after the temperature, under the data
    prior and under the uniform prior (the split reweighted to equal languages), and the
    reliability diagram at ``png`` (when not None).

    ``adjust(raw, prior, calibrated) -> (M, C)`` applies the run's temperature and a prior to the
    data-prior log-probabilities ``raw`` (M, C); ``labels`` (M,).
    """
    weights = uniform_weights(labels, raw.shape[-1])
    before, after = adjust(raw, "data", False), adjust(raw, "data")
    uniform_before, uniform_after = adjust(raw, "uniform", False), adjust(raw, "uniform")
    report = {
        "temperature": temperature,
        "ece_bins": cal.ECE_BINS,
        "fitted_on": "valid",
        "nll": {"before": cal.nll(before, labels), "after": cal.nll(after, labels)},
        "ece": {
            "before": cal.expected_calibration_error(before, labels),
            "after": cal.expected_calibration_error(after, labels),
        },
        "ece_uniform": {
            "before": cal.expected_calibration_error(uniform_before, labels, weights=weights),
            "after": cal.expected_calibration_error(uniform_after, labels, weights=weights),
        },
    }
    if png is not None:
        curves = {
            "data prior, T = 1": cal.calibration_bins(before, labels),
            f"data prior, T = {temperature:.2f}": cal.calibration_bins(after, labels),
            f"uniform prior, T = {temperature:.2f} (reweighted)": cal.calibration_bins(
                uniform_after, labels, weights=weights
            ),
        }
        title = f"{split}: ECE ({cal.ECE_BINS} bins) {report['ece']['before']:.3f} -> {report['ece']['after']:.3f}"
        report["reliability_png"] = str(cal.plot_reliability(curves, png, title))
    return report


def describe(result: dict) -> str:
    """``rnnkit eval``'s text: totals both ways, the figures under each prior, calibration, then a
    per-language table (with the recall under the uniform prior)."""
    by_name, calib = result["by_name"], result["calibration"]
    lines = [
        f"{result['split']}, per (name, language) pair: accuracy {result['accuracy']:.4f}, "
        f"macro-F1 {result['macro_f1']:.4f} over {result['examples']:,} pairs "
        f"({result['multi_label_examples']} belong to names listed under 2+ languages)",
        f"{result['split']}, per distinct name (right if any of its languages): accuracy "
        f"{by_name['accuracy']:.4f}, macro-F1 {by_name['macro_f1']:.4f} over {by_name['examples']:,} names",
        *describe_priors(result["split"], result["priors"]),
        f"calibration: temperature {calib['temperature']:.3f} (fitted on valid); ECE "
        f"({calib['ece_bins']} equal-width bins) {calib['ece']['before']:.4f} -> {calib['ece']['after']:.4f}, "
        f"uniform prior {calib['ece_uniform']['before']:.4f} -> {calib['ece_uniform']['after']:.4f}; "
        f"NLL {calib['nll']['before']:.4f} -> {calib['nll']['after']:.4f}",
        f"{'per pair':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>7} {'recall (uniform)':>16}",
    ]
    for language, row in result["per_class"].items():
        lines.append(
            f"{language:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} "
            f"{row['support']:>7} {result['per_class_uniform_recall'][language]:>16.3f}"
        )
    for key, what in (("confusion_png", "confusion matrix (data prior)"), ("reliability_png", "reliability diagram")):
        where = result.get(key) or calib.get(key)
        if where:
            lines.append(f"{what}: {where}")
    return "\n".join(lines)
