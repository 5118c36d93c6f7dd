"""Names recipe, trained side: a classifier loaded from a checkpoint (:class:`NameClassifier`).

Shape legend: M names (or pairs), C languages. It gives log p(language | name) (M, C) under a chosen
prior with the run's temperature, its top languages per name, and figures on a split of the run's data
(scored by :mod:`rnnkit.recipes.names.evaluate`).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.data.names import NameVocab, clean_names
from rnnkit.data.names_split import run_split
from rnnkit.metrics import calibration as cal
from rnnkit.metrics.classification import plot_confusion
from rnnkit.objectives.supervised import classifier_log_probs
from rnnkit.recipes.names import evaluate as ev
from rnnkit.recipes.names.config import defaults
from rnnkit.recipes.names.evaluate import DEFAULT_PRIOR
from rnnkit.recipes.names.model import build_classifier
from rnnkit.train.meta import VOCAB, Need, digits, same_length_as
from rnnkit.train.ranges import TOP
from rnnkit.train.recipe import TrainedModel


class NameClassifier(TrainedModel):
    """A trained classifier: top languages of names under a chosen prior, with calibrated
    probabilities; figures on a split of the run's data."""

    config_defaults = staticmethod(defaults)

    meta_fields = {
        "vocab": VOCAB,
        "languages": VOCAB,
        "data_sha256": Need("string"),
        "split": Need("string", check=digits("012")),
        "train_counts": Need("integers", optional=True, minimum=0, check=same_length_as("languages")),
    }

    @classmethod
    def build_model(cls, sections, meta: dict) -> nn.Module:
        return build_classifier(len(meta["vocab"]) + len(NameVocab.SPECIALS), len(meta["languages"]), sections["model"])

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.vocab, self.languages = NameVocab.from_json(meta["vocab"]), meta["languages"]
        self._calibration: Optional[dict] = None
        counts = meta.get("train_counts")  # older runs: counted from the saved split
        if counts is None:
            labels = torch.tensor([label for _, label in self.split()[1]["train"]])
            counts = torch.bincount(labels, minlength=len(self.languages)).tolist()
        self.counts = list(counts)
        data = sections["data"]
        self.train_log_prior = ev.training_prior(self.counts, data.balance, data.balance_power).log()

    def log_prior(self, prior: str) -> Tensor:
        """Log-prior (C,) of ``data``, ``uniform`` or a weights file (:func:`names_eval.resolve_prior`)."""
        return ev.resolve_prior(prior, self.languages, self.counts)

    def raw_log_probs(self, encoded: Sequence[Tensor]) -> Tensor:
        """The model's log-probabilities (M, C), moved from its training prior to the data's
        (a no-op unless it trained with ``--balance``); no temperature."""
        shift = self.log_prior("data") - self.train_log_prior
        return torch.log_softmax(classifier_log_probs(self.model, encoded).double() + shift, -1)

    def calibration(self) -> dict:
        """The run's temperature, fitted on the validation split: calibration.json of the run
        directory, fitted and saved there when missing or fitted for another checkpoint
        (:func:`names_eval.calibration`; a checkpoint outside a run: fitted in memory)."""
        if self._calibration is None:
            self._calibration = ev.calibration(self.path, int(self.meta.get("step", -1)), self._fit_calibration)
        return self._calibration

    def _fit_calibration(self) -> dict:
        valid = self.split()[1]["valid"]
        log_probs = self.raw_log_probs([self.vocab.encode(n, warn=False) for n, _ in valid])
        return ev.fit_calibration(log_probs, torch.tensor([label for _, label in valid]))

    def adjust(self, log_probs: Tensor, prior: str, calibrated: bool = True) -> Tensor:
        """Data-prior log-probabilities (M, C) -> the run's temperature, then ``prior``."""
        if calibrated:
            log_probs = cal.apply_temperature(log_probs, self.calibration()["temperature"])
        return cal.prior_shift(log_probs, self.log_prior(prior), self.log_prior("data"))

    def log_probs(self, names: Sequence[str], prior: str = DEFAULT_PRIOR, calibrated: bool = True) -> Tensor:
        """log p(language | name) (M, C) under ``prior``, languages in :attr:`languages` order."""
        bounds.check_items(names, "name", "characters")
        cleaned = clean_names(names, self.sections["data"].ascii)
        self.log_prior(prior)  # a bad --prior fails before the model runs
        return self.adjust(self.raw_log_probs([self.vocab.encode(name) for name in cleaned]), prior, calibrated).float()

    def predict(self, names: Sequence[str], top: int = 3, prior: str = DEFAULT_PRIOR) -> list[list[tuple[float, str]]]:
        """For each name, its ``top`` languages as (log-probability, language), best first;
        languages the prior rules out (weight 0) are left out."""
        TOP.ensure(top)
        values, indices = self.log_probs(names, prior).topk(min(top, len(self.languages)), dim=-1)
        return [
            [(float(v), self.languages[int(i)]) for v, i in zip(vs, ix) if v > -math.inf]
            for vs, ix in zip(values, indices)
        ]

    def split(self, data_dir: Optional[str] = None):
        """(names data, examples per split) of the run, checked against its saved split."""
        return run_split(self.sections["data"], self.meta, data_dir)

    def evaluate(
        self, split: str = "test", data_dir: Optional[str] = None, prior: Optional[str] = None, plots: bool = True
    ) -> dict:
        """Figures on a split of the run's data under the data and the uniform prior (and
        ``prior``, a weights file, when given), scored two ways, and its calibration.

        Per pair (top level, and each entry of ``priors``): each (name, language)
        pair is one example, so a name listed under two languages is right for at
        most one of them. ``by_name``: each distinct name once, right when the
        prediction is any of its languages; a wrong one is charged to its first
        language (:func:`~rnnkit.metrics.classification.any_label_reference`). The top
        level holds the data prior's figures; ``calibration`` the ECE and NLL
        before and after temperature scaling. With ``plots``, confusion_<split>.png and
        reliability_<split>.png go into the checkpoint's run directory (none outside one:
        :func:`names_eval.owned_output`).
        """
        names, parts = self.split(data_dir)
        pairs = parts[split]
        labels = torch.tensor([label for _, label in pairs])
        raw = self.raw_log_probs([self.vocab.encode(n, warn=False) for n, _ in pairs])
        priors = [*ev.PRIORS, *([prior] if prior and prior not in ev.PRIORS else [])]
        label_sets = names.label_sets()  # once: it walks every name
        figures = {p: ev.split_figures(self.adjust(raw, p).float(), pairs, names, label_sets) for p in priors}
        result = figures["data"]
        result.update(
            split=split,
            examples=len(pairs),
            priors={p: ev.headline(f) for p, f in figures.items()},
            multi_label_examples=sum(len(label_sets[n]) > 1 for n, _ in pairs),
        )
        result["per_class_uniform_recall"] = {k: v["recall"] for k, v in figures["uniform"]["per_class"].items()}
        result["calibration"] = self.calibration_report(raw, labels, split, plots)
        confusion_png = plots and ev.owned_output(self.path, f"confusion_{split}.png")
        if confusion_png:
            result["confusion_png"] = str(confusion_png)
            plot_confusion(
                result["confusion"],
                self.languages,
                confusion_png,
                f"{split}: accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}",
            )
        result["confusion"] = result["confusion"].tolist()
        return result

    def calibration_report(self, raw: Tensor, labels: Tensor, split: str, plots: bool = True) -> dict:
        """ECE and NLL before and after the temperature, and reliability_<split>.png with
        ``plots`` (:func:`names_eval.calibration_report`)."""
        png = ev.owned_output(self.path, f"reliability_{split}.png") if plots else None
        return ev.calibration_report(self.adjust, raw, labels, self.calibration()["temperature"], png, split)

    def describe(self, result: dict) -> str:
        """Totals both ways, the figures under each prior, calibration, then a per-class table."""
        return ev.describe(result)
