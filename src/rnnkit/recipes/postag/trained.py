"""Postag recipe, trained side: a tagger loaded from a checkpoint (:class:`PosTagger`: tags of
sentences, figures on a treebank split or a CoNLL-U file), the network for a set of vocabularies,
and the warnings about gold tags unseen in training."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Optional

from rnnkit import bounds
from rnnkit.data.conllu import read_conllu
from rnnkit.metrics.classification import per_class_lines, plot_confusion
from rnnkit.recipes.postag.batches import TaggingVocab
from rnnkit.recipes.postag.config import defaults
from rnnkit.recipes.postag.data import SHOWN, gold_tags, treebank_files
from rnnkit.recipes.postag.model import Tagger, TaggerConfig
from rnnkit.recipes.postag.objective import accuracy, predict_tags, tag_report
from rnnkit.train.meta import VOCAB, Need
from rnnkit.train.recipe import TrainedModel


def tagger_network(vocab: TaggingVocab, config: TaggerConfig) -> Tagger:
    """The network for these vocabularies: one head per tag set, in their order (training builds it
    from the training data, a checkpoint from the vocabularies it kept)."""
    heads = {name: len(labels) for name, labels in vocab.labels.items()}
    return Tagger(len(vocab.words), len(vocab.chars), heads, config)


class PosTagger(TrainedModel):
    """A trained tagger: tags for sentences, figures on a treebank split or any CoNLL-U file."""

    config_defaults = staticmethod(defaults)

    meta_fields = {
        "vocab": Need("object"),
        "vocab.words": VOCAB,
        "vocab.chars": VOCAB,
        "vocab.labels": Need("object"),
        "vocab.labels.*": VOCAB,
        "training_forms": Need("strings"),
    }

    @classmethod
    def build_model(cls, sections, meta: dict) -> Tagger:
        return tagger_network(TaggingVocab.from_json(meta["vocab"]), sections["model"])

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.vocab = TaggingVocab.from_json(meta["vocab"])
        self.training_forms = set(meta["training_forms"])

    def tag(self, sentences: list[list[str]]) -> list[dict[str, list[str]]]:
        """Tags of each sentence (a list of words): ``[{"upos": [...], "xpos": [...], ...}]``."""
        bounds.check_items(sentences, "sentence", "words")
        bounds.check_items((w for s in sentences for w in s), "word", "characters")
        predicted = predict_tags(self.model, [self.vocab.encode(words) for words in sentences])
        return [{name: self.vocab.labels[name].decode(ids) for name, ids in p.items()} for p in predicted]

    def evaluate(
        self,
        split: str = "test",
        conllu: Optional[str] = None,
        data_dir: Optional[str] = None,
        confusion_png: Optional[str | Path] = "auto",
    ) -> dict:
        """Accuracy of every tag set on all words and on words unseen in training, per-UPOS
        figures and a confusion-matrix PNG, on a treebank split or the CoNLL-U file ``conllu``."""
        if conllu is not None:
            path, split = Path(conllu), Path(conllu).stem
        else:
            data = self.sections["data"]
            if data_dir is not None:
                data = dataclasses.replace(data, data_dir=data_dir)
            path = treebank_files(data)[split]
        sentences = read_conllu(path)
        unknown = unknown_tag_warnings(sentences, self.vocab, path)
        names = list(self.vocab.labels)
        examples = [self.vocab.encode(s.words, gold_tags(s, names)) for s in sentences]
        predicted = predict_tags(self.model, examples)
        unseen = [[w not in self.training_forms for w in s.words] for s in sentences]
        result = {
            "split": split,
            "file": str(path),
            "sentences": len(sentences),
            "words": sum(len(s.words) for s in sentences),
            "unknown_gold_tags": unknown,
        }
        for name in names:
            result[name] = accuracy(predicted, examples, name)[0]
        result["unseen_upos"], result["unseen_words"] = accuracy(predicted, examples, "upos", unseen)
        report = tag_report(predicted, examples, "upos", self.vocab.labels["upos"].tags)
        result["per_tag"] = report["per_class"]
        if confusion_png == "auto":  # beside the checkpoint
            confusion_png = self.run_dir / f"confusion_{split}.png"
        if confusion_png is not None:
            plot_confusion(
                report["confusion"],
                self.vocab.labels["upos"].tags,
                confusion_png,
                f"{split}: UPOS accuracy {result['upos']:.4f}",
            )
            result["confusion_png"] = str(confusion_png)
        return result

    def describe(self, result: dict) -> str:
        """Accuracies, then a per-UPOS-tag table."""
        shown = ", ".join(f"{SHOWN[n]} {result[n]:.2%}" for n in SHOWN if n in result)
        lines = [
            f"{result['split']}: {shown} over {result['words']:,} words of "
            f"{result['sentences']:,} sentences; words unseen in training: "
            f"{result['unseen_words']:,} ({result['unseen_words'] / max(result['words'], 1):.1%})"
            + (f", UPOS {result['unseen_upos']:.2%}" if result["unseen_words"] else ""),
            *per_class_lines(result["per_tag"], "UPOS", 8, skip_empty=True),
        ]
        if result["unknown_gold_tags"]:
            lines.append(f"{result['unknown_gold_tags']:,} gold tags were never seen in training (counted as errors)")
        if "confusion_png" in result:
            lines.append(f"confusion matrix: {result['confusion_png']}")
        return "\n".join(lines)


def unknown_tag_warnings(sentences, vocab: TaggingVocab, path) -> int:
    """Warn (file and line) about gold tags the model never saw in training; how many there are."""
    count = 0
    for sentence in sentences:
        for position in range(len(sentence.words)):
            for name, labels in vocab.labels.items():
                tag = getattr(sentence, name)[position]
                if tag not in labels.index:
                    count += 1
                    if count <= 5:
                        line = sentence.word_lines[position]
                        warnings.warn(f"{path}:{line}: {SHOWN[name]} tag {tag!r} not seen in training")
    if count > 5:
        warnings.warn(f"{path}: {count:,} gold tags in all were not seen in training (counted as errors)")
    return count
