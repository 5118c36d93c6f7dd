"""Training curves of a run directory, drawn to PNG with matplotlib (Agg).

Figures are written atomically (:func:`save_figure`): a reader never sees a
half-written PNG, and a crash leaves the previous one.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Optional

from rnnkit.files import atomic_write

from .metricslog import read_metrics, select
from .rundir import refuse_run_file


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Render ``fig`` and write it atomically to ``path``, then close it; returns the path.

    The format follows the suffix (``.png``, ``.pdf``, ``.svg``...), PNG when
    there is none. The figure is closed even if rendering fails.
    """
    from matplotlib import pyplot as plt  # the caller's backend: switching would close figures

    path = Path(path)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=path.suffix[1:].lower() or "png")
    finally:
        plt.close(fig)
    atomic_write(path, buffer.getvalue())
    return path


def plot_run(run_dir: str | Path, out: Optional[str | Path] = None) -> Path:
    """Draw train and validation loss against step; returns the PNG path.

    Raises:
        ValueError: ``run_dir`` has no metrics to draw.
    """
    plt = pyplot()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: not a run directory")
    records = read_metrics(run_dir)
    train, val = select(records, "train"), select(records, "val")
    if not train and not val:
        raise ValueError(f"{run_dir}: no metrics yet (metrics.jsonl is missing or empty)")
    out = Path(out) if out else run_dir / "curves.png"
    refuse_run_file(out, "--out", replaceable=("curves.png",))  # never a run's checkpoint or config
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    if train:
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train", lw=1.2)
    if val:
        ax.plot([r["step"] for r in val], [r["loss"] for r in val], "o-", label="validation", ms=3)
        best = min(val, key=lambda r: r["loss"])
        ax.annotate(
            f"best {best['loss']:.3f}",
            (best["step"], best["loss"]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(run_dir.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, out)


def plot_matrix(
    values: Any,
    rows: list[str],
    cols: list[str],
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    colorbar: str = "",
    cmap: str = "Blues",
    size: Optional[tuple[float, float]] = None,
    col_rotation: int = 90,
    vmax: Optional[float] = 1.0,
) -> Path:
    """A (len(rows), len(cols)) matrix of values >= 0 as a labelled heatmap, written atomically.

    The colour scale runs from 0 to ``vmax`` (None: the largest value, so faint patterns show;
    the colour bar gives the values)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size or (max(5.0, 0.38 * len(cols) + 2), max(4.5, 0.34 * len(rows) + 2)), dpi=120)
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax, aspect="auto")
    ax.set_xticks(
        range(len(cols)), cols, rotation=col_rotation, ha="right" if col_rotation % 90 else "center", fontsize=8
    )
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=colorbar)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_digits(images: Any, captions: list[str], path: str | Path, title: str = "", columns: int = 8) -> Path:
    """Greyscale images (M, H, W) in a grid, each with its caption, written atomically.
    An empty set gives a figure that says so."""
    plt = pyplot()
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.35 * rows + 0.4), dpi=100, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
            ax.set_title(captions[i], fontsize=8)
    if not len(images):
        axes.flat[0].text(0.0, 0.5, "none", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
