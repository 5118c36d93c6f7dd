"""Recipe: which language is a surname from (18 classes, the PyTorch tutorial data).

Train: ``rnnkit train names`` (bundled data, or ``--data-dir`` with [Language].txt files)
Predict: ``rnnkit predict RUN_DIR Schmidhuber Hinton Nakamura --top 3`` (or names on stdin)
Evaluate: ``rnnkit eval RUN_DIR --split test`` (accuracy, macro-F1, per class, confusion PNG)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batches import pad_batch
from rnnkit.data.names import NameVocab, clean_names
from rnnkit.data.names_split import NamesDataConfig, load_split, run_split, split_meta, split_record
from rnnkit.models.classifier import ClassifierConfig, build_classifier
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.config import positive_int
from rnnkit.train.metrics import any_label_scores, classification_scores, plot_confusion
from rnnkit.train.options import TrainConfig
from rnnkit.train.recipe import Built, Command, Recipe, Smoke, TrainedModel, arg, split_arguments
from rnnkit.train.supervised import SupervisedObjective, class_weights, predict_in_batches



def defaults():
    # --balance none measured best on both accuracy and macro-F1 (benchmarks/RESULTS.md, issue 6)
    return {"data": NamesDataConfig(), "model": ClassifierConfig(),
            "train": TrainConfig(optimizer="adam", lr=3e-3, schedule="cosine", max_epochs=0,
                                 max_steps=3000, warmup_steps=100, final_lr_ratio=0.02,
                                 eval_every=0, eval_each_epoch=True, grad_clip=1.0)}


PRESETS = {
    # chosen by measurement on a 2-core CPU; see benchmarks/RESULTS.md (issue 6): three members
    # (3 min 46 s to 4 min 35 s) raise mean accuracy over one (1.5 min) and make it steadier
    # across seeds; they do not raise macro-F1
    "cpu-quick": {"model": {"members": 3}, "train": {"max_minutes": 9.0}},
}
HELP = {"data_dir": "folder of [Language].txt files (default: the bundled tutorial data)",
        "balance": "none, weighted or sampler", "cell": "lstm, gru, rnn_tanh or rnn_relu",
        "members": "classifiers trained side by side whose probabilities are averaged"}


def collate(examples: Sequence[tuple[Tensor, int]]):
    """(ids (N, L) padded with 0, lengths (N,), labels (N,)) from (ids, label) pairs."""
    ids, lengths = pad_batch([ids for ids, _ in examples])
    return ids, lengths, torch.tensor([label for _, label in examples])


def cross_entropy(weight: Optional[Tensor]):
    """The loss of a batch: every member's cross-entropy (``weight`` per class), averaged."""
    def loss(model, batch, reduction: str = "mean") -> tuple[Tensor, int]:
        ids, lengths, labels = batch
        device = next(model.parameters()).device
        logits = model.member_logits(ids.to(device), lengths)  # (K, N, C), K = 1 unless an ensemble
        targets = labels.to(device).repeat(len(logits))
        w = weight.to(device) if weight is not None else None
        return F.cross_entropy(logits.flatten(0, 1).float(), targets, weight=w,
                               reduction=reduction), len(labels)
    return loss


def predict_log_probs(model: nn.Module, encoded: Sequence[Tensor], batch_size: int = 256) -> Tensor:
    """Log-probabilities (M, C) for ``encoded`` names (each (L,)), batched by length."""
    device = next(model.parameters()).device

    def forward(batch):
        ids, lengths = pad_batch(batch)
        return F.log_softmax(model(ids.to(device), lengths).float(), dim=-1)
    return predict_in_batches(forward, encoded, len, model, batch_size)


def validation_scores(model, valid) -> dict[str, float]:
    log_probs = predict_log_probs(model, [ids for ids, _ in valid])
    labels = torch.tensor([label for _, label in valid])
    result = classification_scores(log_probs, labels, [str(c) for c in range(log_probs.shape[1])])
    return {"loss": result["loss"], "accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}


def score_split(log_probs: Tensor, pairs: Sequence[tuple[str, int]], names) -> dict:
    """Figures for the (name, label) ``pairs`` of a split given their log-probabilities (M, C):
    per pair at the top level, and per distinct name under ``by_name`` (right when any of its
    languages)."""
    result = classification_scores(log_probs, torch.tensor([label for _, label in pairs]), names.languages)
    pair_names, labels_of = [name for name, _ in pairs], names.label_sets()
    result["by_name"] = any_label_scores(log_probs.argmax(-1).tolist(), pair_names, labels_of,
                                         names.languages)
    result["examples"] = len(pairs)
    result["multi_label_examples"] = sum(len(labels_of[name]) > 1 for name in pair_names)
    return result


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata for a names run."""
    data: NamesDataConfig = sections["data"]
    names, assignment, parts = load_split(data, resume_meta)
    vocab = NameVocab.from_names([name for name, _ in parts["train"]])
    encode = lambda part: [(vocab.encode(name, warn=False), label) for name, label in parts[part]]  # noqa: E731
    print(f"names: {len(names.examples):,} names in {len(names.languages)} languages "
          f"({names.duplicates_removed:,} repeats within a language removed; {len(names.multi_label):,} "
          f"names under 2+ languages); split {', '.join(f'{k} {len(v):,}' for k, v in parts.items())}",
          file=sys.stderr)
    train = encode("train")
    labels = [label for _, label in train]
    weights = class_weights(labels, len(names.languages), data.balance_power)
    objective = SupervisedObjective(
        train, encode("valid"), collate, cross_entropy(weights if data.balance == "weighted" else None),
        length=lambda example: len(example[0]), batch_size=data.batch_size, seed=sections["train"].seed,
        evaluate=validation_scores, metrics={"loss": "min", "accuracy": "max", "macro_f1": "max"},
        sample_weights=weights[torch.tensor(labels)].double() if data.balance == "sampler" else None)
    model = build_classifier(len(vocab), len(names.languages), sections["model"])
    return Built(model, objective, dict(split_meta(names, assignment), vocab=vocab.to_json()))


class NameClassifier(TrainedModel):
    """A trained classifier: top languages of names, metrics on a split of the run's data."""

    config_defaults = staticmethod(defaults)

    @classmethod
    def build_model(cls, sections, meta: dict) -> nn.Module:
        return build_classifier(len(meta["vocab"]) + len(NameVocab.SPECIALS), len(meta["languages"]),
                                sections["model"])

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.vocab, self.languages = NameVocab.from_json(meta["vocab"]), meta["languages"]

    def log_probs(self, names: Sequence[str]) -> Tensor:
        """log p(language | name) (M, C), languages in :attr:`languages` order."""
        cleaned = clean_names(names, self.sections["data"].ascii)
        return predict_log_probs(self.model, [self.vocab.encode(name) for name in cleaned])

    def predict(self, names: Sequence[str], top: int = 3) -> list[list[tuple[float, str]]]:
        """For each name, its ``top`` languages as (log-probability, language), best first."""
        if top < 1:
            raise ValueError(f"--top: expected >= 1, got {top}")
        values, indices = self.log_probs(names).topk(min(top, len(self.languages)), dim=-1)
        return [[(float(v), self.languages[int(i)]) for v, i in zip(vs, ix)]
                for vs, ix in zip(values, indices)]

    def split(self, data_dir: Optional[str] = None):
        """(names data, examples per split) of the run, checked against its saved split."""
        return run_split(self.sections["data"], self.meta, data_dir)

    def evaluate(self, split: str = "test", data_dir: Optional[str] = None,
                 confusion_png: Optional[str | Path] = "auto") -> dict:
        """Accuracy, macro-F1, per-class precision/recall/F1 on a split of the run's data, scored two ways.

        Top level, per pair: each (name, language) pair is one example, so a
        name listed under two languages is right for at most one of them.
        ``by_name``: each distinct name once, right when the prediction is any
        of its languages; a wrong one is charged to its first language
        (:func:`~rnnkit.train.metrics.any_label_reference`).
        """
        names, parts = self.split(data_dir)
        log_probs = predict_log_probs(self.model, [self.vocab.encode(n, warn=False) for n, _ in parts[split]])
        result = score_split(log_probs, parts[split], names)
        result["split"] = split
        if confusion_png == "auto":  # beside the checkpoint
            confusion_png = self.run_dir / f"confusion_{split}.png"
        if confusion_png is not None:
            result["confusion_png"] = str(confusion_png)
            plot_confusion(result["confusion"], self.languages, confusion_png,
                           f"{split}: accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}")
        result["confusion"] = result["confusion"].tolist()
        return result

    def describe(self, result: dict) -> str:
        """Totals both ways, then a per-class table."""
        by_name = result["by_name"]
        lines = [f"{result['split']}, per (name, language) pair: accuracy {result['accuracy']:.4f}, "
                 f"macro-F1 {result['macro_f1']:.4f} over {result['examples']:,} pairs "
                 f"({result['multi_label_examples']} belong to names listed under 2+ languages)",
                 f"{result['split']}, per distinct name (right if any of its languages): accuracy "
                 f"{by_name['accuracy']:.4f}, macro-F1 {by_name['macro_f1']:.4f} over {by_name['examples']:,} names",
                 f"{'per pair':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>7}"]
        for language, row in result["per_class"].items():
            lines.append(f"{language:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} "
                         f"{row['support']:>7}")
        if "confusion_png" in result:
            lines.append(f"confusion matrix: {result['confusion_png']}")
        return "\n".join(lines)


def format_predictions(names: Sequence[str], predictions) -> str:
    """The tutorial's layout: the name, then ``    (-0.19) German`` per language."""
    lines = []
    for name, top in zip(names, predictions):
        lines.append(name.strip())
        lines += [f"    ({log_prob:.2f}) {language}" for log_prob, language in top]
    return "\n".join(lines)


def _predict(classifier: NameClassifier, args) -> int:
    names = args.names or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not names:
        raise ValueError("no names given (as arguments or one per line on stdin)")
    print(format_predictions(names, classifier.predict(names, args.top)))
    return 0


def report(run_dir: Path) -> str:
    """After training: test metrics of the best checkpoint (report_test.json, confusion_test.png)
    and the split (split.json)."""
    classifier = NameClassifier.from_checkpoint(ckpt.load(run_dir))
    names, parts = classifier.split()
    ckpt.atomic_write_text(run_dir / "split.json",
                           json.dumps(split_record(names, parts), ensure_ascii=False, indent=0) + "\n")
    result = classifier.evaluate("test", confusion_png=run_dir / "confusion_test.png")
    ckpt.atomic_write_text(run_dir / "report_test.json", json.dumps(result, indent=1) + "\n")
    return classifier.describe(result)


PREDICT = Command("predict", "top languages of names", (
    arg("names", nargs="*", help="names to classify (default: one per line on stdin)"),
    arg("--top", type=positive_int, default=3, help="languages per name"),
), _predict)

RECIPE = Recipe(
    name="names", summary="the language of a surname (18 languages, the PyTorch tutorial data)",
    defaults=defaults, presets=PRESETS, build=build, trained=NameClassifier, commands=(PREDICT,),
    eval_arguments=split_arguments("the names folder (default: the run's)"),
    help=HELP, report=report,
    outputs=("split.json", "report_test.json", "confusion_train.png", "confusion_valid.png",
             "confusion_test.png"),
    smoke=Smoke(train=("--data-dir", "{fixtures}/names", "--embedding-dim", "8", "--hidden-size", "8",
                       "--batch-size", "16", "--max-steps", "6", "--max-minutes", "0", "--members", "2"),
                uses={"predict": ("Kateov", "Kateson", "--top", "2"), "eval": ("--split", "valid")},
                expect={"predict": r"^Kateov\n    \(-\d+\.\d\d\) \w+", "eval": r"^valid, per \(name"}),
)
