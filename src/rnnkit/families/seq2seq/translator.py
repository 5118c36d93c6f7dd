"""Translating with a trained encoder-decoder: text in, text out, in batches; BLEU and chrF.

Text flows: prepare (normalise) -> tokenizer -> vocabulary ids + ``<eos>`` -> model and
search (:mod:`rnnkit.decode`) -> ids -> tokens (``<unk>`` optionally replaced by the
source token with the most attention) -> detokenised text. What the search may be asked
(:class:`SearchOptions`, their parameters and ranges): :mod:`rnnkit.families.seq2seq.search`.

Shapes: N sentences, S source tokens (padded), T output tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from rnnkit.data.token_vocab import Vocab
from rnnkit.decode import beam_search, greedy_search, sample_token
from rnnkit.decode.limits import MAX_STEPS, budget_batches, search_floats
from rnnkit.families.seq2seq.search import (  # noqa: F401  (the search options: importable from here too)
    MAX_RATIO,
    MAX_SOURCE,
    MAX_SOURCE_TOKENS,
    MAX_SOURCE_TOKENS_CAP,
    RANGES,
    SearchOptions,
)
from rnnkit.objectives.supervised import SupervisedObjective, evaluating


def pair_loss(
    model, batch, reduction: str = "mean", label_smoothing: float = 0.0, teacher_forcing: float = 1.0
) -> tuple[Tensor, int]:
    """Cross-entropy of every real target token: logits (N, T, V) against batch.tgt_out (N, T),
    padding ignored; returns (loss, number of non-padding target tokens)."""
    device = next(model.parameters()).device
    logits = model(batch.src.to(device), batch.src_lengths, batch.tgt_in.to(device), teacher_forcing)
    gold = batch.tgt_out.to(device)
    loss = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1).float(),
        gold.flatten(),
        ignore_index=Vocab.PAD,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )
    return loss, int((gold != Vocab.PAD).sum())


class PairObjective(SupervisedObjective):
    """Sentence pairs with label smoothing and a teacher-forcing ratio that moves linearly
    from ``teacher_forcing`` to ``teacher_forcing_final`` over the run (scheduled sampling)."""

    def __init__(
        self,
        *args,
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
        teacher_forcing_final: Optional[float] = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **{"unit": "tok", **kwargs})  # counts target tokens
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


class Translator:
    """A model with its two sides' preparation, tokenizers and vocabularies.

    Args:
        model: a :class:`rnnkit.families.seq2seq.model.Seq2Seq` (``start``/``step``).
        prepare: source and target text normalisation (the run's), e.g. whitespace.
        src_tokenizer, tgt_tokenizer: ``tokenize``/``detokenize``.
        src_vocab, tgt_vocab: :class:`~rnnkit.data.token_vocab.Vocab`.
    """

    def __init__(
        self, model, prepare: Callable[[str], str], src_tokenizer, tgt_tokenizer, src_vocab: Vocab, tgt_vocab: Vocab
    ) -> None:
        self.model, self.prepare = model, prepare
        self.src_tokenizer, self.tgt_tokenizer = src_tokenizer, tgt_tokenizer
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab

    def source_ids(self, tokens: Sequence[str]) -> list[int]:
        return self.src_vocab.encode(tokens) + [Vocab.EOS]

    def translate(self, sentences: Sequence[str], options: SearchOptions = SearchOptions()) -> list[Translation]:
        """Translations of ``sentences`` in their order; an empty (or all-space) one gives ``""``."""
        options.check()
        tokens = [self.src_tokenizer.tokenize(self.prepare(s)) for s in sentences]
        for number, toks in enumerate(tokens, 1):
            if len(toks) > options.max_source_tokens:
                raise ValueError(
                    f"line {number}: {len(toks):,} source tokens; at most {options.max_source_tokens:,} "
                    f"are read per line (--max-source-tokens, up to {MAX_SOURCE_TOKENS_CAP:,})"
                )
        out: list[Optional[Translation]] = [None] * len(sentences)
        for i, toks in enumerate(tokens):
            if not toks:
                out[i] = Translation("", [], [], None, [])
        order = sorted((i for i, t in enumerate(tokens) if t), key=lambda i: len(tokens[i]))
        generator = None
        if options.temperature and options.seed is not None:
            generator = torch.Generator(next(self.model.parameters()).device).manual_seed(options.seed)
        with evaluating(self.model):
            for group in self._groups([len(tokens[i]) for i in order], options):
                rows = [order[k] for k in group]
                for i, result in zip(rows, self._batch([tokens[i] for i in rows], options, generator)):
                    out[i] = result
        return out  # type: ignore[return-value]

    def _groups(self, lengths: list[int], options: SearchOptions) -> list[list[int]]:
        """Batches of the sentences (by ascending length) whose search fits
        :data:`~rnnkit.decode.limits.MAX_SEARCH_FLOATS`; ValueError naming a line too long alone."""
        width = 2 * getattr(getattr(self.model, "config", None), "hidden_size", 512)
        keep = options.attention or options.replace_unk
        costs = [
            search_floats(
                options.beam,
                n + 1,
                min(math.ceil((n + 1) * options.max_ratio) + options.max_extra, MAX_STEPS),
                width,
                keep,
            )
            for n in lengths
        ]
        try:
            return budget_batches(costs, options.batch_size)
        except ValueError as err:
            raise ValueError(
                f"a line of {max(lengths):,} source tokens with --beam {options.beam}"
                f"{' and attention kept' if keep else ''}: {str(err).split(': ', 1)[1]}; "
                "lower --beam or --max-ratio, or split the line"
            ) from None

    def _batch(
        self, sources: list[list[str]], options: SearchOptions, generator: Optional[torch.Generator] = None
    ) -> list[Translation]:
        device = next(self.model.parameters()).device
        ids = [torch.tensor(self.source_ids(s)) for s in sources]
        lengths = torch.tensor([len(x) for x in ids])
        src = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=Vocab.PAD).to(device)
        max_lengths = ((lengths.double() * options.max_ratio).ceil() + options.max_extra).clamp(max=MAX_STEPS).long()
        state, memory = self.model.start(src, lengths)
        common = dict(
            batch_size=len(sources),
            sos=Vocab.SOS,
            eos=Vocab.EOS,
            max_lengths=max_lengths,
            constrain=options.constraint(),
        )
        step = self.model.step
        if not (options.attention or options.replace_unk):  # no attention history: less memory
            step = lambda *inputs: (*self.model.step(*inputs)[:2], None)  # noqa: E731
        if options.beam == 1:
            pick = None
            if options.temperature:

                def pick(lp):
                    return sample_token(lp, options.temperature, options.top_k, options.top_p, generator)

            best = greedy_search(step, state, memory, pick=pick, **common)
        else:
            best = [
                h[0]
                for h in beam_search(
                    step, state, memory, beam=options.beam, length_penalty=options.length_penalty, **common
                )
            ]
        return [self._finish(source, hyp, options.replace_unk) for source, hyp in zip(sources, best)]

    def _finish(self, source: list[str], hyp, replace_unk: bool) -> Translation:
        tokens = self.tgt_vocab.decode(hyp.tokens)
        attention = hyp.attention.cpu() if hyp.attention is not None else None
        if replace_unk and attention is not None:
            tokens = [
                _copied(source, attention[t]) if tok == Vocab.SPECIALS[Vocab.UNK] else tok
                for t, tok in enumerate(tokens)
            ]
        text = self.tgt_tokenizer.detokenize(tokens)
        unknown = [t for t in source if t not in self.src_vocab.index]  # every occurrence
        return Translation(text, source, tokens, attention, unknown, hyp.score)


def _copied(source: list[str], weights: Tensor) -> str:
    """The source token with the most attention (``<unk>`` when that is the final ``<eos>``)."""
    best = int(weights.argmax())
    return source[best] if best < len(source) else Vocab.SPECIALS[Vocab.UNK]


def plot_attention(translation: Translation, path, title: str = "") -> None:
    """Heatmap of one sentence's attention (output tokens by rows, source tokens by columns)."""
    if translation.attention is None:
        raise ValueError("this model has no attention (--attention none); there is nothing to plot")
    from rnnkit.train.plots import plot_matrix

    weights = translation.attention.double().numpy()
    rows = [_shown(t) for t in translation.tokens] + ["<eos>"] * (weights.shape[0] - len(translation.tokens))
    cols = [_shown(t) for t in translation.source] + ["<eos>"]
    plot_matrix(
        weights,
        rows,
        cols,
        path,
        title=title,
        xlabel="source",
        ylabel="output",
        colorbar="attention weight",
        cmap="Blues",
        vmax=None,
        size=(max(4.0, 0.45 * len(cols) + 1.5), max(3.0, 0.4 * len(rows) + 1.2)),
        col_rotation=60,
    )


def _shown(token: str) -> str:
    return token.replace("\uffed", "") or token
