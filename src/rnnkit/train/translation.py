"""Translating with a trained encoder-decoder: text in, text out, in batches; BLEU and chrF.

Text flows: prepare (normalise) -> tokenizer -> vocabulary ids + ``<eos>`` -> model and
search (:mod:`rnnkit.decode`) -> ids -> tokens (``<unk>`` optionally replaced by the
source token with the most attention) -> detokenised text.

Shapes: N sentences, S source tokens (padded), T output tokens.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from rnnkit.data.subword import Vocab
from rnnkit.decode import (beam_search, check_sampling, forbid, greedy_search, no_repeat_ngram, repetition_penalty,
                           sample_token)

from .supervised import SupervisedObjective, evaluating


def pair_loss(model, batch, reduction: str = "mean", label_smoothing: float = 0.0,
              teacher_forcing: float = 1.0) -> tuple[Tensor, int]:
    """Cross-entropy of every real target token: logits (N, T, V) against batch.tgt_out (N, T),
    padding ignored; returns (loss, number of non-padding target tokens)."""
    device = next(model.parameters()).device
    logits = model(batch.src.to(device), batch.src_lengths, batch.tgt_in.to(device), teacher_forcing)
    gold = batch.tgt_out.to(device)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), gold.flatten(), ignore_index=Vocab.PAD,
                                             reduction=reduction, label_smoothing=label_smoothing)
    return loss, int((gold != Vocab.PAD).sum())


class PairObjective(SupervisedObjective):
    """Sentence pairs with label smoothing and a teacher-forcing ratio that moves linearly
    from ``teacher_forcing`` to ``teacher_forcing_final`` over the run (scheduled sampling)."""

    def __init__(self, *args, label_smoothing: float = 0.0, teacher_forcing: float = 1.0,
                 teacher_forcing_final: Optional[float] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.label_smoothing, self.teacher_forcing = label_smoothing, teacher_forcing
        self.teacher_forcing_final = teacher_forcing if teacher_forcing_final is None else teacher_forcing_final

    def ratio(self, progress: float) -> float:
        return self.teacher_forcing + (self.teacher_forcing_final - self.teacher_forcing) * progress

    def step(self, model, batch, info=None) -> tuple[Tensor, int]:
        ratio = self.ratio(info.progress if info is not None else 0.0)
        return pair_loss(model, batch, "mean", self.label_smoothing, ratio)


@dataclass
class Translation:
    """One translated sentence.

    ``source``: its tokens (``<eos>`` not included); ``tokens``: the output tokens;
    ``attention``: (len(tokens) [+1 for <eos>], len(source) + 1) weights or None;
    ``unknown``: source tokens outside the vocabulary.
    """
    text: str
    source: list[str]
    tokens: list[str]
    attention: Optional[Tensor]
    unknown: list[str]
    score: float = 0.0


@dataclass
class SearchOptions:
    """At most ``max_ratio`` * source length + ``max_extra`` tokens (ratio 0: a fixed cap).
    ``beam`` 1 is greedy (or sampling with ``temperature`` > 0, ``top_k``, ``top_p``, seeded by
    ``seed``); ``no_repeat_ngram``
    n > 0 blocks repeated n-grams, ``repetition_penalty`` > 1 discourages emitted tokens and
    ``no_unk`` never emits ``<unk>``."""
    beam: int = 1
    length_penalty: float = 1.0
    max_ratio: float = 2.0
    max_extra: int = 10
    replace_unk: bool = False
    batch_size: int = 64
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: Optional[int] = None
    no_repeat_ngram: int = 0
    repetition_penalty: float = 1.0
    no_unk: bool = False

    def constraint(self):
        """The search's ``constrain`` for these options (None without any)."""
        steps = ([no_repeat_ngram(self.no_repeat_ngram)] if self.no_repeat_ngram else []) + \
            ([repetition_penalty(self.repetition_penalty)] if self.repetition_penalty != 1.0 else []) + \
            ([forbid([Vocab.UNK])] if self.no_unk else [])
        if not steps:
            return None

        def constrain(log_probs: Tensor, history: Tensor) -> Tensor:
            for step in steps:
                log_probs = step(log_probs, history)
            return log_probs
        return constrain

    def check(self) -> None:
        if self.temperature and self.beam > 1:
            raise ValueError("--temperature samples one reply; it cannot be combined with --beam > 1")
        check_sampling(self.temperature, self.top_k, self.top_p)
        if self.no_repeat_ngram < 0 or self.repetition_penalty < 1 or not math.isfinite(self.repetition_penalty):
            raise ValueError("--no-repeat-ngram must be >= 0 and --repetition-penalty >= 1")
        if self.beam < 1:
            raise ValueError(f"--beam: expected >= 1, got {self.beam}")
        if self.length_penalty < 0 or not math.isfinite(self.length_penalty):
            raise ValueError(f"--length-penalty: expected a number >= 0, got {self.length_penalty}")
        if self.max_ratio < 0 or self.max_extra < 0 or not math.isfinite(self.max_ratio):
            raise ValueError("--max-ratio and --max-extra must be >= 0")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size: expected >= 1, got {self.batch_size}")


class Translator:
    """A model with its two sides' preparation, tokenizers and vocabularies.

    Args:
        model: a :class:`rnnkit.models.seq2seq.Seq2Seq` (``start``/``step``).
        prepare: source and target text normalisation (the run's), e.g. whitespace.
        src_tokenizer, tgt_tokenizer: ``tokenize``/``detokenize``.
        src_vocab, tgt_vocab: :class:`~rnnkit.data.subword.Vocab`.
    """

    def __init__(self, model, prepare: Callable[[str], str], src_tokenizer, tgt_tokenizer,
                 src_vocab: Vocab, tgt_vocab: Vocab) -> None:
        self.model, self.prepare = model, prepare
        self.src_tokenizer, self.tgt_tokenizer = src_tokenizer, tgt_tokenizer
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab

    def source_ids(self, tokens: Sequence[str]) -> list[int]:
        return self.src_vocab.encode(tokens) + [Vocab.EOS]

    def translate(self, sentences: Sequence[str], options: SearchOptions = SearchOptions()) -> list[Translation]:
        """Translations of ``sentences`` in their order; an empty (or all-space) one gives ``""``."""
        options.check()
        tokens = [self.src_tokenizer.tokenize(self.prepare(s)) for s in sentences]
        out: list[Optional[Translation]] = [None] * len(sentences)
        for i, toks in enumerate(tokens):
            if not toks:
                out[i] = Translation("", [], [], None, [])
        order = sorted((i for i, t in enumerate(tokens) if t), key=lambda i: len(tokens[i]))
        generator = None
        if options.temperature and options.seed is not None:
            generator = torch.Generator(next(self.model.parameters()).device).manual_seed(options.seed)
        with evaluating(self.model):
            for start in range(0, len(order), options.batch_size):
                rows = order[start:start + options.batch_size]
                for i, result in zip(rows, self._batch([tokens[i] for i in rows], options, generator)):
                    out[i] = result
        return out  # type: ignore[return-value]

    def _batch(self, sources: list[list[str]], options: SearchOptions,
               generator: Optional[torch.Generator] = None) -> list[Translation]:
        device = next(self.model.parameters()).device
        ids = [torch.tensor(self.source_ids(s)) for s in sources]
        lengths = torch.tensor([len(x) for x in ids])
        src = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=Vocab.PAD).to(device)
        max_lengths = (lengths.double() * options.max_ratio).ceil().long() + options.max_extra
        state, memory = self.model.start(src, lengths)
        common = dict(batch_size=len(sources), sos=Vocab.SOS, eos=Vocab.EOS, max_lengths=max_lengths,
                      constrain=options.constraint())
        if options.beam == 1:
            pick = None
            if options.temperature:
                pick = lambda lp: sample_token(lp, options.temperature, options.top_k, options.top_p,  # noqa: E731
                                               generator)
            best = greedy_search(self.model.step, state, memory, pick=pick, **common)
        else:
            best = [h[0] for h in beam_search(self.model.step, state, memory, beam=options.beam,
                                              length_penalty=options.length_penalty, **common)]
        return [self._finish(source, hyp, options.replace_unk) for source, hyp in zip(sources, best)]

    def _finish(self, source: list[str], hyp, replace_unk: bool) -> Translation:
        tokens = self.tgt_vocab.decode(hyp.tokens)
        attention = hyp.attention.cpu() if hyp.attention is not None else None
        if replace_unk and attention is not None:
            tokens = [_copied(source, attention[t]) if tok == Vocab.SPECIALS[Vocab.UNK] else tok
                      for t, tok in enumerate(tokens)]
        text = self.tgt_tokenizer.detokenize(tokens)
        unknown = [t for t in source if t not in self.src_vocab.index]  # every occurrence
        return Translation(text, source, tokens, attention, unknown, hyp.score)


def _copied(source: list[str], weights: Tensor) -> str:
    """The source token with the most attention (``<unk>`` when that is the final ``<eos>``)."""
    best = int(weights.argmax())
    return source[best] if best < len(source) else Vocab.SPECIALS[Vocab.UNK]


def sacrebleu_metrics():
    """sacreBLEU's ``BLEU`` and ``CHRF`` classes, or a one-line error saying how to install them."""
    try:
        from sacrebleu.metrics import BLEU, CHRF
    except ImportError:
        raise ValueError("scoring translations needs the sacrebleu package: "
                         "pip install 'rnnkit[translate]'") from None
    return BLEU, CHRF


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """sacreBLEU corpus BLEU (cased and lowercased) and chrF, with their signatures."""
    BLEU, CHRF = sacrebleu_metrics()
    refs = [list(references)]
    # force: text normalised like the tutorial's is tokenised on purpose (the references are too)
    cased, lower, chrf = BLEU(force=True), BLEU(lowercase=True, force=True), CHRF()
    bleu, bleu_lc, chrf_score = (cased.corpus_score(list(hypotheses), refs),
                                 lower.corpus_score(list(hypotheses), refs),
                                 chrf.corpus_score(list(hypotheses), refs))
    return {"bleu": bleu.score, "bleu_lowercased": bleu_lc.score, "chrf": chrf_score.score,
            "bleu_detail": str(bleu), "bleu_lowercased_detail": str(bleu_lc),
            "signature_bleu": str(cased.get_signature()), "signature_bleu_lowercased": str(lower.get_signature()),
            "signature_chrf": str(chrf.get_signature())}


def plot_attention(translation: Translation, path, title: str = "") -> None:
    """Heatmap of one sentence's attention (output tokens by rows, source tokens by columns)."""
    if translation.attention is None:
        raise ValueError("this model has no attention (--attention none); there is nothing to plot")
    from .plots import plot_matrix
    weights = translation.attention.double().numpy()
    rows = [_shown(t) for t in translation.tokens] + ["<eos>"] * (weights.shape[0] - len(translation.tokens))
    cols = [_shown(t) for t in translation.source] + ["<eos>"]
    plot_matrix(weights, rows, cols, path, title=title, xlabel="source", ylabel="output", colorbar="attention weight",
                cmap="Blues", vmax=None, size=(max(4.0, 0.45 * len(cols) + 1.5), max(3.0, 0.4 * len(rows) + 1.2)),
                col_rotation=60)


def _shown(token: str) -> str:
    return token.replace("\uffed", "") or token
