"""Postag recipe, configuration: the default sections of a run, its presets and the help of its options."""

from __future__ import annotations

from rnnkit.families import pretrained
from rnnkit.recipes.postag.data import PosDataConfig
from rnnkit.recipes.postag.model import TaggerConfig
from rnnkit.train.options import TrainConfig


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
