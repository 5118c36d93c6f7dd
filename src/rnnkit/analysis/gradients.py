"""``rnnkit analyze gradients``: how the gradient of the last state fades with distance, per cell.

At initialisation (``--cells``, ``--steps``, ``--hidden``, ``--seeds``; cures: ``--init``,
``--forget-bias``, ``--scale``) or for the first recurrent layer of a trained checkpoint of any
recipe (``--checkpoint RUN``, on inputs that recipe's own evaluation feeds that layer). Writes a
CSV and a log-scale PNG, and prints per cell the distances at which the gradient has fallen to
1e-3 and 1e-6 of its value at t = T beside those predicted from the recurrent Jacobian
(:mod:`rnnkit.analysis.gradflow`).
"""

from __future__ import annotations

import copy
import csv
import io
import math
from pathlib import Path

import torch

from rnnkit.nn import CELL_NAMES, cell_name
from rnnkit.train.forms import Bounded
from rnnkit.train.limits import check_bytes

from .gradflow import INITS, decay_distance, flow_curves, make_layer, predicted_distance

LEVELS = (1e-3, 1e-6)
#: the numeric options and their ranges (the memory their product needs is checked too)
OPTIONS = (
    Bounded("steps", int, 1, 10_000, 100, "sequence length T"),
    Bounded("hidden", int, 1, 4096, 64, "hidden units"),
    Bounded("input_size", int, 1, 4096, 16, "input features"),
    Bounded("layers", int, 1, 64, 1, "stacked layers"),
    Bounded("seeds", int, 1, 1000, 5, "initialisations (one input batch each)"),
    Bounded("samples", int, 1, 10_000, 8, "random input sequences per seed"),
)
CURES = (
    Bounded("forget_bias", float, -50, 50, None, "LSTM forget-gate bias (e.g. 1)"),
    Bounded("scale", float, 0, 100, 1.0, "multiply W_hh (spectral radius) by this"),
)
THREADS = Bounded("threads", int, 1, 1024, 1, "torch threads (1 by default: the tensors are small)")


def _cells(text: str) -> list[str]:
    cells = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in cells if c not in CELL_NAMES]
    if unknown or not cells:
        raise ValueError(
            f"--cells: unknown cell {', '.join(unknown) or text!r}; expected a comma list of {', '.join(CELL_NAMES)}"
        )
    return cells


def add_parser(sub) -> None:
    p = sub.add_parser("gradients", help="norm of d h_T / d x_t per distance, per cell (CSV, PNG, table)")
    p.add_argument("--cells", default="rnn_tanh,lstm,gru", help=f"comma list of {', '.join(CELL_NAMES)}")
    for option in OPTIONS:
        option.arg().add_to(p)
    p.add_argument(
        "--init", default="default", choices=INITS, help="recurrent weights: torch default, orthogonal or identity"
    )
    for option in CURES:
        option.arg().add_to(p)
    p.add_argument("--checkpoint", default=None, help="a trained run of any recipe: its first recurrent layer")
    p.add_argument("--out", default=".", help="folder for gradients.csv and gradients.png (default: here)")
    THREADS.arg().add_to(p)


def init_curves(cell: str, args) -> tuple[torch.Tensor, float]:
    """(log10 ratio (seeds, T) averaged over each seed's samples, mean predicted factor)."""
    curves, factors = [], []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        layer = make_layer(cell, args.input_size, args.hidden, args.layers, args.init, args.forget_bias, args.scale)
        x = torch.randn(args.samples, args.steps, args.input_size, dtype=torch.float64)
        ratios, factor = flow_curves(layer, cell, x)
        curves.append(ratios.clamp(min=1e-300).log10().mean(0))
        factors.append(factor)
    return torch.stack(curves), sum(factors) / len(factors)


def checkpoint_curves(path: str, steps: int, samples: int) -> tuple[str, torch.Tensor, float]:
    """(cell, log10 ratio (1, T'), factor) for the first recurrent layer of a trained run."""
    from rnnkit.recipes import load

    from .capture import first_recurrent_layer, recorded_inputs

    trained = load(path)
    layer = first_recurrent_layer(trained.model)
    units = int(getattr(layer, "hidden_size", 0))
    check_bytes(
        8 * units * samples * steps * 9 * units,
        "the Jacobian batch",
        [f"{units} units (twice)", f"--samples {samples}", f"--steps {steps}"],
    )
    x = recorded_inputs(trained, layer, steps, samples)

    layer = copy.deepcopy(layer).double().eval()
    cell = cell_name(layer)
    ratios, factor = flow_curves(layer, cell, x.double())
    return cell, ratios.clamp(min=1e-300).log10().mean(0, keepdim=True), factor


def summary_row(cell: str, curves: torch.Tensor, factor: float) -> dict:
    """Distances measured on the mean curve and predicted from the factor."""
    mean = 10 ** curves.mean(0)
    row = {"cell": cell, "factor": factor, "log10_at_end": float(curves.mean(0)[-1])}
    for level in LEVELS:
        row[f"measured_{level:g}"] = decay_distance(mean, level)
        row[f"predicted_{level:g}"] = predicted_distance(factor, level)
    return row


def write_csv(path: Path, results: dict[str, torch.Tensor]) -> None:
    from rnnkit.files import atomic_write_text

    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(["cell", "distance", "log10_ratio_mean", "log10_ratio_min", "log10_ratio_max"])
    for cell, curves in results.items():
        mean, low, high = curves.mean(0), curves.min(0).values, curves.max(0).values
        for k in range(curves.shape[1]):
            out.writerow([cell, k, f"{float(mean[k]):.6g}", f"{float(low[k]):.6g}", f"{float(high[k]):.6g}"])
    atomic_write_text(path, buffer.getvalue())


def plot(path: Path, results: dict[str, torch.Tensor], title: str) -> None:
    from rnnkit.train.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for cell, curves in results.items():
        k = range(curves.shape[1])
        ax.plot(k, (10 ** curves.mean(0)).numpy(), label=cell)
        if len(curves) > 1:
            ax.fill_between(k, (10 ** curves.min(0).values).numpy(), (10 ** curves.max(0).values).numpy(), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("distance T - t (steps back from the last input)")
    ax.set_ylabel("||d h_T / d x_t|| / ||d h_T / d x_T||")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def _distance(value: float) -> str:
    if math.isnan(value):
        return "n/a"  # no one-layer prediction for a stack
    return f"{value:.1f}" if math.isfinite(value) else "> T"


def describe(rows: list[dict]) -> str:
    lines = [
        f"{'cell':<9} {'factor':>7} {'1e-3 measured':>14} {'predicted':>9} {'1e-6 measured':>14} "
        f"{'predicted':>9} {'log10 at T-1':>12}"
    ]
    for r in rows:
        lines.append(
            f"{r['cell']:<9} {r['factor']:>7.3f} {_distance(r['measured_0.001']):>14} "
            f"{_distance(r['predicted_0.001']):>9} {_distance(r['measured_1e-06']):>14} "
            f"{_distance(r['predicted_1e-06']):>9} {r['log10_at_end']:>12.1f}"
        )
    return "\n".join(lines)


def check_size(args) -> None:
    """ValueError naming the options when the Jacobian batch would not fit in memory: each of
    ``hidden`` copies of the samples keeps its inputs and every step's gates (float64)."""
    per_copy = args.samples * args.steps * (args.input_size + 8 * args.hidden * args.layers)
    check_bytes(
        8 * args.hidden * per_copy,
        "the Jacobian batch",
        [
            f"--hidden {args.hidden} (twice)",
            f"--samples {args.samples}",
            f"--steps {args.steps}",
            f"--layers {args.layers}",
        ],
    )


def run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.checkpoint:
        check_size(args)
    results, rows = {}, []
    if args.checkpoint:
        cell, curves, factor = checkpoint_curves(args.checkpoint, args.steps, args.samples)
        results[cell], title = curves, f"{args.checkpoint}: first recurrent layer ({cell}), trained"
        rows.append(summary_row(cell, curves, factor))
    else:
        for cell in _cells(args.cells):
            curves, factor = init_curves(cell, args)
            results[cell] = curves
            rows.append(summary_row(cell, curves, factor))
        extras = (
            [f"init {args.init}"]
            + ([f"forget bias {args.forget_bias:g}"] if args.forget_bias is not None else [])
            + ([f"W_hh x {args.scale:g}"] if args.scale != 1.0 else [])
        )
        title = (
            f"at initialisation: T {args.steps}, hidden {args.hidden}, {args.seeds} seeds x {args.samples} "
            f"sequences; {', '.join(extras)} (band: min-max over seeds)"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "gradients.csv", results)
    plot(out / "gradients.png", results, title)
    print(describe(rows))
    print(
        f"distances in steps back from t = T; predicted = log(level) / log(factor), factor from the "
        f"recurrent Jacobian (rnnkit.analysis.gradflow)\nwrote {out / 'gradients.csv'}, {out / 'gradients.png'}"
    )
    return 0
