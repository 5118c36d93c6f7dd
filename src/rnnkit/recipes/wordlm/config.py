"""Wordlm recipe, configuration: the corpus and batching options (:class:`WordDataConfig`), the
default sections of a run and the help of its options (the paper presets are in ``recipe.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.bounds import MAX_STEPS, batch
from rnnkit.families import pretrained
from rnnkit.recipes.wordlm.model import WordLMConfig
from rnnkit.train.config import PATH, bound
from rnnkit.train.options import TrainConfig


@dataclass
class WordDataConfig:
    """Corpus and batching.

    Attributes:
        corpus: ``ptb``, ``wikitext-2`` or a folder with train/valid/test.txt.
        data_dir: where ``ptb/`` and ``wikitext-2/`` live (default
            ``$RNNKIT_DATA`` or ``../shared/data``); when given, a folder ``corpus`` is read
            from here too (:func:`rnnkit.data.corpus.corpus_folder`).
        batch_size: parallel training streams.
        seq_length: BPTT window (the base length under variable BPTT).
        variable_bptt: AWD-LSTM's random window lengths, learning rate scaled.
        eval_batch_size: streams for validation (10 in the papers).
        test_batch_size: streams for the test split (1 in the papers).
    """

    corpus: str = field(default="ptb", metadata=PATH)  # a name (ptb) or a folder
    data_dir: str = field(default="", metadata=PATH)
    batch_size: int = field(default=20, metadata=batch())
    seq_length: int = field(default=35, metadata=bound(1, MAX_STEPS))
    variable_bptt: bool = False
    eval_batch_size: int = field(default=10, metadata=batch())
    test_batch_size: int = field(default=1, metadata=batch())


def defaults():
    return {
        "data": WordDataConfig(),
        "model": WordLMConfig(),
        "embeddings": pretrained.PretrainedConfig(),
        "train": TrainConfig(
            optimizer="sgd",
            lr=20.0,
            grad_clip=0.25,
            schedule="plateau",
            max_epochs=40,
            eval_every=0,
            eval_each_epoch=True,
        ),
    }


HELP = {
    "corpus": "ptb, wikitext-2, or a folder with train.txt/valid.txt/test.txt",
    "data_dir": "folder holding ptb/ and wikitext-2/ (default $RNNKIT_DATA or ../shared/data); when given, "
    "a --corpus folder is read from here too",
    **pretrained.HELP,
}
