"""Activations drawn over the text: a self-contained HTML page and PNG figures.

A *row* is one unit to show: ``(title, values)`` with ``values`` an ``(L,)`` tensor
already scaled to [-1, 1] by :func:`scaled` (blue -1, white 0, red +1, as in
Karpathy, Johnson & Fei-Fei 2015). The HTML shows every character, escaped, with
newlines marked; the PNG shows the first characters of the text.
"""

from __future__ import annotations

import html
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.train.plots import pyplot, save_figure

LEVELS = 10  # colour buckets per sign: classes c0 .. c20, c10 is white
NEWLINE_MARK = "\u21b5"  # the arrow drawn where the text has a newline
ZERO_CENTRED = ("h", "g", "n")  # tanh outputs in [-1, 1]; sigmoid gates are in [0, 1]; c unbounded


def scaled(values: Tensor, name: str) -> tuple[Tensor, str]:
    """``(L,)`` activations of gate or state ``name`` -> ``((L,) in [-1, 1], legend)``.

    Sigmoid gates map 0 -> -1 and 1 -> +1; ``h, g, n`` keep their [-1, 1] scale; the
    unbounded LSTM cell state ``c`` is divided by its largest magnitude on the text.
    """
    if name in ZERO_CENTRED:
        return values.clamp(-1, 1), "blue -1, white 0, red +1"
    if name == "c":
        peak = float(values.abs().max()) or 1.0
        return values / peak, f"blue -{peak:.2f}, white 0, red +{peak:.2f}"
    return (2 * values - 1).clamp(-1, 1), "blue 0 (shut), white 0.5, red 1 (open)"


def _colour(level: int) -> str:
    """Hex colour of bucket ``level`` in 0..2*LEVELS: blue, white, red."""
    t = (level - LEVELS) / LEVELS
    fade = int(round(255 * (1 - abs(t))))
    return f"#{fade:02x}{fade:02x}ff" if t < 0 else f"#ff{fade:02x}{fade:02x}"


def _buckets(values: Tensor) -> list[int]:
    return [int(b) for b in torch.round((values.clamp(-1, 1) + 1) * LEVELS).long()]


def coloured_text(text: str, values: Tensor) -> str:
    """HTML for ``text`` with character t on the colour of ``values[t]``; runs of one colour merged."""
    pieces, run, current = [], [], None
    for ch, level in zip(text, _buckets(values)):
        if level != current and run:
            pieces.append(f'<span class="c{current}">{"".join(run)}</span>')
            run = []
        current = level
        run.append(f'<span class="nl">{NEWLINE_MARK}</span>\n' if ch == "\n" else html.escape(ch))
    if run:
        pieces.append(f'<span class="c{current}">{"".join(run)}</span>')
    return "".join(pieces)


def _style() -> str:
    buckets = "".join(f".c{k}{{background:{_colour(k)}}}" for k in range(2 * LEVELS + 1))
    return (
        "body{font-family:sans-serif;margin:1.5em;max-width:70em}"
        ".t{font-family:monospace;font-size:13px;line-height:1.45;white-space:pre-wrap;"
        "border:1px solid #ccc;padding:.6em}.nl{color:#888}.legend{color:#555;font-size:90%}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}" + buckets
    )


def html_page(
    title: str, text: str, rows: list[tuple[str, Tensor, str]], notes: list[str] = (), table: list[list[str]] = ()
) -> str:
    """A self-contained HTML page (inline CSS, no scripts or external resources).

    Args:
        title: page heading.
        text: the L characters read.
        rows: ``(heading, values (L,) in [-1, 1], legend)`` per unit shown.
        notes: paragraphs under the heading.
        table: optional rows of cells (the first is the header), e.g. saturation figures.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_style()}</style></head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    parts += [f"<p>{html.escape(note)}</p>" for note in notes]
    for heading, values, legend in rows:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(f'<p class="legend">{html.escape(legend)}</p>')
        parts.append(f'<div class="t">{coloured_text(text, values)}</div>')
    if table:
        parts.append("<h2>Gate saturation</h2><table>")
        parts.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in table[0]) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table[1:]]
        parts.append("</table>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def text_grid(text: str, width: int) -> list[tuple[int, int, str]]:
    """``(row, column, character)`` for each character, lines broken at newlines and at ``width``."""
    cells, row, col = [], 0, 0
    for ch in text:
        if col >= width:
            row, col = row + 1, 0
        cells.append((row, col, NEWLINE_MARK if ch == "\n" else ch))
        if ch == "\n":
            row, col = row + 1, 0
        else:
            col += 1
    return cells


def activation_png(text: str, rows: list[tuple[str, Tensor, str]], path: str | Path, width: int = 64) -> Path:
    """One panel per row: the text on a grid, each character on its colour. Returns the path."""
    plt = pyplot()
    cells = text_grid(text, width)
    height = cells[-1][0] + 1 if cells else 1
    cols = min(width, max((c for _, c, _ in cells), default=0) + 1)
    fig, axes = plt.subplots(
        len(rows), 1, squeeze=False, dpi=90, figsize=(0.13 * cols + 0.4, len(rows) * (0.19 * height + 0.45))
    )
    for ax, (heading, values, _) in zip(axes[:, 0], rows):
        grid = torch.full((height, cols), float("nan"))
        for (r, c, _), v in zip(cells, values.tolist()):
            grid[r, c] = v
        ax.imshow(grid.numpy(), cmap="bwr", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        for r, c, ch in cells:
            if not ch.isspace():
                ax.text(
                    c,
                    r,
                    ch,
                    ha="center",
                    va="center",
                    family="monospace",
                    fontsize=8,
                    color="#777" if ch == NEWLINE_MARK else "black",
                )
        ax.set_title(heading, fontsize=9, loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return save_figure(fig, path)


def saturation_png(sat: dict[str, tuple[Tensor, Tensor]], path: str | Path, title: str) -> Path:
    """The paper's Figure 3: per gate, each unit at (fraction left-, fraction right-saturated)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(sat), squeeze=False, figsize=(3.2 * len(sat), 3.4), dpi=100)
    for ax, (name, (left, right)) in zip(axes[0], sat.items()):
        for layer in range(left.shape[0]):
            ax.scatter(left[layer].numpy(), right[layer].numpy(), s=7, alpha=0.6, label=f"layer {layer + 1}")
        ax.plot([0, 1], [1, 0], color="#999", lw=0.8)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title=f"{name} gate", xlabel="fraction left-saturated (< 0.1)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("fraction right-saturated (> 0.9)")
    axes[0, -1].legend(fontsize=8, loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
