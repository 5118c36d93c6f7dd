"""Batched search decoding: greedy and beam search over a decoder step, with attention history.

A decoder is driven one token at a time through
``step(tokens (R,), state, context) -> (log_probs (R, V), state, attention (R, S) or None)``,
where R is the number of rows decoded at this step. ``state`` and ``context`` are nested
structures (tensors, tuples, lists, dicts, None) whose tensors have R as their first
dimension; ``state`` changes each step, ``context`` (e.g. encoder outputs (R, S, H) and
source mask (R, S)) does not. Sentences that are done are dropped from the rows, so the
cost of a step shrinks as the batch finishes.

Length rule: sentence b gets at most ``max_lengths[b]`` steps, and emitting ``eos`` is a
step. A hypothesis therefore ends either with ``eos`` after at most ``max_lengths[b] - 1``
tokens (``finished=True``), or is cut with exactly ``max_lengths[b]`` tokens
(``finished=False``); ``eos`` is never forced.

Ranking (beam search): finished hypotheses come before unfinished ones, and within each
group hypotheses are ordered by the length-normalised score (Wu et al., 2016, simplified)

    score / max(1, length) ** length_penalty

with ``length`` the number of emitted tokens, counting the final ``eos`` of a finished
hypothesis. ``length_penalty=0`` ranks by the raw sum of log-probabilities.

Bounds (:mod:`rnnkit.decode.limits`): ``max_lengths`` at most 10,000 steps, ``beam`` 1 to 64,
``length_penalty`` 0 to 10; anything else is a ValueError naming it. Under ``rnnkit serve`` each
step checks the request's time limit (:func:`rnnkit.deadline.check`).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch import Tensor

from rnnkit import deadline
from rnnkit.nn.state import map_state

from .hypotheses import Hypothesis, collect_finished, collect_live, extend_history, rank_hypotheses
from .limits import MAX_BEAM, MAX_LENGTH_PENALTY, MAX_STEPS, check_range

#: ``constrain(log_probs (R, V), history (R, T)) -> log_probs (R, V)``: e.g. n-gram blocking
Constrain = Callable[[Tensor, Tensor], Tensor]
StepFn = Callable[[Tensor, Any, Any], tuple[Tensor, Any, Optional[Tensor]]]


def _select(structure: Any, rows: Tensor) -> Any:
    """Rows ``rows`` (R',) of every tensor of a nested structure (first dimension)."""
    return map_state(lambda tensor: tensor.index_select(0, rows), structure)


def _device(*structures: Any) -> torch.device:
    """Device of the first tensor found in the structures (CPU when there is none)."""
    devices: list[torch.device] = []
    for structure in structures:
        map_state(lambda tensor: devices.append(tensor.device) or tensor, structure)
    return devices[0] if devices else torch.device("cpu")


def _check_lengths(max_lengths: Tensor, batch_size: int, device: torch.device) -> Tensor:
    """max_lengths (B,) as long on ``device``; ValueError when its shape is not (batch_size,)."""
    max_lengths = torch.as_tensor(max_lengths)
    if max_lengths.shape != (batch_size,):
        raise ValueError(f"max_lengths: expected shape ({batch_size},), got {tuple(max_lengths.shape)}")
    if max_lengths.numel() and bool((max_lengths.double() > MAX_STEPS).any()):
        raise ValueError(
            f"max_lengths: expected at most {MAX_STEPS:,} steps per sentence, got {max_lengths.max().item():,}"
        )
    return max_lengths.to(device=device, dtype=torch.long)


def _empty(max_lengths: Tensor) -> dict[int, Hypothesis]:
    """The empty unfinished hypothesis of every sentence allowed no step."""
    return {b: Hypothesis([], 0.0, None, False) for b in (max_lengths <= 0).nonzero().flatten().tolist()}


def greedy_search(
    step: StepFn,
    state: Any,
    context: Any,
    batch_size: int,
    sos: int,
    eos: int,
    max_lengths: Tensor,
    constrain: Optional[Constrain] = None,
    pick: Optional[Callable[[Tensor], Tensor]] = None,
) -> list[Hypothesis]:
    """Decode B sentences together, taking the most probable token at each step.

    Args:
        step: ``step(tokens (R,), state, context) -> (log_probs (R, V), state, attention (R, S) or None)``.
        state, context: nested structures of tensors with B rows (first dimension).
        batch_size: B.
        sos, eos: start and end ids; ``sos`` is fed first.
        max_lengths: (B,) the most steps of each sentence (see the module's length rule).
        constrain: optional ``constrain(log_probs (R, V), history (R, T)) -> log_probs``
            applied before each choice, e.g. :func:`rnnkit.decode.no_repeat_ngram`.
        pick: optional ``pick(log_probs (R, V)) -> ids (R,)`` instead of the argmax, e.g.
            :func:`rnnkit.decode.sample_token` with a temperature (sampled replies).

    Returns:
        One hypothesis per sentence, in input order. Done sentences leave the batch.
    """
    device = _device(state, context)
    max_lengths = _check_lengths(max_lengths, batch_size, device)
    results: dict[int, Hypothesis] = _empty(max_lengths)
    alive = (max_lengths > 0).nonzero().flatten()  # (R,) sentence of each row
    if len(alive) < batch_size:
        state, context = _select(state, alive), _select(context, alive)
    limit = max_lengths[alive]
    tokens = torch.full((len(alive),), sos, dtype=torch.long, device=device)
    scores = history = attention_history = None
    steps = 0
    while len(alive):
        deadline.check()
        log_probs, state, attention = step(tokens, state, context)
        if constrain is not None:
            past = history if history is not None else tokens.new_empty((len(tokens), 0))
            log_probs = constrain(log_probs, past)
        if pick is None:
            best, tokens = log_probs.max(dim=-1)
        else:
            tokens = pick(log_probs)
            best = log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1)
        scores = best if scores is None else scores + best
        history = extend_history(history, None, tokens)  # (R, steps)
        attention_history = extend_history(attention_history, None, attention)  # (R, steps, S)
        steps += 1
        ended = tokens == eos
        done = ended | (limit <= steps)
        if not bool(done.any()):
            continue
        rows = done.nonzero().flatten()
        weights = None if attention_history is None else attention_history[rows]  # a copy: rows only
        for i, (b, end, ids, score) in enumerate(
            zip(alive[rows].tolist(), ended[rows].tolist(), history[rows].tolist(), scores[rows].tolist())
        ):
            results[b] = Hypothesis(ids[:-1] if end else ids, score, None if weights is None else weights[i], end)
        keep = (~done).nonzero().flatten()
        state, context = _select(state, keep), _select(context, keep)
        alive, limit, tokens, scores, history = (t[keep] for t in (alive, limit, tokens, scores, history))
        attention_history = None if attention_history is None else attention_history[keep]
    return [results[b] for b in range(batch_size)]


def _check_beam(beam: int, n_best: int, length_penalty: float) -> None:
    """ValueError naming the argument when beam, n_best or length_penalty is out of range."""
    check_range("beam", beam, 1, MAX_BEAM, integer=True)
    check_range("length_penalty", length_penalty, 0.0, MAX_LENGTH_PENALTY)
    if not 1 <= n_best <= beam:
        raise ValueError(f"n_best: expected 1 <= n_best <= beam ({beam}), got {n_best}")


def beam_search(
    step: StepFn,
    state: Any,
    context: Any,
    batch_size: int,
    sos: int,
    eos: int,
    max_lengths: Tensor,
    beam: int = 5,
    length_penalty: float = 1.0,
    n_best: int = 1,
    constrain: Optional[Constrain] = None,
) -> list[list[Hypothesis]]:
    """Decode B sentences together with ``beam`` hypotheses each.

    Rows are sentence-major, A*beam for the A sentences still decoding (rows
    ``a*beam .. a*beam+beam-1`` belong to sentence a). Each step takes the top
    ``2*beam`` candidates over (beam * V) per sentence; an ``eos`` candidate ranked
    among the first ``beam`` becomes a finished hypothesis while the sentence needs one
    (so beam 1 is exactly greedy search), and the best ``beam`` other candidates go on,
    the state (not the context) reordered by their parent rows. A sentence is done with
    ``beam`` finished hypotheses, or after ``max_lengths[b]`` steps (its live beams then
    become unfinished hypotheses). Ranking: see the module docstring.

    Args:
        step, state, context, batch_size, sos, eos, max_lengths: as in :func:`greedy_search`;
            state and context have B rows and are expanded here.
        beam: hypotheses kept per sentence. Default: 5.
        length_penalty: exponent of the length normalisation. Default: 1.0.
        n_best: hypotheses returned per sentence (<= beam). Default: 1.
        constrain: as in :func:`greedy_search`, on each beam's own history.

    Returns:
        Per sentence, in input order, up to ``n_best`` hypotheses, best first.
    """
    _check_beam(beam, n_best, length_penalty)
    device = _device(state, context)
    max_lengths = _check_lengths(max_lengths, batch_size, device)
    found: list[list[Hypothesis]] = [[] for _ in range(batch_size)]
    for b, empty in _empty(max_lengths).items():
        found[b].append(empty)
    sentences = (max_lengths > 0).nonzero().flatten()  # (A,)
    expand = sentences.repeat_interleave(beam)  # (A*beam,) input row of each beam row
    state, context = _select(state, expand), _select(context, expand)
    limit = max_lengths[sentences]
    count = torch.zeros_like(sentences)  # finished hypotheses per sentence
    tokens = torch.full((len(expand),), sos, dtype=torch.long, device=device)
    history = tokens.new_empty((len(expand), 0))
    scores = attention_history = None
    steps = 0
    while len(sentences):
        deadline.check()
        log_probs, state, attention = step(tokens, state, context)
        if constrain is not None:
            log_probs = constrain(log_probs, history)
        n, vocab = len(sentences), log_probs.shape[-1]
        if vocab < 2:
            raise ValueError(f"beam_search: expected log_probs over at least 2 tokens, got {vocab}")
        if scores is None:  # only the first beam is live, so the beams differ
            scores = log_probs.new_full((n, beam), float("-inf"))
            scores[:, 0] = 0
        if attention is not None and attention_history is None:
            attention_history = attention.new_empty((len(expand), 0, attention.shape[-1]))
        candidates = (scores.view(-1, 1) + log_probs).view(n, beam * vocab)
        values, index = candidates.topk(2 * beam, dim=1)  # (A, 2*beam), best first
        token = index % vocab
        first_row = (torch.arange(n, device=device) * beam).unsqueeze(1)  # (A, 1)
        parents = torch.div(index, vocab, rounding_mode="floor") + first_row  # (A, 2*beam) parent rows
        is_eos = token == eos
        steps += 1
        take = is_eos & torch.isfinite(values)
        take[:, beam:] = False
        if bool(take.any()):
            collect_finished(found, take, sentences, values, parents, history, attention_history, attention, beam)
            count = torch.clamp(count + take.sum(dim=1), max=beam)
        # best `beam` non-eos candidates in rank order (ranks are distinct, so argsort is exact)
        rank = torch.arange(2 * beam, device=device) + is_eos.long() * (2 * beam)
        chosen = rank.argsort(dim=1)[:, :beam]  # (A, beam)
        scores, tokens = values.gather(1, chosen), token.gather(1, chosen).flatten()
        rows = parents.gather(1, chosen).flatten()  # (A*beam,)
        history = extend_history(history, rows, tokens)  # (A*beam, steps)
        if attention is not None:
            attention = attention.index_select(0, rows)
        attention_history = extend_history(attention_history, rows, attention)  # (A*beam, steps, S)
        done = (count >= beam) | (limit <= steps)
        cut = done & (count < beam)
        if bool(cut.any()):
            collect_live(found, cut, sentences, scores, history, attention_history, beam)
        if bool(done.any()):
            keep = (~done).nonzero().flatten()
            beams = (keep.unsqueeze(1) * beam + torch.arange(beam, device=device)).flatten()
            rows, context = rows[beams], _select(context, beams)
            sentences, limit, count, scores = sentences[keep], limit[keep], count[keep], scores[keep]
            tokens, history = tokens[beams], history[beams]
            attention_history = None if attention_history is None else attention_history[beams]
        state = _select(state, rows)  # reorder by parent and drop done sentences in one pass
    return [rank_hypotheses(hypotheses, length_penalty, n_best) for hypotheses in found]
