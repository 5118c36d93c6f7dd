"""Chat recipe, configuration: the default sections of a run, its presets and the help of its options."""

from __future__ import annotations

from rnnkit.families import pretrained
from rnnkit.families.seq2seq.model import Seq2SeqConfig
from rnnkit.families.seq2seq.pairs import PairLossConfig
from rnnkit.recipes.chat.data import ChatDataConfig
from rnnkit.train.options import TrainConfig


def defaults():
    return {
        "data": ChatDataConfig(),
        "model": Seq2SeqConfig(
            cell="gru",
            embedding_dim=256,
            hidden_size=512,
            encoder_layers=2,
            decoder_layers=1,
            attention="luong",
            score="dot",
            dropout=0.4,
            tie_embeddings=True,
        ),
        "embeddings": pretrained.PairPretrainedConfig(),
        "loss": PairLossConfig(label_smoothing=0.0),
        "train": TrainConfig(
            optimizer="adam",
            lr=1e-3,
            schedule="cosine",
            max_steps=0,
            max_minutes=13.0,
            anneal_by_time=True,
            warmup_steps=100,
            final_lr_ratio=0.05,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=1.0,
            monitor="loss",
            patience=3,
        ),
    }


# the whole command within 15 minutes on 2 cores; on the 6,588 Shakespeare training pairs validation
# perplexity bottoms out after a few passes, so early stopping (patience 3) usually ends it sooner
PRESETS = {"cpu-quick": {"train": {"max_minutes": 13.0}}}
HELP = {
    "dataset": "shakespeare (bundled), a Cornell Movie-Dialogs folder, or a TSV of utterance<TAB>reply",
    "max_length": "words kept of each utterance and reply",
    "ignore_prompt": "baseline: replace every utterance by one fixed word (a language model of the replies)",
    **pretrained.HELP,
}
