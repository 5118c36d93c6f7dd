"""Translate recipe, configuration: the default sections of a run, its presets and the help of its options."""

from __future__ import annotations

from rnnkit.families import pretrained
from rnnkit.families.seq2seq.bitext import BitextConfig
from rnnkit.families.seq2seq.model import Seq2SeqConfig
from rnnkit.families.seq2seq.pairs import PairLossConfig
from rnnkit.train.options import TrainConfig

SPLITS = ("train", "valid", "test")


def defaults():
    return {
        "data": BitextConfig(),
        "model": Seq2SeqConfig(embedding_dim=512, tie_embeddings=True),
        "embeddings": pretrained.PairPretrainedConfig(),
        "loss": PairLossConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=2e-3,
            schedule="cosine",
            max_steps=0,
            max_minutes=55.0,
            anneal_by_time=True,
            warmup_steps=200,
            final_lr_ratio=0.02,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=1.0,
            monitor="bleu",
        ),
    }


PRESETS = {
    # the 60-minute budget on 2 CPU cores (training, validation BLEU each pass, the test report)
    "cpu-quick": {"train": {"max_minutes": 55.0}},
    # the PyTorch tutorial's setting: French -> English, normalised, < 10 words, "i am / he is ..."
    "eng-fra": {
        "data": {
            "dataset": "eng-fra",
            "src": "fr",
            "tgt": "en",
            "columns": "en,fr",
            "lowercase": True,
            "ascii_fold": True,
            "tutorial_punctuation": True,
            "max_length": 10,
            "english_prefixes": True,
            "min_freq": 1,
        },
        "model": {"embedding_dim": 256, "hidden_size": 512, "encoder_layers": 1},
        "train": {"max_minutes": 17.0},
    },
}
HELP = {
    "dataset": "multi30k, eng-fra, a folder of {train,val,test}.LANG files or a TSV of pairs",
    "data_dir": "folder holding named data sets (default $RNNKIT_DATA or ../shared/data)",
    "attention": "none (Cho et al.), bahdanau (additive) or luong (global)",
    "score": "Luong score: dot, general or concat",
    "input_feeding": "Luong input feeding",
    "teacher_forcing_final": "teacher-forcing ratio at the end of the run (-1 = as at the start)",
    **pretrained.HELP,
}
