"""Scores of an image classifier on a split: accuracy, per-class figures, the confusion matrix and
the most confident mistakes, with PNGs of the matrix and of those mistakes (:func:`score_split`),
and their readable summary (:func:`describe_scores`). Shapes: M images (C, H, W) uint8, K classes.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from rnnkit.metrics.classification import classification_scores, per_class_lines, plot_confusion
from rnnkit.train.params import Param
from rnnkit.train.plots import plot_digits

#: mistakes shown in ``mistakes_<split>.png``
SHOWN = 32
#: ``rnnkit eval RUN``'s parameters for an image classifier recipe
EVAL_PARAMS = (
    Param("split", str, "test", "which images to score", choices=("train", "valid", "test")),
    Param("data_dir", str, None, "the data folder (default: the run's)"),
)
#: the files :func:`score_split` (and the report after training) writes in a run directory
SCORE_FILES = ("report_test.json", "confusion_*.png", "mistakes_*.png")


def score_split(
    log_probs: Tensor, labels: Tensor, images: Tensor, classes: list[str], folder: Path, split: str, about: str
) -> dict:
    """Figures of ``log_probs`` (M, K) against ``labels`` (M,); ``confusion_<split>.png`` and
    ``mistakes_<split>.png`` (the :data:`SHOWN` most confident mistakes among ``images``) written
    in ``folder``, titled with ``about`` (e.g. the data set)."""
    result = classification_scores(log_probs, labels, classes)
    result.update(split=split, examples=len(labels))
    title = f"{split}: accuracy {100 * result['accuracy']:.2f}% ({about})"
    plot_confusion(result["confusion"], classes, folder / f"confusion_{split}.png", title)
    confidence, predicted = log_probs.exp().max(-1)
    wrong = (predicted != labels).nonzero().flatten()
    worst = wrong[confidence[wrong].argsort(descending=True)][:SHOWN]
    result["misclassified"] = len(wrong)
    result["confident_mistakes"] = [
        {"index": int(i), "true": classes[labels[i]], "predicted": classes[predicted[i]], "p": float(confidence[i])}
        for i in worst
    ]
    shown = images[worst].permute(0, 2, 3, 1).squeeze(-1) if len(worst) else images[:0, 0]
    plot_digits(
        shown.numpy(),
        [f"{classes[labels[i]][:9]}->{classes[predicted[i]][:9]} {float(confidence[i]):.2f}" for i in worst],
        folder / f"mistakes_{split}.png",
        f"{split}: the {len(worst)} most confident of {len(wrong)} mistakes (true->predicted p)",
    )
    result["figures"] = [str(folder / f"confusion_{split}.png"), str(folder / f"mistakes_{split}.png")]
    result["confusion"] = result["confusion"].tolist()
    return result


def describe_scores(result: dict, classes: list[str]) -> str:
    """The lines ``rnnkit eval`` prints for :func:`score_split`'s result."""
    lines = [
        f"{result['split']}: accuracy {100 * result['accuracy']:.2f}% ({result['misclassified']} of "
        f"{result['examples']:,} wrong), macro-F1 {result['macro_f1']:.4f}",
        *per_class_lines(result["per_class"], "class", max(len(c) for c in classes)),
    ]
    top = result["confident_mistakes"][:3]
    if top:
        lines.append(
            "most confident mistakes: "
            + "; ".join(f"#{m['index']} {m['true']} as {m['predicted']} (p {m['p']:.3f})" for m in top)
        )
    lines.append(f"figures: {', '.join(result['figures'])}")
    return "\n".join(lines)
