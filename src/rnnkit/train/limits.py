"""Memory a configuration asks for, estimated before anything is allocated.

Each option has its own range (:mod:`rnnkit.bounds`), but memory grows with
products of options (batch x steps x hidden units x layers). :func:`check_memory`
estimates the largest needs of a run from its resolved sections and refuses,
with one line naming the options, a run whose estimate exceeds this machine's
memory. The estimate is rough (float32, an LSTM's four gates, Adam's two
moments) and errs large: it is there to stop runs that could never fit, not to
plan the ones that do.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from .config import Sections, flag

FLOAT = 4  # bytes
#: fields that give the steps a recurrent network unrolls, in order of preference
STEP_FIELDS = ("seq_length", "window", "max_length", "length")
WIDTH_FIELDS = ("hidden_size", "char_hidden", "last_layer_size")
EMBED_FIELDS = ("embedding_dim", "word_dim", "char_dim", "category_dim", "dim")
#: Python's own cost of one small tensor (a window or a target), in bytes
TENSOR_OVERHEAD = 400
FALLBACK_MEMORY = 16 * 2**30


def machine_memory() -> int:
    """This machine's physical memory in bytes (16 GiB where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


def gigabytes(nbytes: float) -> str:
    return f"{nbytes / 1e9:,.1f} GB"


def check_bytes(nbytes: float, what: str, options: Sequence[str], limit: Optional[int] = None) -> None:
    """ValueError when ``what`` would take more than ``limit`` bytes (default: this machine's
    memory); ``options`` are the settings it grows with (``--batch-size 64``...)."""
    limit = machine_memory() if limit is None else limit
    if nbytes > limit:
        raise ValueError(
            f"{what} would take about {gigabytes(nbytes)} ({' x '.join(options)}), more "
            f"than this machine's {gigabytes(limit)} of memory; lower one of them"
        )


def check_memory(sections: Sections, limit: Optional[int] = None) -> None:
    """ValueError naming the options when the biggest need of a run exceeds the memory.

    Needs estimated: the parameters with their gradients and Adam's moments, the
    activations kept for one training batch, those of a generated validation or test
    set scored at once, and the windows of a generated series."""
    for nbytes, what, options in _needs(sections):
        check_bytes(nbytes, what, options, limit)


def _needs(sections: Sections) -> list[tuple[float, str, list[str]]]:
    data, model = sections.get("data"), sections.get("model")
    width, width_field = _largest(model, WIDTH_FIELDS)
    if not width or not (hasattr(model, "num_layers") or hasattr(model, "encoder_layers")):
        return []  # not a recurrent stack (word vectors check their table once the vocabulary is known)
    embed, embed_field = _largest(model, EMBED_FIELDS)
    layers, layer_fields = _layers(model)
    directions = 2 if getattr(model, "bidirectional", False) else 1
    steps, step_fields = _steps(data)
    shape = [_show(model, width_field), *[_show(model, f) for f in layer_fields]]
    needs = []
    weights = layers * directions * 4 * width * (width + max(embed, width))
    needs.append(
        (
            4 * FLOAT * weights,
            "the recurrent weights with their gradients and Adam's state",
            shape + ([_show(model, embed_field)] if embed > width else []),
        )
    )
    batch = getattr(data, "batch_size", 0)
    if steps and batch:
        kept = batch * steps * width * layers * directions * 8  # gates, cell and output per step
        needs.append(
            (
                FLOAT * kept,
                "the activations of one training batch",
                [_show(data, "batch_size")] + [_show(data, f) for f in step_fields] + shape,
            )
        )
        scored = max(getattr(data, "valid_size", 0), getattr(data, "test_size", 0))
        if scored and hasattr(data, "data_seed"):  # a generated set, scored in one pass
            which = "valid_size" if data.valid_size >= getattr(data, "test_size", 0) else "test_size"
            needs.append(
                (
                    FLOAT * scored * steps * (width * directions * 2 + 4),
                    "scoring the generated validation or test set",
                    [_show(data, which)] + [_show(data, f) for f in step_fields] + shape[:1],
                )
            )
    if getattr(data, "signal", "") and not getattr(data, "csv", "x") and hasattr(data, "window"):
        per_window = FLOAT * (data.window + 1) + 2 * TENSOR_OVERHEAD
        needs.append(
            (
                data.length * per_window,
                "the windows of the generated series",
                [_show(data, "length"), _show(data, "window")],
            )
        )
    return needs


def _largest(section: Any, names: Sequence[str]) -> tuple[int, str]:
    found = [(getattr(section, n), n) for n in names if isinstance(getattr(section, n, None), int)]
    return max(found, default=(0, ""))


def _layers(model: Any) -> tuple[int, list[str]]:
    if hasattr(model, "num_layers"):
        return model.num_layers, ["num_layers"]
    names = [n for n in ("encoder_layers", "decoder_layers") if hasattr(model, n)]
    return max([getattr(model, n) for n in names], default=1), names


def _steps(data: Any) -> tuple[int, list[str]]:
    """Steps of one training sequence and the options that set them (0: set by the data)."""
    if data is None:
        return 0, []
    if hasattr(type(data), "steps"):  # a recipe that knows better (copy: delay + 2 x symbols)
        return data.steps, [n for n in ("length", "symbols", "mode") if hasattr(data, n)]
    for name in STEP_FIELDS:
        if getattr(data, name, 0):
            return getattr(data, name), [name]
    return 0, []


def _show(section: Any, name: str) -> str:
    return f"{flag(name)} {getattr(section, name)}"
