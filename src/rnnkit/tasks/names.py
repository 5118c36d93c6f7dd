"""Recipe: which language is a surname from (18 classes, the PyTorch tutorial data).

Train: ``rnnkit train names`` (bundled data, or ``--data-dir`` with [Language].txt files)
Predict: ``rnnkit predict RUN_DIR Schmidhuber Hinton Nakamura --top 3`` (or names on stdin)
Evaluate: ``rnnkit eval RUN_DIR --split test`` (accuracy, macro-F1, per class, confusion PNG)
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batches import BatchCycler, pad_batch
from rnnkit.data.names import (NameVocab, NamesData, fold_ascii, read_names, split_examples,
                               stratified_split)
from rnnkit.models.classifier import ClassifierConfig, build_classifier
from rnnkit.train import config as cfg
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.metrics import (any_label_reference, classification_report, confusion_matrix,
                                  plot_confusion)
from rnnkit.train.trainer import TrainConfig

TASK = "names"
BALANCE = ("none", "weighted", "sampler")


@dataclass
class NamesDataConfig:
    """Names data, split and batching.

    Attributes:
        data_dir: folder of [Language].txt files; empty = the bundled tutorial data.
        ascii: fold names to ASCII as the tutorial does (default: keep Unicode).
        split_seed: seed of the stratified 80/10/10 train/valid/test split.
        batch_size: names per batch.
        balance: class imbalance: ``none``, ``weighted`` (loss weighted by
            inverse class frequency) or ``sampler`` (rare classes drawn more often).
        balance_power: how far to balance: weights (or sampling rates) are
            (inverse class frequency) ** power; 1 = fully balanced, 0 = none.
    """
    data_dir: str = ""
    ascii: bool = False
    split_seed: int = 0
    batch_size: int = 64
    balance: str = "none"
    balance_power: float = 0.5

    def __post_init__(self) -> None:  # checked when the config is resolved, before any run directory
        if self.balance not in BALANCE:
            raise ValueError(f"balance: expected one of {', '.join(BALANCE)}, got {self.balance!r}")
        if self.balance_power < 0:
            raise ValueError(f"balance_power: expected >= 0, got {self.balance_power}")


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


def default_preset(device: str) -> str:
    return "cpu-quick"


def load_split(data: NamesDataConfig, saved: Optional[dict] = None):
    """(names data, split assignment, examples per split); a saved split is checked against the data."""
    names = read_names(data.data_dir or None, ascii=data.ascii)
    if saved is not None:
        if saved["data_sha256"] != names.digest():
            raise ValueError(f"names data in {data.data_dir or 'the package'} changed since this "
                             "run was trained (different names or languages); its saved split no longer applies")
        assignment = saved["split"]
    else:
        assignment = stratified_split(names, seed=data.split_seed)
    return names, assignment, split_examples(names, assignment)


def split_meta(names: NamesData, assignment: str) -> dict:
    """What a checkpoint keeps so the same split can be rebuilt and checked."""
    return {"languages": names.languages, "split": assignment, "data_sha256": names.digest()}


def class_weights(labels: Sequence[int], num_classes: int, power: float = 1.0) -> Tensor:
    """Per-class weights (N / (C * count_c)) ** power; power 1 is sklearn's "balanced"."""
    counts = torch.bincount(torch.tensor(labels), minlength=num_classes).double()
    return (len(labels) / (num_classes * counts.clamp(min=1))).pow(power).float()


@torch.no_grad()
def predict_log_probs(model: nn.Module, encoded: Sequence[Tensor], batch_size: int = 256) -> Tensor:
    """Log-probabilities (M, C) for ``encoded`` names, batched by length, in the given order."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out = [None] * len(encoded)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        ids, lengths = pad_batch([encoded[i] for i in rows])
        log_probs = F.log_softmax(model(ids.to(device), lengths).float(), dim=-1).cpu()
        for row, i in enumerate(rows):
            out[i] = log_probs[row]
    model.train(was_training)
    return torch.stack(out)


class CycledObjective:
    """Base of the names objectives: the epoch and the resumable state of their batch cycle.

    Subclasses set ``self.cycler`` (a :class:`BatchCycler` over their training examples).
    """
    cycler: BatchCycler

    @property
    def epoch(self) -> int:
        return self.cycler.epoch

    def state_dict(self):
        tensors, meta = self.cycler.state_dict()
        return {f"cycler/{k}": v for k, v in tensors.items()}, {"cycler": meta}

    def load_state_dict(self, tensors, meta) -> None:
        self.cycler.load_state_dict({"generator": tensors["cycler/generator"]}, meta["cycler"])


class ClassifierObjective(CycledObjective):
    """Cross-entropy on length-bucketed padded batches; validation accuracy and macro-F1."""

    def __init__(self, train: list[tuple[Tensor, int]], valid: list[tuple[Tensor, int]],
                 num_classes: int, batch_size: int, balance: str, seed: int, power: float = 1.0) -> None:
        if balance not in BALANCE:
            raise ValueError(f"balance: expected one of {', '.join(BALANCE)}, got {balance!r}")
        self.train, self.valid, self.num_classes = train, valid, num_classes
        labels = [label for _, label in train]
        weights = class_weights(labels, num_classes, power)
        self.loss_weight = weights if balance == "weighted" else None
        per_example = weights[torch.tensor(labels)].double() if balance == "sampler" else None
        self.cycler = BatchCycler([len(ids) for ids, _ in train], batch_size, seed, per_example)

    def next_batch(self):
        rows = self.cycler.next()
        ids, lengths = pad_batch([self.train[i][0] for i in rows])
        return ids, lengths, torch.tensor([self.train[i][1] for i in rows])

    def step(self, model, batch) -> tuple[Tensor, int]:
        ids, lengths, labels = batch
        device = next(model.parameters()).device
        weight = self.loss_weight.to(device) if self.loss_weight is not None else None
        logits = model.member_logits(ids.to(device), lengths)  # (K, N, C), K = 1 unless an ensemble
        targets = labels.to(device).repeat(len(logits))
        return F.cross_entropy(logits.flatten(0, 1).float(), targets, weight=weight), len(labels)

    def evaluate(self, model) -> dict[str, float]:
        log_probs = predict_log_probs(model, [ids for ids, _ in self.valid])
        result = pair_report(log_probs, torch.tensor([label for _, label in self.valid]),
                             [str(c) for c in range(self.num_classes)])
        return {"loss": result["loss"], "accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}


def pair_report(log_probs: Tensor, labels: Tensor, languages: Sequence[str]) -> dict:
    """Loss, accuracy, macro-F1, per-class figures and the confusion matrix (C, C) (row = true
    class, column = prediction) of M examples, from log-probabilities (M, C) and labels (M,)."""
    confusion = confusion_matrix(log_probs.argmax(-1), labels, len(languages))
    report = classification_report(confusion, languages)
    report["loss"] = float(F.nll_loss(log_probs, labels))
    report["confusion"] = confusion
    return report


def score_split(log_probs: Tensor, pairs: Sequence[tuple[str, int]], names: NamesData) -> dict:
    """Figures for the (name, label) ``pairs`` of a split given their log-probabilities (M, C):
    per pair at the top level, and per distinct name under ``by_name`` (right when any of its
    languages)."""
    labels = torch.tensor([label for _, label in pairs])
    report = pair_report(log_probs, labels, names.languages)
    pair_names = [name for name, _ in pairs]
    labels_of = names.label_sets()
    report["by_name"] = score_by_name(log_probs.argmax(-1).tolist(), pair_names, labels_of, names.languages)
    report["examples"] = len(pairs)
    report["multi_label_examples"] = sum(len(labels_of[name]) > 1 for name in pair_names)
    return report


def build(sections, resume_meta: Optional[dict]):
    """Model, objective and checkpoint metadata for a names run."""
    data: NamesDataConfig = sections["data"]
    names, assignment, parts = load_split(data, resume_meta)
    vocab = NameVocab.from_names([name for name, _ in parts["train"]])
    encode = lambda part: [(vocab.encode(name, warn=False), label) for name, label in parts[part]]  # noqa: E731
    print(f"names: {len(names.examples):,} names in {len(names.languages)} languages "
          f"({names.duplicates_removed:,} repeats within a language removed; {len(names.multi_label):,} "
          f"names under 2+ languages); split {', '.join(f'{k} {len(v):,}' for k, v in parts.items())}",
          file=sys.stderr)
    model = build_classifier(len(vocab), len(names.languages), sections["model"])
    objective = ClassifierObjective(encode("train"), encode("valid"), len(names.languages),
                                    data.batch_size, data.balance, sections["train"].seed,
                                    data.balance_power)
    return model, objective, dict(split_meta(names, assignment), vocab=vocab.to_json())


class TrainedNames:
    """A trained names model (classifier or generator): model, vocabulary, languages, its split.

    Subclasses name ``model_class`` (called as ``model_class(vocab_size, num_languages,
    model_config)``) and ``config_defaults`` (their recipe's sections).
    """
    model_class: Callable[..., nn.Module]

    @staticmethod
    def config_defaults() -> dict:
        raise NotImplementedError

    def __init__(self, model, vocab: NameVocab, meta: dict) -> None:
        self.model, self.vocab, self.meta = model.eval(), vocab, meta
        self.languages = meta["languages"]

    @classmethod
    def from_checkpoint(cls, state: Checkpoint, device: str = "cpu"):
        sections = cfg.from_dict(cls.config_defaults(), state.meta["config"])
        vocab = NameVocab.from_json(state.meta["vocab"])
        model = cls.model_class(len(vocab), len(state.meta["languages"]), sections["model"])
        model.load_state_dict(state.section("model"))
        return cls(model.to(device), vocab, dict(state.meta, path=str(state.path)))

    def clean(self, names: Sequence[str]) -> list[str]:
        """Names as the model saw them in training: stripped, ASCII-folded if trained with ``--ascii``.

        Raises:
            ValueError: a name is empty, or has nothing left after folding (naming which one).
        """
        for number, name in enumerate(names, 1):
            if not name.strip():
                raise ValueError(f"name {number}: empty name")
        fold = self.meta["config"]["data"]["ascii"]
        cleaned = [fold_ascii(n.strip()) if fold else n.strip() for n in names]
        for number, (name, clean) in enumerate(zip(names, cleaned), 1):
            if not clean:
                raise ValueError(f"name {number}: {name.strip()!r} has no ASCII letters (the model "
                                 "was trained with --ascii)")
        return cleaned

    def run_split(self, data_dir: Optional[str] = None) -> tuple[NamesData, dict]:
        """(names data, examples per split) of the run, checked against its saved split."""
        data = cfg.replace(NamesDataConfig(), self.meta["config"]["data"], "data")
        if data_dir is not None:
            data.data_dir = data_dir
        names, _, parts = load_split(data, self.meta)
        return names, parts

    def write_split(self, run_dir: Path) -> Path:
        """split.json: the run's names per split and the names listed under several languages."""
        names, parts = self.run_split()
        languages = names.languages
        record = {split: [[name, languages[label]] for name, label in examples]
                  for split, examples in parts.items()}
        record["multi_label"] = {name: [languages[l] for l in labels]
                                 for name, labels in names.multi_label.items()}
        path = run_dir / "split.json"
        path.write_text(json.dumps(record, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        return path


class NameClassifier(TrainedNames):
    """A trained classifier: top languages of names, metrics on a split."""

    model_class = staticmethod(build_classifier)
    config_defaults = staticmethod(defaults)

    def predict(self, names: Sequence[str], top: int = 3) -> list[list[tuple[float, str]]]:
        """For each name, its ``top`` languages as (log-probability, language), best first."""
        if top < 1:
            raise ValueError(f"--top: expected >= 1, got {top}")
        log_probs = self.log_probs(names)
        values, indices = log_probs.topk(min(top, len(self.languages)), dim=-1)
        return [[(float(v), self.languages[int(i)]) for v, i in zip(vs, ix)]
                for vs, ix in zip(values, indices)]

    def log_probs(self, names: Sequence[str]) -> Tensor:
        """log p(language | name) (M, C), languages in :attr:`languages` order."""
        return predict_log_probs(self.model, [self.vocab.encode(name) for name in self.clean(names)])

    def evaluate_names(self, split: str = "test", data_dir: Optional[str] = None,
                       confusion_png: Optional[str | Path] = "auto") -> dict:
        """Accuracy, macro-F1, per-class precision/recall/F1 on a split of the run's data, scored two ways.

        Top level, per pair: each (name, language) pair is one example, so a
        name listed under two languages is right for at most one of them.
        ``by_name``: each distinct name once, right when the prediction is any
        of its languages; a wrong one is charged to its first language
        (:func:`~rnnkit.train.metrics.any_label_reference`).
        """
        names, parts = self.run_split(data_dir)
        log_probs = predict_log_probs(self.model, [self.vocab.encode(n, warn=False) for n, _ in parts[split]])
        result = score_split(log_probs, parts[split], names)
        result["split"] = split
        if confusion_png == "auto":  # beside the checkpoint
            confusion_png = Path(self.meta["path"]).parent / f"confusion_{split}.png"
        if confusion_png is not None:
            result["confusion_png"] = str(confusion_png)
            plot_confusion(result["confusion"], self.languages, confusion_png,
                           f"{split}: accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}")
        result["confusion"] = result["confusion"].tolist()
        return result

    @staticmethod
    def describe(result: dict) -> str:
        """A readable summary of :meth:`evaluate_names`: totals both ways, then a per-class table."""
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


def score_by_name(predicted: Sequence[int], pair_names: Sequence[str], labels_of: dict[str, set[int]],
                  languages: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and per-class figures with each distinct name counted once.

    ``predicted[i]`` is the prediction for the pair named ``pair_names[i]``
    (all pairs of one name share it); ``labels_of`` maps each name to its
    languages (:meth:`NamesData.label_sets`). A name is right when the
    prediction is any of them.
    """
    first = {}
    for i, name in enumerate(pair_names):
        first.setdefault(name, i)
    guesses = [predicted[i] for i in first.values()]
    references = any_label_reference(guesses, [labels_of[name] for name in first])
    confusion = confusion_matrix(torch.tensor(guesses), torch.tensor(references), len(languages))
    report = classification_report(confusion, languages)
    report["examples"] = len(guesses)
    return report


def format_predictions(names: Sequence[str], predictions) -> str:
    """The tutorial's layout: the name, then ``    (-0.19) German`` per language."""
    lines = []
    for name, top in zip(names, predictions):
        lines.append(name.strip())
        lines += [f"    ({log_prob:.2f}) {language}" for log_prob, language in top]
    return "\n".join(lines)


def report(run_dir: Path) -> str:
    """After training: test metrics of the best checkpoint (report_test.json, confusion_test.png)
    and the split (split.json)."""
    from rnnkit.tasks import load
    classifier = load(run_dir)
    classifier.write_split(run_dir)
    result = classifier.evaluate_names("test", confusion_png=run_dir / "confusion_test.png")
    (run_dir / "report_test.json").write_text(json.dumps(result, indent=1) + "\n")
    return classifier.describe(result)
