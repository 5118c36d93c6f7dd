"""What every sentence-pair recipe (translate, chat) builds the same way: tokenizers and
vocabularies from the training side, encoded examples, the encoder-decoder, its objective
and the checkpoint metadata.

Data flows: pairs (already normalised) -> tokenizers (trained on the training split when
subword) -> vocabularies -> (source ids + <eos>, <sos> + target ids + <eos>) -> batches.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from rnnkit.data.batches import collate_pairs
from rnnkit.data.subword import RegexTokenizer, SentencePieceTokenizer, tokenizer_from_json
from rnnkit.data.token_vocab import Vocab
from rnnkit.families import pretrained
from rnnkit.families.seq2seq.bitext import preparer
from rnnkit.families.seq2seq.model import Seq2Seq
from rnnkit.families.seq2seq.parallel import Pair
from rnnkit.families.seq2seq.translator import PairObjective, Translator, pair_loss
from rnnkit.metrics.bleu import corpus_scores
from rnnkit.objectives.supervised import mean_loss
from rnnkit.train.config import bound
from rnnkit.train.meta import Need, starts_with
from rnnkit.train.recipe import Built, TrainedModel


@dataclass
class PairLossConfig:
    """Training signal: label smoothing, teacher forcing (linear from the first ratio to the final).

    Attributes:
        label_smoothing: mass spread over the other tokens (0 = plain cross-entropy).
        teacher_forcing: probability of reading the gold previous token at the start.
        teacher_forcing_final: the same at the end of the run (negative = as at the start).
    """

    label_smoothing: float = field(default=0.1, metadata=bound(0, 1, open_high=True))
    teacher_forcing: float = field(default=1.0, metadata=bound(0, 1))
    teacher_forcing_final: float = field(default=-1.0, metadata=bound(-1, 1))


def make_tokenizer(kind: str, vocab_size: int, sentences: list[str], seed: int):
    """``regex`` (exact words and punctuation) or a sentencepiece ``bpe`` / ``unigram`` model
    trained on ``sentences``."""
    if kind == "regex":
        return RegexTokenizer()
    return SentencePieceTokenizer.train(sentences, vocab_size, kind, seed=seed)


def pair_example(translator: Translator, pair: Pair) -> tuple[torch.Tensor, torch.Tensor]:
    """(source ids + <eos> (S,), <sos> + target ids + <eos> (T + 2,))."""
    src = translator.source_ids(translator.src_tokenizer.tokenize(pair.src))
    tgt = [Vocab.SOS] + translator.tgt_vocab.encode(translator.tgt_tokenizer.tokenize(pair.tgt)) + [Vocab.EOS]
    return torch.tensor(src), torch.tensor(tgt)


def vector_words(vocab: Vocab, tokenizer) -> list[str]:
    """The word each row of ``vocab`` stands for in a word-vectors file: the token itself for
    word tokenizers, a sentencepiece piece's word when it starts one (``▁house`` -> ``house``),
    else "" (found in no file)."""
    if isinstance(tokenizer, RegexTokenizer):
        return list(vocab.tokens)
    return [t[1:] if t.startswith("\u2581") and len(t) > 1 else "" for t in vocab.tokens]


def initialise_embeddings(model: Seq2Seq, config, vocabs, tokenizers, task: str) -> tuple[list, dict]:
    """Start the source / target embeddings from ``config``'s vectors files
    (:class:`~rnnkit.families.pretrained.PairPretrainedConfig`); (callbacks, report per side)."""
    callbacks, reports = [], {}
    if config is None:
        return callbacks, reports
    files = {"src": config.pretrained_embeddings, "tgt": getattr(config, "pretrained_target_embeddings", "")}
    embeddings = {"src": model.src_embedding, "tgt": model.tgt_embedding}
    for (side, path), vocab, tokenizer in zip(files.items(), vocabs, tokenizers):
        if path:
            frozen, reports[side] = pretrained.initialise(
                embeddings[side],
                vector_words(vocab, tokenizer),
                pretrained.read(path),
                config.freeze_embeddings,
                path,
                f"{task} ({side})",
                skip=len(Vocab.SPECIALS),
                scale=config.pretrained_scale,
            )
            callbacks += frozen
    return callbacks, reports


def translator_from_meta(model, prepare: Callable[[str], str], meta: dict) -> Translator:
    """The :class:`Translator` of a checkpoint's metadata (tokenizers and vocabularies)."""
    return Translator(
        model,
        prepare,
        tokenizer_from_json(meta["src_tokenizer"]),
        tokenizer_from_json(meta["tgt_tokenizer"]),
        Vocab.from_json(meta["src_vocab"]),
        Vocab.from_json(meta["tgt_vocab"]),
    )


def build_pairs(
    sections,
    splits: dict[str, list[Pair]],
    origin: str,
    prepare: Callable[[str], str],
    resume_meta: Optional[dict],
    task: str,
    bleu: bool,
) -> Built:
    """Model, objective and metadata of a run on ``splits`` (train, valid, test pairs).

    ``sections``: ``data`` (tokenizer, vocab_size, min_freq, batch_size), ``model``
    (:class:`~rnnkit.families.seq2seq.model.Seq2SeqConfig`), ``loss`` (label_smoothing, teacher
    forcing) and ``train``. Validation gives loss and perplexity, and greedy BLEU with ``bleu``.
    """
    data, seed = sections["data"], sections["train"].seed
    train, valid = splits["train"], splits["valid"]
    for name in ("train", "valid"):
        if not splits[name]:
            raise ValueError(
                f"{origin}: the {name} split has no pairs; give more data or a larger --{name}-fraction"
                if name == "valid"
                else f"{origin}: no training pairs"
            )
    if resume_meta is not None:
        tokenizers = [tokenizer_from_json(resume_meta[k]) for k in ("src_tokenizer", "tgt_tokenizer")]
    else:
        tokenizers = [
            make_tokenizer(data.tokenizer, data.vocab_size, [getattr(p, side) for p in train], seed)
            for side in ("src", "tgt")
        ]
    min_freq = data.min_freq if data.tokenizer == "regex" else 1
    vocabs = [
        Vocab.build([tok.tokenize(getattr(p, side)) for p in train], min_freq)
        for side, tok in zip(("src", "tgt"), tokenizers)
    ]
    if resume_meta is not None and [v.to_json() for v in vocabs] != [
        resume_meta["src_vocab"],
        resume_meta["tgt_vocab"],
    ]:
        raise ValueError(f"{origin}: the training data changed since the run started; resume needs the same data")
    print(
        f"{task}: {origin}: {len(train):,} training pairs, {len(valid):,} valid, {len(splits['test']):,} test; "
        f"vocabularies {len(vocabs[0]):,} / {len(vocabs[1]):,} ({data.tokenizer})",
        file=sys.stderr,
    )
    model = Seq2Seq(len(vocabs[0]), len(vocabs[1]), sections["model"], sos=Vocab.SOS)
    frozen, reports = initialise_embeddings(model, sections.get("embeddings"), vocabs, tokenizers, task)
    translator = Translator(model, prepare, *tokenizers, *vocabs)

    def validate(model, examples) -> dict[str, float]:
        loss = mean_loss(model, examples, collate_pairs, pair_loss)["loss"]
        out = {"loss": loss, "ppl": float(torch.tensor(loss).exp())}
        if bleu:
            hyps = [t.text for t in translator.translate([p.src for p in valid])]
            out["bleu"] = corpus_scores(hyps, [p.tgt for p in valid])["bleu"]
        return out

    lc = sections["loss"]
    objective = PairObjective(
        [pair_example(translator, p) for p in train],
        [pair_example(translator, p) for p in valid],
        collate_pairs,
        pair_loss,
        length=lambda x: len(x[0]),
        batch_size=data.batch_size,
        seed=seed,
        evaluate=validate,
        metrics={"loss": "min", "ppl": "min", **({"bleu": "max"} if bleu else {})},
        label_smoothing=lc.label_smoothing,
        teacher_forcing=lc.teacher_forcing,
        teacher_forcing_final=None if lc.teacher_forcing_final < 0 else lc.teacher_forcing_final,
    )
    meta = {
        "src_tokenizer": tokenizers[0].to_json(),
        "tgt_tokenizer": tokenizers[1].to_json(),
        "src_vocab": vocabs[0].to_json(),
        "tgt_vocab": vocabs[1].to_json(),
        "corpus": origin,
    }
    if reports:
        meta["pretrained_embeddings"] = reports
    return Built(model, objective, meta, tuple(frozen))


class TrainedPairModel(TrainedModel):
    """A trained sentence-pair model (translate, chat): the :class:`Seq2Seq` of a checkpoint
    and its :class:`Translator` (``self.translator``)."""

    meta_fields = {
        "src_tokenizer": Need("object"),
        "tgt_tokenizer": Need("object"),
        "src_tokenizer.model": Need("string", optional=True),
        "tgt_tokenizer.model": Need("string", optional=True),
        **{f"{side}_vocab": Need("strings", unique=True, check=starts_with(Vocab.SPECIALS)) for side in ("src", "tgt")},
    }

    @classmethod
    def build_model(cls, sections, meta: dict) -> Seq2Seq:
        return Seq2Seq(len(meta["src_vocab"]), len(meta["tgt_vocab"]), sections["model"], sos=Vocab.SOS)

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.translator = translator_from_meta(model, preparer(sections["data"]), meta)
