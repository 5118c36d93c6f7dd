"""Names-gen recipe, configuration: the default sections of a run, its presets and the help of its options."""

from __future__ import annotations

from rnnkit.data.names_split import NamesDataConfig
from rnnkit.nn import CELL_CHOICES
from rnnkit.recipes.namesgen.model import NameGenConfig
from rnnkit.train.options import TrainConfig


def defaults():
    return {
        "data": NamesDataConfig(balance="none"),
        "model": NameGenConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=3e-3,
            schedule="cosine",
            max_epochs=0,
            max_steps=3000,
            warmup_steps=100,
            final_lr_ratio=0.02,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=1.0,
        ),
    }


PRESETS = {
    # chosen by measurement on a 2-core CPU; see docs/recipes/names-gen.md (issue 6)
    "cpu-quick": {"train": {"max_minutes": 9.0}},
}
HELP = {
    "data_dir": "folder holding names/, the [Language].txt files (default: the bundled tutorial data)",
    "balance": "none or sampler (rare languages drawn more often, see --balance-power)",
    "cell": CELL_CHOICES,
}
