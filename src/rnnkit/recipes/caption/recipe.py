"""Recipe: image captioning, a convolutional encoder and an LSTM decoder with visual attention.

Train: ``rnnkit train caption`` (generated shapes scenes), ``--dataset fashion-scenes``, or a COCO /
Karpathy JSON with ``--image-dir``; ``--encoder efficientnet-lite0 [--finetune-encoder]``,
``--attention none`` (Show and Tell)
Caption: ``rnnkit caption RUN image.png [more.png | folder ...] [--beam 5] [--attention-plot a.png]``
Evaluate: ``rnnkit eval RUN --split test|compositional [--beam 5]`` (BLEU, CIDEr-D, ROUGE-L and, on
generated scenes, the share of captions that are exactly true)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import torch

from rnnkit.data.token_vocab import Vocab
from rnnkit.families.vision import pretrained_state
from rnnkit.files import atomic_write_text
from rnnkit.metrics.captions import caption_scores, check_scorers
from rnnkit.objectives.supervised import mean_loss
from rnnkit.recipes import load
from rnnkit.recipes.caption.config import HELP, PRESETS, defaults
from rnnkit.recipes.caption.data import SPLITS, CaptionConfig, CaptionSplit, caption_words, kinds, load_split
from rnnkit.recipes.caption.model import Captioner
from rnnkit.recipes.caption.objective import CaptionObjective, caption_loss, collator
from rnnkit.recipes.caption.search import MAX_WORDS, caption_images
from rnnkit.recipes.caption.trained import TrainedCaptioner
from rnnkit.recipes.caption.truth import truth_scores
from rnnkit.recipes.caption.use import CAPTION
from rnnkit.train import final_report
from rnnkit.train.params import Param
from rnnkit.train.ranges import BEAM, LENGTH_PENALTY
from rnnkit.train.recipe import Built, Recipe, Smoke


def examples(split: CaptionSplit, vocab: Vocab) -> list[tuple[int, torch.Tensor]]:
    """(image row, ``<sos>`` + ids + ``<eos>``) for every reference caption of every image."""
    return [
        (row, torch.tensor([Vocab.SOS] + vocab.encode(caption_words(text)) + [Vocab.EOS]))
        for row, refs in enumerate(split.captions)
        for text in refs
    ]


def validator(valid: CaptionSplit, vocab: Vocab, data: CaptionConfig):
    """``evaluate(model, examples)``: the loss, and greedy captions' CIDEr-D, BLEU-4, exact share (generated
    scenes) and ``score``, the default monitor: the exact share on generated scenes, else CIDEr-D."""
    collate = collator(valid.images)
    references = valid.references()

    def validate(model, valid_examples) -> dict[str, float]:
        out = mean_loss(model, valid_examples, collate, caption_loss)
        hyps = [c.text for c in caption_images(model, vocab, valid.images)]
        scores = caption_scores(hyps, references)
        out.update(cider_d=scores["cider_d"], bleu4=scores["bleu4"])
        if valid.scenes is not None:
            out["exact"] = truth_scores(hyps, valid.scenes, kinds(data))["exact"]
        # what picks the best checkpoint: the truth where there is one, else the consensus with the references
        out["score"] = out.get("exact", out["cider_d"])
        return out

    return validate


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata of a captioning run."""
    check_scorers()  # validation scores CIDEr-D: fail now, not after the first evaluation
    if sections["model"].encoder != "resnet" and resume_meta is None:
        pretrained_state()  # the package is there (else one line naming the extra), its weights converted
    data: CaptionConfig = sections["data"]
    train, valid = load_split(data, "train"), load_split(data, "valid")
    vocab = Vocab.build([caption_words(text) for refs in train.captions for text in refs], data.min_count)
    if resume_meta is not None and vocab.to_json() != resume_meta["vocab"]:
        raise ValueError(f"{data.dataset}: the training captions changed since the run started; resume needs the same")
    train_examples, valid_examples = examples(train, vocab), examples(valid, vocab)
    print(
        f"caption: {data.dataset}: {len(train):,} training images ({len(train_examples):,} captions), "
        f"{len(valid):,} validation images; vocabulary {len(vocab):,} words",
        file=sys.stderr,
    )
    model = Captioner(len(vocab), sections["model"], pretrained=resume_meta is None)
    objective = CaptionObjective(
        train_examples,
        valid_examples,
        collator(train.images),
        caption_loss,
        length=lambda example: len(example[1]),
        batch_size=data.batch_size,
        seed=sections["train"].seed,
        evaluate=validator(valid, vocab, data),
        metrics={"loss": "min", "bits": "min", "cider_d": "max", "bleu4": "max", "exact": "max", "score": "max"},
        loss=sections["loss"],
    )
    return Built(model, objective, {"vocab": vocab.to_json(), "dataset": data.dataset})


def report(run_dir: Path) -> str:
    """After training: the best checkpoint's test scores, greedy and beam 5 (and the compositional
    split's on shapes) in report_test.json; greedy only with ``--final-report quick``."""
    model = load(run_dir)
    beams = (1,) if final_report.level(run_dir) == "quick" else (1, 5)
    splits = ("test", "compositional") if model.sections["data"].dataset == "shapes" else ("test",)
    results = [model.evaluate(split, beam=beam) for split in splits for beam in beams]
    atomic_write_text(run_dir / "report_test.json", json.dumps(results, indent=1) + "\n")
    return "\n".join(model.describe(r) for r in results)


RECIPE = Recipe(
    name="caption",
    summary="image captioning: a CNN encoder and an LSTM decoder with visual attention (shapes, fashion-scenes, COCO)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=TrainedCaptioner,
    commands=(CAPTION,),
    eval_params=(
        Param("split", str, "test", "split to score (compositional: shapes only)", choices=SPLITS),
        BEAM,
        LENGTH_PENALTY,
        MAX_WORDS,
        Param("data_dir", str, None, "folder holding fashion-mnist/ and mnist/ (default: the run's)"),
    ),
    help=HELP,
    report=report,
    outputs=("report_test.json", "eval_*_beam*.txt", "eval_*_beam*.json"),
    smoke=Smoke(
        train=(
            "--train-size",
            "48",
            "--valid-size",
            "8",
            "--test-size",
            "8",
            "--width",
            "4",
            "--embedding-dim",
            "8",
            "--hidden-size",
            "8",
            "--batch-size",
            "16",
            "--max-minutes",
            "0",
            "--max-steps",
            "6",
            "--warmup-steps",
            "0",
        ),
        uses={"caption": ("{fixtures}/caption/scenes",), "eval": ("--split", "valid", "--beam", "2")},
        expect={"caption": r"^(\S+\s+.*\n)+$", "eval": r"^valid: BLEU-4 \d+\.\d\d"},
    ),
)
