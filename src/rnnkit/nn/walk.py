"""Walking a packed batch one time step at a time, forwards and backwards.

All of rnnkit's first-principles recurrences run over the *packed* layout that
``torch.nn.utils.rnn.PackedSequence`` uses: the rows of time step ``t`` are
the first ``batch_sizes[t]`` sequences (sorted longest first), stored one step
after another. A dense ``(L, N, *)`` batch is the special case where every
step has ``N`` rows.

Walking forwards in time the number of active rows only shrinks (sequences
finish); walking backwards in time (the reverse direction of a bidirectional
layer) it only grows (sequences start, from their initial state). The two
helpers below do that bookkeeping once, for any recurrence whose state is a
tuple of ``(rows, features)`` tensors, so the LSTM, GRU and RNN kernels only
write the arithmetic of one step.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

State = tuple[Tensor, ...]


def step_order(batch_sizes: Sequence[int], reverse: bool) -> list[int]:
    """Time indices in the order a recurrence visits them."""
    steps = range(len(batch_sizes))
    return list(reversed(steps)) if reverse else list(steps)


def walk_forward(
    step: Callable[[int, State], State],
    state0: State,
    batch_sizes: Sequence[int],
    reverse: bool,
) -> tuple[State, list[State]]:
    """Run ``step`` over every time step, handling rows that finish or start.

    Args:
        step: ``step(t, state) -> new_state``; ``state`` has ``batch_sizes[t]`` rows.
        state0: initial state, each tensor ``(N, *)``.
    Returns:
        ``(final_state, previous_states)``: the final state in row order ``(N, *)``,
        and for each time index ``t`` the state that step ``t`` started from.
    """
    order = step_order(batch_sizes, reverse)
    rows = batch_sizes[order[0]]
    state = tuple(s[:rows] for s in state0)
    finished: list[State] = []
    previous: list[State] = [()] * len(batch_sizes)
    for t in order:
        b = batch_sizes[t]
        if b < rows:  # sequences b..rows-1 ended at the previous step
            finished.append(tuple(s[b:] for s in state))
            state = tuple(s[:b] for s in state)
        elif b > rows:  # sequences rows..b-1 start here, from their initial state
            state = tuple(torch.cat((s, s0[rows:b])) for s, s0 in zip(state, state0))
        rows = b
        previous[t] = state
        state = step(t, state)
    if finished:
        pieces = list(reversed(finished))
        state = tuple(torch.cat([s] + [p[k] for p in pieces]) for k, s in enumerate(state))
    return state, previous


def walk_backward(
    step_back: Callable[[int, State], State],
    grad_final: State,
    batch_sizes: Sequence[int],
    reverse: bool,
) -> State:
    """Back-propagate through the walk of :func:`walk_forward`.

    Args:
        step_back: ``step_back(t, grad_after) -> grad_before``: gradients with
            respect to the state after step ``t`` in, before it out (both
            ``batch_sizes[t]`` rows).
        grad_final: gradients with respect to the final state, each ``(N, *)``.
    Returns:
        Gradients with respect to the initial state, each ``(N, *)``.
    """
    order = step_order(batch_sizes, reverse)
    rows_before = [batch_sizes[order[0]]] + [batch_sizes[t] for t in order[:-1]]
    rows = batch_sizes[order[-1]]
    grad = tuple(g[:rows] for g in grad_final)
    from_initial: list[State] = []
    for p in reversed(range(len(order))):
        t = order[p]
        b = batch_sizes[t]
        grad = step_back(t, grad)
        before = rows_before[p]
        if before > b:  # rows b..before-1 had finished: their gradient is the final one
            grad = tuple(torch.cat((g, gf[b:before])) for g, gf in zip(grad, grad_final))
        elif before < b:  # rows before..b-1 came from the initial state
            from_initial.append(tuple(g[before:] for g in grad))
            grad = tuple(g[:before] for g in grad)
    if from_initial:
        pieces = list(reversed(from_initial))
        grad = tuple(torch.cat([g] + [p[k] for p in pieces]) for k, g in enumerate(grad))
    return grad
