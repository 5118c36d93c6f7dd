"""Chat recipe, data side: the options of a run's dialogue (:class:`ChatDataConfig`) and its pairs with
their seeded split (:func:`load_dialogue`; the readers are in :mod:`rnnkit.recipes.chat.dialogue`
and :mod:`rnnkit.recipes.chat.shakespeare`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rnnkit.bounds import MAX_COUNT, batch
from rnnkit.families.seq2seq.bitext import preparer
from rnnkit.families.seq2seq.parallel import Pair
from rnnkit.families.seq2seq.splits import split_indices
from rnnkit.recipes.chat.dialogue import (
    conversation_pairs,
    read_cornell,
    read_pairs,
    split_conversations,
)
from rnnkit.recipes.chat.shakespeare import shakespeare_conversations
from rnnkit.train.config import PATH, bound, only_with

SPLITS = ("train", "valid", "test")


@dataclass
class ChatDataConfig:
    """Dialogue pairs, normalised and trimmed like the PyTorch chatbot tutorial.

    Attributes:
        dataset: ``shakespeare`` (bundled), a Cornell Movie-Dialogs folder (``movie_lines.txt``,
            ``movie_conversations.txt``) or a TSV of ``utterance<TAB>reply``.
        lowercase, ascii_fold, tutorial_punctuation: the tutorial's normalisation.
        max_length: words kept of each utterance and reply (longer ones are cut).
        min_freq: words seen fewer times in training become ``<unk>`` (the tutorial trims at 3).
        skip_bad_lines: skip (and count) malformed Cornell or TSV lines.
        valid_fraction, test_fraction: the seeded split of conversations (of pairs for a TSV).
        tokenizer, vocab_size: ``regex`` words, or ``bpe`` / ``unigram`` subwords.
        batch_size: pairs per batch.
        ignore_prompt: the baseline that tests whether the bot listens: every utterance is replaced
            by one fixed word, so the model becomes a language model of the replies alone.
    """

    dataset: str = field(default="shakespeare", metadata=PATH)
    lowercase: bool = True
    ascii_fold: bool = True
    tutorial_punctuation: bool = True
    max_length: int = field(default=20, metadata=bound(1, 10_000))
    min_freq: int = field(default=3, metadata={**bound(1, MAX_COUNT), **only_with("tokenizer", "regex")})
    skip_bad_lines: bool = False
    valid_fraction: float = field(default=0.05, metadata=bound(0, 0.5, open_low=True))
    test_fraction: float = field(default=0.05, metadata=bound(0, 0.5, open_low=True))
    tokenizer: str = "regex"
    vocab_size: int = field(default=8000, metadata={**bound(16, 10**6), **only_with("tokenizer", "bpe", "unigram")})
    batch_size: int = field(default=64, metadata=batch())
    ignore_prompt: bool = field(default=False, metadata=only_with("tokenizer", "regex"))


# the one utterance every pair gets under --ignore-prompt (a word the normalisation keeps)
NO_PROMPT = "prompt"


def first_words(text: str, words: int) -> str:
    """The first ``words`` words of ``text``."""
    return " ".join(text.split()[:words])


def _fits(saved: Optional[dict], count: int, item: str) -> Optional[dict]:
    """A checkpoint's saved split, its indices checked against the data's ``count`` items."""
    wrong = [i for name in SPLITS for i in (saved or {}).get(name, []) if not 0 <= i < count]
    if wrong:
        raise ValueError(
            f"the run's saved split names {item} {wrong[0]:,}, but the data has {count:,} "
            f"{item}s; the data changed since the run"
        )
    return saved


def load_dialogue(data: ChatDataConfig, seed: int, saved: Optional[dict] = None) -> tuple[dict, str, dict]:
    """({split: pairs}, origin, the split to keep in the checkpoint)."""
    prepare = preparer(data)
    if data.dataset == "shakespeare":
        conversations, origin = shakespeare_conversations(), "the bundled Tiny Shakespeare"
    elif Path(data.dataset).is_dir():
        folder = Path(data.dataset)
        conversations, report = read_cornell(
            folder / "movie_lines.txt", folder / "movie_conversations.txt", data.skip_bad_lines
        )
        origin = (
            f"{folder} ({report['bad_lines']:,} bad lines skipped, {report['missing_line_ids']:,} missing line ids)"
        )
    elif Path(data.dataset).is_file():
        pairs = read_pairs(data.dataset, data.skip_bad_lines)
        split = _fits(saved, len(pairs), "pair") or split_indices(
            len(pairs), seed, data.valid_fraction, data.test_fraction
        )
        return (
            {name: [_prepared(pairs[i], prepare, data) for i in split[name]] for name in SPLITS},
            data.dataset,
            split,
        )
    else:
        raise ValueError(
            f"--dataset {data.dataset}: expected shakespeare, a Cornell Movie-Dialogs folder or a "
            "TSV file of utterance<TAB>reply pairs"
        )
    split = _fits(saved, len(conversations), "conversation") or split_conversations(
        conversations, seed, data.valid_fraction, data.test_fraction
    )
    splits = {
        name: [_prepared(p, prepare, data) for p in conversation_pairs([conversations[i] for i in split[name]])]
        for name in SPLITS
    }
    return splits, origin, split


def _prepared(pair: Pair, prepare, data: ChatDataConfig) -> Pair:
    src = NO_PROMPT if data.ignore_prompt else first_words(prepare(pair.src), data.max_length)
    return Pair(src, first_words(prepare(pair.tgt), data.max_length), pair.line)
