"""``rnnkit analyze gates RUN``: what the cells and gates of a char-LM do, character by character.

As in Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent
Networks": chosen units (``--units``) or the units most correlated with a feature of
the text (``--find``) drawn as coloured text (HTML and PNG), and how often each gate is
saturated, per layer (table and plot). The reading of the model and text is in
:mod:`rnnkit.analysis.reading`, the measuring in :mod:`rnnkit.analysis.activations`, the
drawing in :mod:`rnnkit.analysis.render`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from rnnkit.files import atomic_write_text
from rnnkit.train.forms import Bounded
from rnnkit.train.limits import check_bytes

from . import activations as A
from . import render
from .reading import MAX_CHARS, load_charlm, read_text

DEFAULT_CHARS = 2000


def add_parser(sub) -> None:
    """``rnnkit analyze gates`` and its options, under the analyses' subparsers ``sub``."""
    p = sub.add_parser(
        "gates",
        help="per-character activations of a char-LM's cells and gates "
        "(HTML/PNG), units correlated with text features, gate saturation",
        description="As in Karpathy, Johnson & Fei-Fei (2015), 'Visualizing and "
        "Understanding Recurrent Networks': chosen units (--units) or the units most "
        "correlated with a feature of the text (--find) drawn as coloured text (HTML "
        "and PNG), and how often each gate is saturated, per layer (table and plot).",
    )
    p.add_argument("run", metavar="RUN", help="charlm run directory or checkpoint file")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--text",
        help="the text to read (default: the start of the run's validation text, e.g. Tiny Shakespeare's last 10%%)",
    )
    source.add_argument("--text-file", metavar="FILE", help="read the text from a UTF-8 file")
    Bounded(
        "max_chars",
        int,
        0,
        MAX_CHARS,
        DEFAULT_CHARS,
        f"use the first N characters of the text (0 = all, up to {MAX_CHARS:,})",
    ).arg().add_to(p)
    p.add_argument(
        "--skip-unknown", action="store_true", help="drop characters the model does not know instead of failing"
    )
    p.add_argument(
        "--layer",
        type=int,
        metavar="L",
        help="layer, 1 = lowest (default: the top one for --units; every layer for --find)",
    )
    p.add_argument(
        "--units", metavar="LIST", help="units to show, e.g. 0,5,17 or 3-7 (default 0-3 when --find is not given)"
    )
    p.add_argument(
        "--gate", help="LSTM i, f, g, o or the states c, h; GRU r, z, n, h; RNN h (default: c for an LSTM, h otherwise)"
    )
    p.add_argument(
        "--find",
        choices=sorted(A.FEATURES),
        metavar="FEATURE",
        help="rank units by correlation with a feature of the text: "
        + ", ".join(f"{k} ({v[1]})" for k, v in A.FEATURES.items()),
    )
    Bounded("top", int, 1, 1000, 3, "units shown with --find").arg().add_to(p)
    Bounded(
        "held_out",
        int,
        0,
        MAX_CHARS,
        0,
        "with --find, also give each unit's r on the next N characters "
        "of the text, which played no part in choosing it (0 = none)",
    ).arg().add_to(p)
    Bounded("png_chars", int, 1, 10_000, 400, "characters drawn in the PNG (the HTML has them all)").arg().add_to(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default RUN/analysis)")
    Bounded("threads", int, 0, 1024, 0, "CPU threads (0 = as many as torch picks)").arg().add_to(p)


def pick_layers(args: argparse.Namespace, layers: int) -> list[int]:
    """0-based layers to look at."""
    if args.layer is None:
        return list(range(layers)) if args.find else [layers - 1]
    if not 1 <= args.layer <= layers:
        raise ValueError(f"--layer {args.layer}: out of range; the model has layers 1-{layers}")
    return [args.layer - 1]


def choose_units(args, acts: torch.Tensor, text: str, layers: list[int]) -> list[tuple[int, int, float | None]]:
    """``[(layer, unit, r or None)]`` to show, from ``--find`` and/or ``--units``; acts ``(K, L, H)``."""
    chosen: list[tuple[int, int, float | None]] = []
    target = A.feature(args.find, text) if args.find else None
    if args.find:
        if args.top < 1:
            raise ValueError(f"--top: expected >= 1, got {args.top}")
        ranked = A.rank_units(acts[layers], target, args.top)
        chosen = [(layers[k], unit, r) for k, unit, r in ranked]
    if args.units or not args.find:
        for unit in A.parse_units(args.units or "0-3", acts.shape[2]):
            r = float(A.correlations(acts[layers[-1], :, unit : unit + 1], target)[0]) if args.find else None
            if (layers[-1], unit) not in [(k, u) for k, u, _ in chosen]:
                chosen.append((layers[-1], unit, r))
    return chosen


def check_held_out(args) -> None:
    """Refuse a ``--held-out`` that cannot be measured, before any work."""
    if args.held_out < 0:
        raise ValueError(f"--held-out: expected >= 0, got {args.held_out}")
    if args.held_out and not args.find:
        raise ValueError("--held-out needs --find (it measures the found units on unseen text)")
    if args.held_out and not args.max_chars:
        raise ValueError("--held-out needs --max-chars (the held-out part follows the first N characters)")


def held_out_r(args, lm, text: str, chosen: list, gate: str) -> dict:
    """Each chosen unit's r with ``--find`` on the ``--held-out`` characters after ``text``.

    The model reads ``text`` and the held-out part in one pass (its state carries over, as in
    the in-sample figures); only the held-out steps are correlated.

    Returns:
        ``{"chars": K, "r": [r of each chosen unit]}``.
    """
    wider = argparse.Namespace(**{**vars(args), "max_chars": args.max_chars + args.held_out})
    whole = read_text(wider, lm)[0]
    held = whole[len(text) :]
    if len(held) < 2:
        raise ValueError(f"--held-out {args.held_out}: the text has no characters after the first {len(text):,}")
    acts = A.record(lm.model, lm.vocab.encode(whole))[gate][:, len(text) :]
    target = A.feature(args.find, held)
    return {
        "chars": len(held),
        "r": [float(A.correlations(acts[layer, :, unit : unit + 1], target)[0]) for layer, unit, _ in chosen],
    }


def saturation_table(rows: list[dict]) -> list[list[str]]:
    """The saturation rows as text cells, header first."""
    table = [["layer", "gate", "left < 0.1", "right > 0.9", "units left > 50%", "units right > 50%"]]
    for r in rows:
        table.append(
            [
                str(r["layer"]),
                r["gate"],
                f"{r['left']:.3f}",
                f"{r['right']:.3f}",
                f"{r['units_left_half']}/{r['units']}",
                f"{r['units_right_half']}/{r['units']}",
            ]
        )
    return table


def print_table(table: list[list[str]]) -> None:
    widths = [max(len(row[j]) for row in table) for j in range(len(table[0]))]
    for row in table:
        print("  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths)))


def run(args: argparse.Namespace) -> int:
    """Record, rank, measure saturation, write HTML/PNG/JSON, print what was written."""
    start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    lm = load_charlm(args.run)
    config = lm.model.config
    gate = args.gate or A.default_gate(config.cell)
    A.check_gate(config.cell, gate)
    layers = pick_layers(args, config.num_layers)
    check_held_out(args)
    if args.png_chars < 1:
        raise ValueError(f"--png-chars: expected >= 1, got {args.png_chars}")
    text, label = read_text(args, lm)
    check_bytes(
        4 * 8 * len(text) * config.num_layers * config.hidden_size,
        "the recorded activations",
        [f"{len(text):,} characters (--max-chars)", f"{config.num_layers} layers", f"{config.hidden_size} units"],
    )
    acts = A.record(lm.model, lm.vocab.encode(text))

    chosen = choose_units(args, acts[gate], text, layers)
    print(
        f"read {len(text):,} characters ({label}) with a {config.num_layers}-layer "
        f"{config.cell} of {config.hidden_size} units; showing {gate}"
    )
    if args.find:
        print(f"units of {gate} most correlated with {args.find} ({A.FEATURES[args.find][1]}):")
    rows, records = [], []
    for layer, unit, r in chosen:
        note = f", r = {r:+.3f} with {args.find}" if r is not None else ""
        values, legend = render.scaled(acts[gate][layer, :, unit], gate)
        rows.append((f"layer {layer + 1}, unit {unit} ({gate}){note}", values, legend))
        records.append({"layer": layer + 1, "unit": unit, "gate": gate, "r": r})
        if r is not None:
            print(f"  layer {layer + 1}  unit {unit:4d}  r = {r:+.3f}")
    held = held_out_r(args, lm, text, chosen, gate) if args.find and args.held_out else None
    if held:
        print(
            f"on the next {held['chars']:,} characters (held out): "
            + ", ".join(f"layer {k + 1} unit {u} r = {r:+.3f}" for (k, u, _), r in zip(chosen, held["r"]))
        )
    sat = A.saturation({g: acts[g] for g in A.SIGMOID_GATES[config.cell]})
    sat_rows = A.saturation_rows(sat)
    table = saturation_table(sat_rows) if sat_rows else []
    if table:
        print(f"gate saturation (fraction of the {len(text):,} steps, mean over units):")
        print_table(table)
    out = Path(args.out) if args.out else lm.path.parent / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"find-{args.find}-{gate}" if args.find else f"units-L{layers[-1] + 1}-{gate}"
    title = f"{config.cell} char-LM, {gate}" + (f": units vs {args.find}" if args.find else "")
    notes = [
        f"{lm.path}: {config.num_layers} x {config.hidden_size} {config.cell}; "
        f"{len(text):,} characters from {label}. Each character is coloured by the unit's "
        "value after reading it; \u21b5 marks a newline."
    ]
    atomic_write_text(out / f"{stem}.html", render.html_page(title, text, rows, notes, table))
    short = text[: args.png_chars]
    written = [
        out / f"{stem}.html",
        render.activation_png(short, [(h, v[: len(short)], g) for h, v, g in rows], out / f"{stem}.png"),
    ]
    if sat:
        written.append(
            render.saturation_png(
                sat, out / "saturation.png", f"{config.cell}: gate saturation on {len(text):,} characters"
            )
        )
    summary = {
        "checkpoint": str(lm.path),
        "text": label,
        "chars": len(text),
        "gate": gate,
        "find": args.find,
        "units": records,
        "held_out": held,
        "saturation": sat_rows,
    }
    atomic_write_text(out / f"{stem}.json", json.dumps(summary, indent=2) + "\n")
    written.append(out / f"{stem}.json")
    for path in written:
        print(f"wrote {path}")
    print(f"done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0
