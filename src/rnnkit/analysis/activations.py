"""What the units of a character model do, step by step (Karpathy, Johnson & Fei-Fei, 2015).

:func:`record` runs a language model over one text through the layers' own gate
introspection (:meth:`rnnkit.nn.RNNBase.trace`) and adds the hidden state ``h``;
:data:`FEATURES` turns the text into simple per-character signals (inside quotes,
position in the line, ...); :func:`rank_units` orders units by their Pearson
correlation with one; :func:`saturation` measures how often each gate is nearly
shut or wide open (the paper's Figure 3).

Legend: L characters (time steps), K layers, H hidden units.
The activation at step t is the one after reading character t.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from rnnkit.nn import CELL_NAMES, CellSpec, cell_spec


def recorded_names(spec: CellSpec) -> tuple[str, ...]:
    """What :func:`record` returns for a cell: its gates, then its states, ``h`` last."""
    return spec.trace_names + (() if "h" in spec.trace_names else ("h",))


#: what :func:`record` returns for each cell: LSTM ``i, f, g, o, c, h``; GRU ``r, z, n, h``; Elman ``h``
NAMES = {cell: recorded_names(cell_spec(cell)) for cell in CELL_NAMES}
#: gates whose saturation is measured (the sigmoid ones, as in the paper): LSTM ``i, f, o``; GRU ``r, z``
SIGMOID_GATES = {cell: cell_spec(cell).sigmoid_gates for cell in CELL_NAMES}
#: a gate value below LOW is left-saturated, above HIGH right-saturated (the paper's 0.1 / 0.9)
LOW, HIGH = 0.1, 0.9


def default_gate(cell: str) -> str:
    """What to show when no gate is asked for: the cell's own memory state if it has one (LSTM
    ``c``), else ``h``."""
    return next((s for s in cell_spec(cell).traced_states if s != "h"), "h")


def check_gate(cell: str, gate: str) -> None:
    """Raise a ValueError unless ``gate`` is something :func:`record` reports for ``cell``."""
    names = NAMES[cell]
    if gate not in names:
        raise ValueError(
            f"--gate {gate}: not a gate or state of the model's {cell} cell; expected one of {', '.join(names)}"
        )


@torch.no_grad()
def record(model, ids: Tensor) -> dict[str, Tensor]:
    """Every layer's gates and states while ``model`` reads ``ids``, from a zero state.

    Args:
        model: a :class:`rnnkit.families.lm.RNNLanguageModel` (put in eval mode here).
        ids: ``(L,)`` character ids.
    Returns:
        a dict of ``(K, L, H)`` tensors keyed by :data:`NAMES` of the model's cell: LSTM
        ``i, f, g, o`` (gates), ``c`` (cell state), ``h`` (hidden state); GRU ``r, z, n, h``;
        Elman ``h``.
    """
    if ids.dim() != 1 or ids.numel() == 0:
        raise ValueError(f"record: expected a non-empty (L,) tensor of ids, got shape {tuple(ids.shape)}")
    model.eval()
    device = model.decoder.weight.device
    inputs = model.embed(ids.to(device)[None])  # (1, L, E)
    _, _, traced = model.rnn.trace(inputs)
    wide = torch.float64 if inputs.dtype == torch.float64 else torch.float32
    acts = {k: v[:, 0].to("cpu", wide) for k, v in traced.items()}  # (K, 1, L, H) -> (K, L, H)
    spec = model.rnn.spec
    acts["h"] = spec.hidden_of(acts)
    return {name: acts[name] for name in recorded_names(spec)}


def parse_units(spec: str, hidden: int) -> list[int]:
    """``"0,5,17"`` or ``"0-4,9"`` -> unit indices, each in ``0..hidden-1``, in the given order."""
    units: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            raise ValueError(f"--units {spec}: expected numbers or ranges like 0,5,17 or 3-7, got {part!r}") from None
        if not 0 <= first <= last < hidden:
            raise ValueError(f"--units {spec}: {part} is out of range; the layer has units 0-{hidden - 1}")
        units.extend(u for u in range(first, last + 1) if u not in units)
    if not units:
        raise ValueError(f"--units {spec!r}: no units given")
    return units


# ---- features of the text: each maps a string of L characters to an (L,) float tensor ----

QUOTES, OPENING, CLOSING = '"“”«»', "([{", ")]}"


def inside_quotes(text: str) -> Tensor:
    """1 from an opening double quote up to and including its closing one, else 0."""
    inside, values = False, []
    for ch in text:
        opens = not inside and ch in QUOTES
        if opens:
            inside = True
        values.append(float(inside))
        if inside and ch in QUOTES and not opens:
            inside = False
    return torch.tensor(values)


def bracket_depth(text: str) -> Tensor:
    """Nesting depth of (), [] and {} after each character (the closing one still counts)."""
    depth, values = 0, []
    for ch in text:
        depth += ch in OPENING
        values.append(float(depth))
        depth = max(0, depth - (ch in CLOSING))
    return torch.tensor(values)


def line_position(text: str) -> Tensor:
    """Characters since the last newline (0 at a newline)."""
    pos, values = 0, []
    for ch in text:
        pos = 0 if ch == "\n" else pos + 1
        values.append(float(pos))
    return torch.tensor(values)


def word_position(text: str) -> Tensor:
    """Position inside the current word (1 at its first letter), 0 outside words."""
    pos, values = 0, []
    for ch in text:
        pos = pos + 1 if ch.isalpha() or (ch == "'" and pos) else 0
        values.append(float(pos))
    return torch.tensor(values)


def speaker_line(text: str) -> Tensor:
    """1 on a line that names a speaker (``ROMEO:``: upper-case letters ending in a colon)."""
    values = []
    for line in text.split("\n"):
        name = line.rstrip()
        is_name = name.endswith(":") and any(c.isalpha() for c in name) and name[:-1].isupper()
        values.extend([float(is_name)] * len(line) + [0.0])
    return torch.tensor(values[: len(text)])


def _per_char(test: Callable[[str], bool]) -> Callable[[str], Tensor]:
    return lambda text: torch.tensor([float(test(ch)) for ch in text])


#: feature name -> (function of the text, what it measures)
FEATURES: dict[str, tuple[Callable[[str], Tensor], str]] = {
    "quotes": (inside_quotes, "inside double quotes"),
    "brackets": (bracket_depth, "bracket/parenthesis nesting depth"),
    "line-position": (line_position, "characters since the last newline"),
    "word-position": (word_position, "position inside the current word"),
    "speaker": (speaker_line, "on a speaker-name line (ROMEO:)"),
    "vowel": (_per_char(lambda c: c.lower() in "aeiou"), "the character is a vowel"),
    "space": (_per_char(lambda c: c.isspace()), "the character is a space or newline"),
    "word-start": (lambda t: (word_position(t) == 1).float(), "the first letter of a word"),
    "uppercase": (_per_char(str.isupper), "the character is an upper-case letter"),
    "newline": (_per_char(lambda c: c == "\n"), "the character is a newline"),
    "punctuation": (_per_char(lambda c: c in ".,;:!?'-"), "the character is punctuation"),
}


def feature(name: str, text: str) -> Tensor:
    """The feature ``name`` of :data:`FEATURES` on ``text``: ``(L,)``; errors if constant."""
    if name not in FEATURES:
        raise ValueError(f"--find {name}: unknown feature; expected one of {', '.join(FEATURES)}")
    values = FEATURES[name][0](text)
    if values.numel() < 2 or bool((values == values[0]).all()):
        raise ValueError(
            f"--find {name}: the feature ({FEATURES[name][1]}) is constant on this text "
            f"({len(text)} characters), so nothing can correlate with it; use a text "
            "that has it"
        )
    return values


def correlations(acts: Tensor, target: Tensor) -> Tensor:
    """Pearson correlation of each column of ``acts`` with ``target``.

    Args: acts ``(L, U)``, target ``(L,)``. Returns: ``(U,)`` in [-1, 1], 0 for a constant column.
    Computed in float64 so long texts do not lose digits.
    """
    a = acts.double() - acts.double().mean(0)
    t = target.double() - target.double().mean()
    norm = a.norm(dim=0) * t.norm()
    r = (a * t[:, None]).sum(0) / norm
    return torch.where(norm > 0, r, torch.zeros_like(r)).clamp(-1, 1)


def rank_units(acts: Tensor, target: Tensor, top: int) -> list[tuple[int, int, float]]:
    """The ``top`` units most correlated (either sign) with ``target``.

    Args: acts ``(K, L, H)`` one gate or state of every layer, target ``(L,)``.
    Returns: ``[(layer, unit, r), ...]`` by decreasing ``|r|``; layer 0-based.
    """
    layers, steps, hidden = acts.shape
    flat = acts.permute(1, 0, 2).reshape(steps, layers * hidden)  # (K, L, H) -> (L, K*H)
    r = correlations(flat, target)
    order = torch.argsort(r.abs(), descending=True, stable=True)[:top]
    return [(int(j) // hidden, int(j) % hidden, float(r[j])) for j in order]


def saturation(gates: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
    """How often each unit of each gate is left- (< 0.1) or right-saturated (> 0.9).

    Args: gates: name -> ``(K, L, H)`` activations in [0, 1].
    Returns: name -> ``(left, right)``, each ``(K, H)``: the fraction of the L steps.
    """
    return {name: ((g < LOW).float().mean(1), (g > HIGH).float().mean(1)) for name, g in gates.items()}


def saturation_rows(sat: dict[str, tuple[Tensor, Tensor]]) -> list[dict]:
    """One row per layer and gate: mean left/right fractions and units saturated over half the time."""
    rows = []
    for name, (left, right) in sat.items():
        for layer in range(left.shape[0]):
            rows.append(
                {
                    "layer": layer + 1,
                    "gate": name,
                    "left": float(left[layer].mean()),
                    "right": float(right[layer].mean()),
                    "units_left_half": int((left[layer] > 0.5).sum()),
                    "units_right_half": int((right[layer] > 0.5).sum()),
                    "units": int(left.shape[1]),
                }
            )
    return sorted(rows, key=lambda r: (r["layer"], list(sat).index(r["gate"])))
