"""Recipe: part-of-speech tagging (UPOS, XPOS, UFeats) on UD English EWT or any CoNLL-U treebank.

Train: ``rnnkit train postag`` (EWT from ``--data-dir`` / ``$RNNKIT_DATA`` / ``../shared/data``)
Tag: ``rnnkit tag RUN "The old man the boat ."`` or ``--input FILE.txt --format conllu``
Evaluate: ``rnnkit eval RUN --split test`` or ``--conllu FILE`` (accuracies, per tag, confusion PNG)
"""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from pathlib import Path
from typing import Optional

from rnnkit import bounds
from rnnkit.data.conllu import format_conllu, read_conllu, sentences_from_text, write_conllu
from rnnkit.data.inputs import decode_utf8, read_input, read_stdin
from rnnkit.export import graphs
from rnnkit.export import ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families import pretrained
from rnnkit.files import atomic_write_text
from rnnkit.metrics.classification import per_class_lines, plot_confusion
from rnnkit.objectives.supervised import SupervisedObjective, mean_loss
from rnnkit.recipes import load
from rnnkit.recipes.postag.batches import TaggingVocab, collate
from rnnkit.recipes.postag.data import SHOWN, SPLITS, PosDataConfig, gold_tags, head_names, treebank_files
from rnnkit.recipes.postag.model import Tagger, TaggerConfig
from rnnkit.recipes.postag.objective import accuracy, predict_tags, tag_report, tagging_loss
from rnnkit.train.meta import VOCAB, Need
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.recipe import Built, Command, Recipe, Serving, Smoke, TrainedModel
from rnnkit.train.rundir import refuse_run_file


def defaults():
    return {
        "data": PosDataConfig(),
        "model": TaggerConfig(),
        "embeddings": pretrained.PretrainedConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=2e-3,
            schedule="cosine",
            max_steps=0,
            max_minutes=28.0,
            anneal_by_time=True,
            warmup_steps=100,
            final_lr_ratio=0.02,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=5.0,
            monitor="upos",
        ),
    }


PRESETS = {
    # the time budget keeps the whole command (training, dev evaluations, test report)
    # within 30 minutes on 2 CPU cores; see docs/recipes/postag.md
    "cpu-quick": {"train": {"max_minutes": 27.0}},
}
HELP = {
    "treebank": "folder with *-ud-{train,dev,test}.conllu, or its name under --data-dir",
    "data_dir": "folder holding named treebanks (default $RNNKIT_DATA or ../shared/data)",
    "char_dim": "character embedding size; 0 = no character features",
    "crf": "CRF output layer with Viterbi decoding for UPOS",
    "pretrained_vocab": "also give rows to the first N words of --pretrained-embeddings not in the "
    "training vocabulary (unseen words then start from their vectors)",
    **pretrained.HELP,
}


def tagger_network(vocab: TaggingVocab, config: TaggerConfig) -> Tagger:
    """The network for these vocabularies: one head per tag set, in their order (training builds it
    from the training data, a checkpoint from the vocabularies it kept)."""
    heads = {name: len(labels) for name, labels in vocab.labels.items()}
    return Tagger(len(vocab.words), len(vocab.chars), heads, config)


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata for a postag run."""
    data: PosDataConfig = sections["data"]
    files = treebank_files(data)
    train, dev = read_conllu(files["train"]), read_conllu(files["dev"])
    names = head_names(data)
    vectors_config = sections["embeddings"]
    if data.pretrained_vocab and not vectors_config.pretrained_embeddings:
        raise ValueError("pretrained_vocab: needs a vectors file (--pretrained-embeddings FILE)")
    vectors = pretrained.read(vectors_config.pretrained_embeddings)
    vocab = TaggingVocab.from_sentences(
        [s.words for s in train], {n: [getattr(s, n) for s in train] for n in names}, data.min_count
    )
    extra = pretrained.extra_words(vectors, vocab.words.symbols, data.pretrained_vocab)
    vocab = vocab.extended(extra)
    if resume_meta is not None and resume_meta.get("vocab") != vocab.to_json():
        raise ValueError(
            f"{files['train']}: the training data changed since the run started; resume needs the same treebank"
        )
    unknown_tag_warnings(dev, vocab, files["dev"])
    print(
        f"postag: {len(train):,} training sentences ({sum(len(s.words) for s in train):,} words), "
        f"{len(dev):,} dev; {len(vocab.words):,} words in the vocabulary (min_count "
        f"{data.min_count}); tags: " + ", ".join(f"{n} {len(vocab.labels[n])}" for n in names),
        file=sys.stderr,
    )
    encode = lambda part: [vocab.encode(s.words, gold_tags(s, names)) for s in part]  # noqa: E731

    def validate(model, examples) -> dict[str, float]:
        predicted = predict_tags(model, examples)
        return {
            "loss": mean_loss(model, examples, collate, tagging_loss)["loss"],
            **{name: accuracy(predicted, examples, name)[0] for name in names},
        }

    objective = SupervisedObjective(
        encode(train),
        encode(dev),
        collate,
        tagging_loss,
        length=len,
        batch_size=data.batch_size,
        seed=sections["train"].seed,
        evaluate=validate,
        metrics={"loss": "min", **{name: "max" for name in names}},
        unit="words",
    )
    model = tagger_network(vocab, sections["model"])
    frozen, report = pretrained.initialise(
        model.words,
        vocab.words.symbols,
        vectors,
        vectors_config.freeze_embeddings,
        vectors_config.pretrained_embeddings,
        "postag",
        skip=2,
        scale=vectors_config.pretrained_scale,
    )
    meta = {"vocab": vocab.to_json(), "training_forms": sorted({w for s in train for w in s.words})}
    if report:
        meta["pretrained_embeddings"] = dict(report, extra_words=len(extra))
    return Built(model, objective, meta, tuple(frozen))


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


def _tag(tagger: PosTagger, values) -> int:
    if values.text and values.input:
        raise ValueError("give sentences as arguments or --input FILE, not both")
    if values.output and not Path(values.output).resolve().parent.is_dir():
        raise ValueError(f"--output {values.output}: the folder {Path(values.output).parent} does not exist")
    if values.output:
        refuse_run_file(values.output, "--output")  # never a file of a run
    if values.input:
        text = decode_utf8(read_input(values.input, f"--input {values.input}", "a text file"), values.input)
    else:
        text = "\n".join(values.text) if values.text else read_stdin()
    sentences = sentences_from_text(text)
    tags = tagger.tag([s.words for s in sentences])
    if values.format == "conllu":
        for sentence, tagged in zip(sentences, tags):
            sentence.upos, sentence.xpos = tagged["upos"], tagged.get("xpos", sentence.xpos)
            sentence.feats = tagged.get("feats", sentence.feats)
        if values.output:
            write_conllu(values.output, sentences)
            return 0
        out = format_conllu(sentences)
    elif values.format == "tsv":
        out = "\n\n".join(
            "\n".join(f"{w}\t{u}\t{x}" for w, u, x in zip(s.words, t["upos"], t.get("xpos", ["_"] * len(s.words))))
            for s, t in zip(sentences, tags)
        )
        out += "\n" if out else ""
    else:
        out = "".join(" ".join(f"{w}/{u}" for w, u in zip(s.words, t["upos"])) + "\n" for s, t in zip(sentences, tags))
    if values.output:
        atomic_write_text(values.output, out)
    else:
        sys.stdout.write(out)
    return 0


def serve_tag(tagger: PosTagger, values) -> dict:
    """``POST /tag``: each sentence's words (tokenized as the command line does) and their tags."""
    words = []
    for index, line in enumerate(values["text"]):
        sentences = sentences_from_text(line)
        if len(sentences) != 1:
            raise ValueError(
                f"field 'text': item {index} holds {len(sentences)} sentences; "
                "expected one, not empty and without line breaks"
            )
        words.append(sentences[0].words)
    return {"sentences": [{"words": w, **tags} for w, tags in zip(words, tagger.tag(words))]}


# batched: sentences are tagged independently, so concurrent requests share one tagger call
TAG_COMMAND = Command(
    "tag",
    "part-of-speech tags of plain text (one sentence a line)",
    (
        Param(
            "text",
            "strings",
            REQUIRED,
            "sentences to tag, one per item",
            positional=True,
            size=(1, 256),
            cli={"default": None, "help": "sentences to tag (default: --input FILE or stdin)"},
        ),
        Param("input", str, None, "UTF-8 text file, one sentence a line", http=False),
        Param(
            "format",
            str,
            "pairs",
            "pairs: word/UPOS; conllu: CoNLL-U with # text lines; tsv: word, UPOS, XPOS",
            choices=("pairs", "conllu", "tsv"),
            http=False,
        ),
        Param("output", str, None, "write here (atomically) instead of stdout", http=False),
    ),
    _tag,
    serve=Serving(serve_tag, example={"text": ["The old man the boat ."]}, batch="text", output="sentences"),
)


def report(run_dir: Path) -> str:
    """After training: test figures of the best checkpoint (report_test.json, confusion_test.png)."""
    tagger = load(run_dir)
    result = tagger.evaluate("test", confusion_png=run_dir / "confusion_test.png")
    atomic_write_text(run_dir / "report_test.json", json.dumps(result, indent=1) + "\n")
    return tagger.describe(result)


EXPORT = export_command(
    lambda t: graphs.tagger(
        len(t.vocab.words), len(t.vocab.chars), list(t.vocab.labels), bool(t.sections["model"].char_dim)
    ),
    ("vocab",),
    runtime=lambda t: {"ids": export_ids.tagger(t.vocab, bool(t.sections["model"].char_dim))},
)

RECIPE = Recipe(
    name="postag",
    summary="part-of-speech tagging (UPOS, XPOS, UFeats) of CoNLL-U treebanks, e.g. UD English EWT",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=PosTagger,
    commands=(TAG_COMMAND, EXPORT),
    eval_params=(
        Param("split", str, "test", "treebank split to score", choices=SPLITS),
        Param("conllu", str, None, "score this CoNLL-U file instead"),
        Param("data_dir", str, None, "folder holding the treebank (default: the run's)"),
    ),
    help=HELP,
    report=report,
    outputs=("report_test.json", "confusion_train.png", "confusion_dev.png", "confusion_test.png")
    + export_outputs(("tag",)),
    smoke=Smoke(
        train=(
            "--treebank",
            "{fixtures}/treebank",
            "--word-dim",
            "8",
            "--char-dim",
            "4",
            "--char-hidden",
            "4",
            "--hidden-size",
            "8",
            "--num-layers",
            "1",
            "--batch-size",
            "4",
            "--max-minutes",
            "0",
            "--max-steps",
            "6",
            "--warmup-steps",
            "0",
            "--min-count",
            "1",
        ),
        uses={"export": ("--format", "torchscript"), "tag": ("The old man the boat .",), "eval": ("--split", "dev")},
        expect={"tag": r"^The/\w+ old/\w+ man/\w+ the/\w+ boat/\w+ \./\w+\n$", "eval": r"^dev: UPOS \d+\.\d\d%"},
    ),
)
