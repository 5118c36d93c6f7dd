"""Sampling: temperature, top-k and nucleus (top-p) filtering; stateful generation up to an end token.

Any temperature in the range works: the logits are shifted so the best one is 0 before they are
divided, and a temperature below :data:`~rnnkit.decode.limits.TINY_TEMPERATURE` acts as that one,
so a tiny temperature (1e-45, 1e-300) gives the greedy choice (ties drawn at random) instead of
infinities; a tiny ``top_p`` keeps the most likely token alone.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator, Optional, Sequence

import torch
from torch import Tensor

from rnnkit import deadline

from .limits import MAX_GENERATED, MAX_TEMPERATURE, MAX_TOP_K, TINY_TEMPERATURE, check_range


def check_sampling(temperature: float, top_k: int, top_p: float) -> None:
    """ValueError naming the argument when a sampling setting is out of range
    (see :mod:`rnnkit.decode.limits`)."""
    check_range("temperature", temperature, 0.0, MAX_TEMPERATURE, note="0 = greedy")
    check_range("top_k", top_k, 0, MAX_TOP_K, integer=True, note="0 = off")
    check_range("top_p", top_p, 0.0, 1.0, open_low=True, note="1 = off")


def filter_logits(logits: Tensor, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Set to -inf every logit outside the top-k and outside the top-p nucleus.

    Args:
        logits: (..., V) scores.
        top_k: keep the k largest (0 = off).
        top_p: keep the smallest set of tokens whose probability sums to at
            least ``top_p`` (Holtzman et al., 2020); the top token is always kept.
    """
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # drop a token when the tokens before it already reach top_p; never the most likely one
        # (a tiny top_p rounds to 0 in float32, which would drop them all)
        drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= top_p
        drop_sorted[..., 0] = False
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_token(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """Draw one id per row from logits (N, V) -> (N,); temperature 0 is greedy.

    The best logit is shifted to 0 before dividing by the temperature (at least
    :data:`~rnnkit.decode.limits.TINY_TEMPERATURE`), so no temperature overflows: a tiny one
    leaves only the tokens tied with the best.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float()
    logits = (logits - logits.max(dim=-1, keepdim=True).values) / max(temperature, TINY_TEMPERATURE)
    logits = filter_logits(logits, top_k, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


StepFn = Callable[[Tensor, object], tuple[Tensor, object]]


def generate(
    step: StepFn,
    prime: Tensor,
    length: int,
    state=None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: Optional[torch.Generator] = None,
    stop_token: Optional[int] = None,
    never: Sequence[int] = (),
    min_length: int = 0,
) -> Iterator[int]:
    """Yield up to ``length`` sampled ids, one model step per id, carrying the state.

    Args:
        step: ``step(tokens (1, l), state) -> (logits (1, l, V), state)``.
        prime: (l,) ids fed first (l >= 1); the first sample follows its last id.
        stop_token: end of sequence: when drawn, generation ends (it is not
            yielded); it cannot be drawn before ``min_length`` ids.
        never: ids that are never drawn (padding, unknown, start symbols).
    """
    check_sampling(temperature, top_k, top_p)
    check_range("length", length, 0, MAX_GENERATED, integer=True)
    if prime.numel() < 1:
        raise ValueError("prime: expected at least one token to start from")
    logits, state = step(prime.view(1, -1), state)
    for index in range(length):
        deadline.check()  # under rnnkit serve: stop at the request's time limit
        # drawn on the CPU: a CPU generator works with any model device, and the
        # same seed gives the same text on every device
        last = logits[:, -1].float().cpu()  # (1, V)
        blocked = list(never) + ([stop_token] if stop_token is not None and index < min_length else [])
        if blocked:
            last[:, blocked] = -math.inf
        token = sample_token(last, temperature, top_k, top_p, generator)
        if stop_token is not None and int(token) == stop_token:
            return
        yield int(token)
        if index + 1 < length:
            logits, state = step(token.view(1, 1), state)
