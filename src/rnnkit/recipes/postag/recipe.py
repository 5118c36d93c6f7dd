"""Recipe: part-of-speech tagging (UPOS, XPOS, UFeats) on UD English EWT or any CoNLL-U treebank.

Train: ``rnnkit train postag`` (EWT from ``--data-dir`` / ``$RNNKIT_DATA`` / ``../shared/data``)
Tag: ``rnnkit tag RUN "The old man the boat ."`` or ``--input FILE.txt --format conllu``
Evaluate: ``rnnkit eval RUN --split test`` or ``--conllu FILE`` (accuracies, per tag, confusion PNG)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

from rnnkit.data.conllu import read_conllu
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families import pretrained
from rnnkit.files import atomic_write_text
from rnnkit.objectives.supervised import SupervisedObjective, mean_loss
from rnnkit.recipes import load
from rnnkit.recipes.postag.batches import TaggingVocab, collate
from rnnkit.recipes.postag.config import HELP, PRESETS, defaults
from rnnkit.recipes.postag.data import SPLITS, PosDataConfig, gold_tags, head_names, treebank_files
from rnnkit.recipes.postag.objective import accuracy, predict_tags, tagging_loss
from rnnkit.recipes.postag.trained import PosTagger, tagger_network, unknown_tag_warnings
from rnnkit.recipes.postag.use import EXPORT, TAG_COMMAND
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke


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


def report(run_dir: Path) -> str:
    """After training: test figures of the best checkpoint (report_test.json, confusion_test.png)."""
    tagger = load(run_dir)
    result = tagger.evaluate("test", confusion_png=run_dir / "confusion_test.png")
    atomic_write_text(run_dir / "report_test.json", json.dumps(result, indent=1) + "\n")
    return tagger.describe(result)


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
