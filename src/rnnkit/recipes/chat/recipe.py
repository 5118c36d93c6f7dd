"""Recipe: a seq2seq chatbot on dialogue pairs (bundled Tiny Shakespeare, Cornell Movie-Dialogs, any TSV).

Train: ``rnnkit train chat`` (the bundled Shakespeare: each speech and the next one of the same
conversation form a pair)
Talk: ``rnnkit chat RUN`` (a ``> `` prompt on a terminal; one reply per stdin line otherwise; greedy,
so the same line gets the same reply; ``--temperature T --seed S`` samples, ``--beam 5`` searches)
Evaluate: ``rnnkit eval RUN --split test`` (reference perplexity, distinct-1/2 and reply length for
greedy, beam 5 and sampling, never emitting ``<unk>``, beside a unigram model and the most frequent reply)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from rnnkit.bounds import MAX_COUNT, batch
from rnnkit.data.batches import collate_pairs
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families import pretrained
from rnnkit.families.seq2seq.bitext import preparer
from rnnkit.families.seq2seq.model import Seq2SeqConfig
from rnnkit.families.seq2seq.pairs import PairLossConfig, TrainedPairModel, build_pairs, pair_example
from rnnkit.families.seq2seq.parallel import Pair, split_indices
from rnnkit.families.seq2seq.translator import SearchOptions, pair_loss
from rnnkit.metrics.classification import distinct_n, unigram_perplexity
from rnnkit.objectives.supervised import mean_loss
from rnnkit.recipes import report_on_test
from rnnkit.recipes.chat import use as chat_use
from rnnkit.recipes.chat.dialogue import (
    conversation_pairs,
    read_cornell,
    read_pairs,
    shakespeare_conversations,
    split_conversations,
)
from rnnkit.recipes.chat.use import MAX_REPLY
from rnnkit.train.config import PATH, bound, only_with
from rnnkit.train.meta import Need
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke

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


def _cut(text: str, words: int) -> str:
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
    src = NO_PROMPT if data.ignore_prompt else _cut(prepare(pair.src), data.max_length)
    return Pair(src, _cut(prepare(pair.tgt), data.max_length), pair.line)


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata of a chat run (best checkpoint by validation loss)."""
    splits, origin, split = load_dialogue(sections["data"], sections["train"].seed, (resume_meta or {}).get("split"))
    built = build_pairs(sections, splits, origin, preparer(sections["data"]), resume_meta, "chat", bleu=False)
    built.meta["split"] = split
    return built


class ChatBot(TrainedPairModel):
    """A trained chatbot: replies to lines, figures on a split of its dialogue data."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        **TrainedPairModel.meta_fields,
        "split": Need("object", optional=True),
        **{f"split.{name}": Need("integers", minimum=0) for name in ("train", "valid", "test")},
    }

    def replies(self, lines: list[str], options: SearchOptions) -> list:
        data = self.sections["data"]
        lines = [NO_PROMPT if data.ignore_prompt else _cut(line, data.max_length) for line in lines]
        return self.translator.translate(lines, options)

    def evaluate(
        self, split: str = "test", temperature: float = 0.8, top_k: int = 0, top_p: float = 0.9, seed: Optional[int] = 0
    ) -> dict:
        """Reference perplexity; distinct-1/2 and mean length of greedy, beam-5 and sampled replies;
        the unigram model's perplexity and the most frequent training reply on the same split."""
        splits, _, _ = load_dialogue(self.sections["data"], self.sections["train"].seed, self.meta.get("split"))
        pairs, train = splits[split], splits["train"]
        if not pairs:
            raise ValueError(f"split {split!r} of this run has no pairs")
        loss = mean_loss(self.model, [pair_example(self.translator, p) for p in pairs], collate_pairs, pair_loss)[
            "loss"
        ]
        result = {
            "split": split,
            "pairs": len(pairs),
            "perplexity": float(torch.tensor(loss).exp()),
            "ignore_prompt": self.sections["data"].ignore_prompt,
            **self._unigram(train, pairs),
        }
        cap = dict(max_ratio=0.0, max_extra=MAX_REPLY, no_unk=True)  # as `rnnkit chat` replies by default
        searches = {
            "greedy": SearchOptions(**cap),
            "beam 5": SearchOptions(beam=5, **cap),
            f"sampling (T={temperature:g}, top-p {top_p:g})": SearchOptions(
                temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, **cap
            ),
        }
        frequent = Counter(p.tgt for p in train).most_common(1)[0][0]
        result["most_frequent_reply"] = frequent
        outputs = {name: [t.text for t in self.replies([p.src for p in pairs], o)] for name, o in searches.items()}
        outputs["most frequent reply"] = [frequent] * len(pairs)
        result["replies"] = {name: _reply_figures(texts) for name, texts in outputs.items()}
        result["examples"] = [
            {"utterance": p.src, "reference": p.tgt, **{n: outputs[n][i] for n in outputs}}
            for i, p in enumerate(pairs[:10])
        ]
        return result

    def _unigram(self, train: list[Pair], pairs: list[Pair]) -> dict:
        """The add-one unigram baseline on the model's own terms (its target vocabulary, every other
        word one ``<unk>``, as the model scores it), the same per word (``open``), and the counts."""
        tok, vocab = self.translator.tgt_tokenizer.tokenize, self.translator.tgt_vocab
        known = set(vocab.tokens)

        def closed(seqs):
            return [[t if t in known else "<unk>" for t in seq] for seq in seqs]

        train_seqs, test_seqs = [tok(p.tgt) for p in train], [tok(p.tgt) for p in pairs]
        tokens = sum(len(s) + 1 for s in test_seqs)  # + </s>
        unknown = sum(t not in known for s in test_seqs for t in s)
        return {
            "unigram_perplexity": unigram_perplexity(
                closed(train_seqs), closed(test_seqs), end="<eos>", vocabulary=vocab.tokens
            ),
            "unigram_perplexity_open": unigram_perplexity(train_seqs, test_seqs),
            "tokens": tokens,
            "unk_tokens": unknown,
            "vocabulary": len(vocab.tokens),
        }

    def describe(self, result: dict) -> str:
        lines = [
            f"{result['split']}: perplexity {result['perplexity']:.2f} of the reference replies "
            f"(unigram baseline {result['unigram_perplexity']:.2f} on the same "
            f"{result['vocabulary']:,}-token vocabulary, {result['unk_tokens']:,} of {result['tokens']:,} "
            f"tokens <unk>) over {result['pairs']:,} pairs",
            f"{'replies':<32} {'distinct-1':>10} {'distinct-2':>10} {'mean words':>10}",
        ]
        for name, row in result["replies"].items():
            lines.append(f"{name:<32} {row['distinct_1']:>10.3f} {row['distinct_2']:>10.3f} {row['mean_words']:>10.2f}")
        return "\n".join(lines)


def _reply_figures(texts: list[str]) -> dict:
    words = [t.split() for t in texts]
    return {
        "distinct_1": distinct_n(words, 1),
        "distinct_2": distinct_n(words, 2),
        "mean_words": sum(map(len, words)) / max(len(words), 1),
    }


RECIPE = Recipe(
    name="chat",
    summary="a seq2seq chatbot on dialogue pairs (bundled Shakespeare, Cornell Movie-Dialogs, any TSV)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=ChatBot,
    commands=(chat_use.CHAT_COMMAND, chat_use.EXPORT),
    eval_params=(Param("split", str, "test", "split of the run's dialogue to score", choices=SPLITS),),
    help=HELP,
    report=report_on_test(),
    outputs=("report_test.json",) + export_outputs(("encoder", "decoder_step")),
    smoke=Smoke(
        train=(
            "--embedding-dim",
            "8",
            "--hidden-size",
            "8",
            "--encoder-layers",
            "1",
            "--batch-size",
            "8",
            "--max-minutes",
            "0",
            "--max-steps",
            "6",
            "--warmup-steps",
            "0",
            "--valid-fraction",
            "0.02",
            "--test-fraction",
            "0.02",
            "--max-length",
            "8",
        ),
        uses={
            "export": ("--format", "torchscript"),
            "chat": ("What is thy name?", "Whither goest thou?"),
            "eval": ("--split", "valid"),
        },
        expect={"chat": r"^[^\n]*\n[^\n]*\n$", "eval": r"^valid: perplexity \d+\.\d\d"},
    ),
)
