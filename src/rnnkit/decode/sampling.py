"""Sampling: temperature, top-k and nucleus (top-p) filtering; stateful generation up to an end token."""
from __future__ import annotations

import math
from typing import Callable, Iterator, Optional, Sequence

import torch
from torch import Tensor


def check_sampling(temperature: float, top_k: int, top_p: float) -> None:
    """ValueError naming the argument when a sampling setting is out of range."""
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature: expected a finite number >= 0 (0 = greedy), got {temperature}")
    if top_k < 0:
        raise ValueError(f"top_k: expected >= 0 (0 = off), got {top_k}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p: expected a number in (0, 1] (1 = off), got {top_p}")


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
        # drop a token when the tokens before it already reach top_p
        drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_token(logits: Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """Draw one id per row from logits (N, V) -> (N,); temperature 0 is greedy."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits.float() / temperature, top_k, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


StepFn = Callable[[Tensor, object], tuple[Tensor, object]]


def generate(step: StepFn, prime: Tensor, length: int, state=None, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, generator: Optional[torch.Generator] = None,
             stop_token: Optional[int] = None, never: Sequence[int] = (),
             min_length: int = 0) -> Iterator[int]:
    """Yield up to ``length`` sampled ids, one model step per id, carrying the state.

    Args:
        step: ``step(tokens (1, l), state) -> (logits (1, l, V), state)``.
        prime: (l,) ids fed first (l >= 1); the first sample follows its last id.
        stop_token: end of sequence: when drawn, generation ends (it is not
            yielded); it cannot be drawn before ``min_length`` ids.
        never: ids that are never drawn (padding, unknown, start symbols).
    """
    check_sampling(temperature, top_k, top_p)
    if prime.numel() < 1:
        raise ValueError("prime: expected at least one token to start from")
    logits, state = step(prime.view(1, -1), state)
    for index in range(length):
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
