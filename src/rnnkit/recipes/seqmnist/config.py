"""Sequential MNIST, configuration: the default sections of a run, its presets and the help of its options."""

from __future__ import annotations

from rnnkit.nn import CELL_CHOICES
from rnnkit.recipes.seqmnist.data import MnistConfig
from rnnkit.recipes.seqmnist.model import VectorClassifierConfig
from rnnkit.train.options import TrainConfig


def defaults():
    return {
        "data": MnistConfig(),
        "model": VectorClassifierConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=2e-3,
            schedule="cosine",
            max_minutes=13.0,
            anneal_by_time=True,
            warmup_steps=200,
            final_lr_ratio=0.01,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=1.0,
            monitor="accuracy",
        ),
    }


PIXELS = {
    "data": {"mode": "pixels"},
    "model": {"chrono": 784},  # chosen on validation over forget-gate bias 1 (issue 31)
    "train": {"max_minutes": 57.0, "eval_each_epoch": False, "eval_every": 500, "lr": 1e-3},
}
PRESETS = {
    # rows: the whole command within 15 minutes on 2 CPU cores (docs/recipes/seqmnist.md, issue 16)
    "cpu-quick": {
        "model": {"bidirectional": True, "dropout": 0.1},
        "data": {"shift": 2},
        "train": {"max_minutes": 13.0},
    },
    "pixels": PIXELS,
    # chrono init and lr 1e-3 learn permuted pixels far slower (validation 32% against 61% at step 1,000;
    # issue 31): the permuted order spreads the digit over the whole sequence, nothing to bridge
    "permuted": {**PIXELS, "data": {"mode": "permuted"}, "model": {}, "train": {**PIXELS["train"], "lr": 2e-3}},
    "irnn": {**PIXELS, "model": {"cell": "rnn_relu", "irnn": True}, "train": {**PIXELS["train"], "lr": 1e-4}},
}
HELP = {
    "data_dir": "folder holding mnist/ (default $RNNKIT_DATA or ../shared/data); a folder of idx files "
    "itself is used as given",
    "mode": "rows (28 steps), pixels (784 steps) or permuted (784, fixed order)",
    "cell": CELL_CHOICES,
    "valid_size": "training images held out for validation",
    "shift": "move training images by up to this many pixels each way (augmentation; 0 = off)",
    "permutation_seed": "seed of the fixed pixel order (saved in the checkpoint)",
    "chrono": "chrono initialisation of the gate biases for dependencies up to N steps (Tallec & "
    "Ollivier, 2018; LSTM/GRU; 0 = off)",
    "irnn": "identity-initialised ReLU RNN (Le et al., 2015; needs --cell rnn_relu)",
}
