"""Building a trained model from a checkpoint without trusting the sizes its metadata claims.

The model the metadata describes is first built on the ``meta`` device (no memory), its every
parameter and buffer compared with the file's tensors, and only then built for real: a small
file claiming e.g. 16384 hidden units (8.6 GB) allocates nothing before the mismatch is named.
Whatever else goes wrong while building, :func:`reading` makes one line naming the file.
"""

from __future__ import annotations

from contextlib import contextmanager
from itertools import chain
from typing import Iterator, Optional

import torch

from .checkpoint import Checkpoint, CheckpointError

SLACK_BYTES = 256 * 2**20  # a model may hold this much more than the file's weights (buffers)


def build(cls, sections, state: Checkpoint, meta: dict) -> torch.nn.Module:
    """``cls.build_model(sections, meta)`` (``state``'s checked metadata), once its tensors are
    known to fit the file's.

    The model is first built on the ``meta`` device (no memory), so a metadata claiming e.g. an
    embedding of 10^7 dimensions allocates nothing before the mismatch is named.
    """
    with torch.device("meta"):
        shell = cls.build_model(sections, meta)
    compare_shapes(shell.state_dict(), state)
    claimed = sum(t.numel() * t.element_size() for t in chain(shell.parameters(), shell.buffers()))
    stored = sum(t.numel() * t.element_size() for t in state.section("model").values())
    if claimed > stored + SLACK_BYTES:
        raise CheckpointError(
            f"{state.path}: its metadata describes a model of {claimed / 2**20:,.0f} MiB, "
            f"but the file holds {stored / 2**20:,.1f} MiB of weights"
        )
    return cls.build_model(sections, meta)


def compare_shapes(expected: dict[str, torch.Tensor], state: Checkpoint) -> None:
    """CheckpointError naming the first tensor the metadata's model and the file disagree on."""
    stored = state.section("model")
    for name, tensor in expected.items():
        if name not in stored:
            raise CheckpointError(
                f"{state.path}: tensor 'model/{name}' of the model its metadata describes is missing from the file"
            )
        if tuple(tensor.shape) != tuple(stored[name].shape):
            raise CheckpointError(
                f"{state.path}: tensor 'model/{name}': the metadata describes shape "
                f"{tuple(tensor.shape)}, the file holds {tuple(stored[name].shape)}"
            )
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise CheckpointError(
            f"{state.path}: the file holds tensor 'model/{extra[0]}', which the model "
            "its metadata describes does not have"
        )
    section = inference_section(state.meta)
    for name, tensor in (state.section(section) if section else {}).items():
        if name in expected and tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"{state.path}: tensor '{section}/{name}' has shape {tuple(tensor.shape)}, "
                f"the model's 'model/{name}' {tuple(expected[name].shape)}"
            )


def inference_section(meta: dict) -> Optional[str]:
    """The tensors evaluation used (e.g. NT-ASGD's average), when not the model's own; checkpoints
    written before callbacks kept that average under ``avg/``."""
    if meta.get("inference_weights"):
        return meta["inference_weights"]
    averager = meta.get("averager") or {}
    return "avg" if (averager.get("trigger_step") or -1) >= 0 else None


@contextmanager
def reading(path) -> Iterator[None]:
    """Defence in depth while a model is built from metadata that passed :func:`check`: an error a
    declared field did not foresee becomes one line naming ``path`` (the original is its cause)."""
    try:
        yield
    except CheckpointError:
        raise
    except ValueError as err:  # e.g. a vocabulary without its special entries
        raise CheckpointError(f"{path}: checkpoint metadata: {err}") from None
    except (KeyError, TypeError, AttributeError, IndexError, RecursionError, RuntimeError) as err:
        text = " ".join(str(err).split())[:200]
        raise CheckpointError(f"{path}: checkpoint does not fit its recipe ({type(err).__name__}: {text})") from err
