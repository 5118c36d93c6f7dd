"""Recurrent state as data: apply a function to every tensor of a nested state, cut its
history, and store it as named tensors (a checkpoint section) and back.

A state is a tensor (RNN, GRU: ``(num_layers * directions, N, H)``), a tuple ``(h, c)``
(LSTM), or tuples, lists and dicts of these (one per layer or per part of a model).
"""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor


def map_state(fn: Callable[[Tensor], Tensor], state: Any) -> Any:
    """Apply ``fn`` to every tensor of a nested structure, keeping its shape.

    Tuples (named tuples too), lists and dicts are rebuilt with the same type; None passes
    through. Anything else is a TypeError naming its type.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(map_state(fn, part) for part in state))
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, part) for part in state)
    if isinstance(state, dict):
        return type(state)((key, map_state(fn, part)) for key, part in state.items())
    raise TypeError(f"map_state: expected tensors in tuples, lists, dicts or None, got {type(state).__name__}")


def detach_state(state):
    """Cut the autograd history of a carried state (truncated BPTT)."""
    return map_state(lambda s: s.detach(), state)


def state_tensors(state, prefix: str = "") -> dict[str, Tensor]:
    """A carried state as named tensors (``"0"``, ``"1"`` or nested ``"0.1"``); {} for None."""
    if state is None:
        return {}
    if not prefix and not isinstance(state, (tuple, list)):
        return {"0": state.detach().contiguous()}
    if isinstance(state, (tuple, list)):
        out: dict[str, Tensor] = {}
        for i, part in enumerate(state):
            out.update(state_tensors(part, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: state.detach().contiguous()}


def state_from_tensors(tensors: dict[str, Tensor]):
    """Inverse of :func:`state_tensors` (nested tuples; a lone tensor stays bare)."""
    if not tensors:
        return None
    tree: dict = {}
    for key, value in tensors.items():
        node, parts = tree, key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(int(part), {})
        node[int(parts[-1])] = value

    def build(node):
        if isinstance(node, dict):
            return tuple(build(node[i]) for i in range(len(node)))
        return node

    state = build(tree)
    return state[0] if len(state) == 1 and not isinstance(state[0], tuple) else state
