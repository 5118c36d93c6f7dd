"""What each kind of model exports: its graphs, their named inputs and outputs, and probes.

A :class:`Graph` is one function of a model with flat tensor inputs and outputs
(nested states become one named tensor each), example inputs for tracing, and
*probes*: inputs of other batch sizes and lengths on which the exported file must
agree with the eager model. Axis names: N batch, L length (S source length), W words
of a batch, C characters per word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree

Inputs = dict[str, Tensor]


@dataclass
class Graph:
    """One exported function.

    ``make(model)`` returns a module whose ``forward(*inputs)`` (in ``example`` order) returns
    a tuple of tensors named ``outputs``; ``dynamic`` names the variable axes of each input and
    output; ``probes`` are further inputs to check the exported file on.
    """

    name: str
    make: Callable[[nn.Module], nn.Module]
    example: Inputs
    outputs: list[str]
    dynamic: dict[str, dict[int, str]]
    probes: list[Inputs] = field(default_factory=list)


class Flat(nn.Module):
    """Calls ``fn(model, *inputs, structure)`` where the trailing flat tensors are rebuilt into the
    nested ``spec`` (a state or memory), and flattens the tensors it returns."""

    def __init__(self, model: nn.Module, fn: Callable, fixed: int, spec) -> None:
        super().__init__()
        self.model, self.fn, self.fixed, self.spec = model, fn, fixed, spec

    def forward(self, *inputs: Tensor):
        nested = pytree.tree_unflatten(list(inputs[self.fixed :]), self.spec) if self.spec is not None else None
        return tuple(pytree.tree_leaves(self.fn(self.model, *inputs[: self.fixed], nested)))


def leaf_names(structure, prefix: str) -> list[str]:
    """Names of the tensors of a nested state: ``h``/``c`` keys, else ``{prefix}{i}``."""
    paths, _ = pytree.tree_flatten_with_path(structure)
    names = []
    for index, (path, _) in enumerate(paths):
        keys = [str(getattr(p, "key", getattr(p, "idx", ""))) for p in path]
        names.append(f"{prefix}{'_'.join(keys)}" if keys else f"{prefix}{index}")
    return names


def _ids(n: int, length: int, low: int, high: int, seed: int) -> Tensor:
    return torch.randint(low, max(high, low + 1), (n, length), generator=torch.Generator().manual_seed(seed))


def _lengths(n: int, length: int, seed: int) -> Tensor:
    """(N,) lengths in 1..length with the longest first in a random position."""
    out = torch.randint(1, length + 1, (n,), generator=torch.Generator().manual_seed(seed))
    out[seed % n] = length
    return out


SHAPES = ((2, 5), (3, 1), (1, 7), (4, 3))  # (N, L) of the example and the probes


def lm_step(model: nn.Module, vocab_size: int) -> list[Graph]:
    """An LM's step: tokens (N, L) and the state in, scores (N, L, V) and the state out.

    L may be 1 (one step of generation) or a whole prime. ``model(tokens, state)`` returns
    ``(scores, state)``; the state's shapes come from a run with no state.
    """

    def run(m, tokens, state):
        return m(tokens, state)

    def inputs(n: int, length: int, seed: int) -> Inputs:
        tokens = _ids(n, length, 0, vocab_size, seed)
        with torch.no_grad():
            _, state = model(tokens[:, :1], None)
        leaves, _ = pytree.tree_flatten(state)
        g = torch.Generator().manual_seed(seed)
        names = leaf_names(state, "state_")
        return {"tokens": tokens, **{k: 0.5 * torch.randn(v.shape, generator=g) for k, v in zip(names, leaves)}}

    with torch.no_grad():
        _, state = model(torch.zeros(1, 1, dtype=torch.long), None)
    names, spec = leaf_names(state, "state_"), pytree.tree_flatten(state)[1]
    batch_axis = {k: {_batch_axis(v): "N"} for k, v in zip(names, pytree.tree_leaves(state))}
    out_names = [f"next_{k}" for k in names]
    examples = [inputs(n, length, seed) for seed, (n, length) in enumerate(SHAPES)]
    return [
        Graph(
            "step",
            lambda m: Flat(m, run, 1, spec),
            examples[0],
            ["scores"] + out_names,
            {
                "tokens": {0: "N", 1: "L"},
                "scores": {0: "N", 1: "L"},
                **batch_axis,
                **{f"next_{k}": v for k, v in batch_axis.items()},
            },
            examples[1:],
        )
    ]


def _batch_axis(state: Tensor) -> int:
    """torch's states are (layers*D, N, H): the batch is axis 1 (with a batch of 1 in the probe run)."""
    return 1 if state.dim() == 3 else 0


def classifier(vocab_size: int) -> list[Graph]:
    """A sequence classifier: ids (N, L) and lengths (N,) -> scores (N, C)."""
    examples = [
        {"ids": _ids(n, length, 1, vocab_size, seed), "lengths": _lengths(n, length, seed)}
        for seed, (n, length) in enumerate(SHAPES)
    ]
    return [
        Graph(
            "classify",
            lambda m: Flat(m, lambda mm, ids, lengths, _: mm(ids, lengths), 2, None),
            examples[0],
            ["scores"],
            {"ids": {0: "N", 1: "L"}, "lengths": {0: "N"}, "scores": {0: "N"}},
            examples[1:],
        )
    ]


def tagger(vocab_size: int, char_vocab: int, heads: list[str], chars: bool) -> list[Graph]:
    """A tagger: words (N, L), lengths (N,) [, chars (W, C), char_lengths (W,)] -> one
    score tensor (N, L, tags) per tag set in ``heads``."""

    def inputs(n: int, length: int, seed: int) -> Inputs:
        lengths = _lengths(n, length, seed)
        out = {"words": _ids(n, length, 1, vocab_size, seed), "lengths": lengths}
        if chars:
            words = int(lengths.sum())
            width = 1 + seed % 4
            out["chars"] = _ids(words, width, 1, char_vocab, seed)
            out["char_lengths"] = _lengths(words, width, seed)
        return out

    def run(m, *args):
        emissions = m(*args[:-1])
        return [emissions[name] for name in heads]

    examples = [inputs(n, length, seed) for seed, (n, length) in enumerate(SHAPES)]
    axes = {"words": {0: "N", 1: "L"}, "lengths": {0: "N"}, **{h: {0: "N", 1: "L"} for h in heads}}
    if chars:
        axes.update(chars={0: "W", 1: "C"}, char_lengths={0: "W"})
    return [Graph("tag", lambda m: Flat(m, run, len(examples[0]), None), examples[0], list(heads), axes, examples[1:])]


def seq2seq(model: nn.Module, src_vocab: int, tgt_vocab: int) -> list[Graph]:
    """An encoder-decoder as two graphs: ``encoder`` (src (N, S), src_lengths (N,) -> the decoder
    state and the memory, one tensor each) and ``decoder_step`` (tokens (N,), the state and the
    memory -> log-probabilities (N, V), the next state [, attention weights (N, S)])."""

    def encode(m, src, lengths, _):
        return list(m.start(src, lengths))

    def step(m, tokens, nested):
        log_probs, state, weights = m.step(tokens, *nested)
        return [log_probs, state] + ([weights] if weights is not None else [])

    sources = [
        {"src": _ids(n, length + 2, 4, src_vocab, seed), "src_lengths": _lengths(n, length + 2, seed)}
        for seed, (n, length) in enumerate(SHAPES)
    ]
    with torch.no_grad():
        started = [model.start(s["src"], s["src_lengths"]) for s in sources]
        state, memory = started[0]
        weights = model.step(torch.zeros(len(sources[0]["src"]), dtype=torch.long), state, memory)[2]
    state_names, memory_names = leaf_names(state, ""), leaf_names(memory, "")
    names = state_names + memory_names
    S = sources[0]["src"].shape[1]
    axes = {
        k: {0: "N", **({1: "S"} if k in memory_names and v.dim() > 1 and v.shape[1] == S else {})}
        for k, v in zip(names, pytree.tree_leaves((state, memory)))
    }
    steps = []
    for seed, (src, (st, mem)) in enumerate(zip(sources, started)):
        tokens = _ids(len(src["src"]), 1, 4, tgt_vocab, seed)[:, 0]
        steps.append({"tokens": tokens, **dict(zip(names, pytree.tree_leaves((st, mem))))})
    spec = pytree.tree_flatten((state, memory))[1]
    next_names = [f"next_{k}" for k in state_names]
    decoder_out = ["log_probs"] + next_names + (["attention"] if weights is not None else [])
    decoder_axes = {
        "tokens": {0: "N"},
        "log_probs": {0: "N"},
        "attention": {0: "N", 1: "S"},
        **axes,
        **{f"next_{k}": axes[k] for k in state_names},
    }
    return [
        Graph(
            "encoder",
            lambda m: Flat(m, encode, 2, None),
            sources[0],
            names,
            {"src": {0: "N", 1: "S"}, "src_lengths": {0: "N"}, **axes},
            sources[1:],
        ),
        Graph("decoder_step", lambda m: Flat(m, step, 1, spec), steps[0], decoder_out, decoder_axes, steps[1:]),
    ]


#: what a runtime needs besides the weights of a sentence-pair model (translate, chat)
PAIR_META = ("src_tokenizer", "tgt_tokenizer", "src_vocab", "tgt_vocab")


def pair_model(trained) -> list[Graph]:
    """:func:`seq2seq` graphs of a trained sentence-pair model (its checkpoint metadata gives
    the vocabulary sizes)."""
    return seq2seq(trained.model, len(trained.meta["src_vocab"]), len(trained.meta["tgt_vocab"]))


def image_classifier(channels: int, side: int) -> list[Graph]:
    """An image classifier: images (N, C, S, S) float, prepared as the recipe's JSON says -> logits (N, K)."""
    examples = [
        {"images": torch.randn(n, channels, side, side, generator=torch.Generator().manual_seed(seed))}
        for seed, (n, _) in enumerate(SHAPES)
    ]
    return [
        Graph(
            "classify",
            lambda m: Flat(m, lambda mm, images, _: mm(images), 1, None),
            examples[0],
            ["logits"],
            {"images": {0: "N"}, "logits": {0: "N"}},
            examples[1:],
        )
    ]
