"""``rnnkit bench layers``: rnnkit's LSTM/GRU/RNN against ``torch.nn``, interleaved.

For every (layer, size) the three contenders -- ``torch.nn``, rnnkit ``impl="auto"``
and rnnkit ``impl="reference"`` -- share identical weights and are timed
round-robin in one process (torch, auto, reference in turn per repetition,
after warm-up), so drift in machine load hits all three alike. The reported
time is the median over repetitions.

With ``precision="bf16"`` rnnkit's contenders run under ``torch.autocast`` (bfloat16), a fourth,
``torch-bf16``, is ``torch.nn`` under the same autocast, and ``torch`` stays float32: the base
of every ratio (backward always outside the autocast).

Forward is timed with autograd enabled (input and parameters require grad), as
in training; fwd+bwd is that forward followed by ``out.sum().backward()``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Callable, Optional, Sequence

import torch
from torch import nn

from rnnkit.files import atomic_write_text
from rnnkit.nn import LAYER_CLASSES, LSTM
from rnnkit.nn.specs import CELLS, CellSpec
from rnnkit.train.precision import resolve as resolve_precision

from .layer_cases import BF16_LIMITS, QUICK_SIZES, SIZES, Result, Size, auto_choice

IMPLS = ("torch", "auto", "reference")
BF16_IMPLS = ("torch", "torch-bf16", "auto", "reference")
#: the layers benchmarked: rnnkit's classes by name in lower case (``rnn``: tanh, its default)
LAYERS = tuple(name.lower() for name in LAYER_CLASSES)
AUTO_LIMIT = 1.05
#: the reference kernel's fwd+bwd time at most this times torch's, per (layer class, size): set for
#: the LSTM only
REFERENCE_LIMITS = {(LSTM, "a"): 2.0, (LSTM, "b"): 2.0, (LSTM, "d"): 1.2}


def _spec(layer: str) -> CellSpec:
    """The recurrence of the class named ``layer`` with its default options (the first in CELLS)."""
    return next(spec for spec in CELLS.values() if spec.name.lower() == layer)


def parse_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    """Split ``"a,b"`` into names, raising ``ValueError`` naming any unknown value."""
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise ValueError(f"unknown {what} {', '.join(map(repr, bad)) or repr(text)}; choose from {','.join(allowed)}")
    return list(dict.fromkeys(names))


def forward_flops(layer: str, size: Size) -> float:
    """Matmul FLOPs of one forward: per step per layer 2*N*G*H*(H_in+H)."""
    total = 0.0
    for k in range(size.layers):
        h_in = size.input if k == 0 else size.hidden
        total += 2.0 * size.batch * _spec(layer).gates * size.hidden * (h_in + size.hidden)
    return total * size.seq


def build_models(layer: str, size: Size) -> dict[str, nn.Module]:
    """torch.nn layer plus rnnkit auto/reference layers carrying the same weights."""
    torch.manual_seed(0)
    ref = _spec(layer).torch_layer(size.input, size.hidden, size.layers)
    models = {"torch": ref, "torch-bf16": ref}
    for impl in ("auto", "reference"):
        m = LAYER_CLASSES[layer.upper()](size.input, size.hidden, size.layers, impl=impl)
        m.load_state_dict(ref.state_dict())
        models[impl] = m
    return models


def _time_ms(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def _steps(model: nn.Module, x: torch.Tensor, bf16: bool = False) -> tuple[Callable, Callable]:
    """The forward-only and forward+backward closures for one contender (``bf16``: forward under autocast)."""

    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(x)

    def fwd() -> None:
        forward()

    def fwdbwd() -> None:
        out, _ = forward()
        out.float().sum().backward()
        model.zero_grad(set_to_none=True)
        x.grad = None

    return fwd, fwdbwd


def bench_pair(layer: str, size: Size, repeats: int, warmup: int, precision: str = "fp32") -> list[Result]:
    """Time all contenders round-robin at one (layer, size)."""
    models = build_models(layer, size)
    x = torch.randn(size.seq, size.batch, size.input, requires_grad=True)
    impls = BF16_IMPLS if precision == "bf16" else IMPLS
    steps = {impl: _steps(models[impl], x, bf16=precision == "bf16" and impl != "torch") for impl in impls}
    flops = forward_flops(layer, size)
    results = {impl: Result(layer, size.name, impl, flops_fwd=flops) for impl in impls}
    for rep in range(warmup + repeats):
        k = rep % len(impls)  # rotate who goes first so no contender owns a slot
        for impl in impls[k:] + impls[:k]:
            fwd, fwdbwd = steps[impl]
            t_f, t_fb = _time_ms(fwd), _time_ms(fwdbwd)
            if rep >= warmup:
                results[impl].fwd_ms.append(t_f)
                results[impl].fwdbwd_ms.append(t_fb)
    results["auto"].chose = auto_choice(models["auto"], size, precision)
    return [results[impl] for impl in impls]


def _ratio(res: Result, base: Result) -> tuple[float, float]:
    return res.fwd / base.fwd, res.fwdbwd / base.fwdbwd


def format_table(results: list[Result]) -> str:
    """The results table; ratios are rnnkit median / torch median."""
    head = (
        f"{'layer':<5} {'size':<26} {'impl':<10} {'fwd ms':>9} {'fwd+bwd ms':>11} "
        f"{'r fwd':>6} {'r f+b':>6} {'GF/s fwd':>9} {'GF/s f+b':>9}"
    )
    lines = [head, "-" * len(head)]
    base = None
    for r in results:
        if r.impl == "torch":
            base = r
        rf, rfb = _ratio(r, base)
        gf = r.flops_fwd / (r.fwd * 1e6)
        gfb = 3 * r.flops_fwd / (r.fwdbwd * 1e6)
        lines.append(
            f"{r.layer.upper():<5} {SIZES[r.size].label():<26} {r.name():<10} "
            f"{r.fwd:9.3f} {r.fwdbwd:11.3f} {rf:6.2f} {rfb:6.2f} {gf:9.3g} {gfb:9.3g}"
        )
    return "\n".join(lines)


def check_targets(results: list[Result]) -> list[tuple[str, bool]]:
    """(line, passed) per target among the (layer, size) pairs that were run."""
    by_key = {(r.layer, r.size, r.impl): r for r in results}
    checks = []
    for (layer, size, impl), r in by_key.items():
        base = by_key[(layer, size, "torch")]
        rf, rfb = _ratio(r, base)
        bf16 = (layer, size, "torch-bf16") in by_key
        if impl == "auto":
            same = by_key.get((layer, size, "torch-bf16"), base)  # torch.nn in the same precision
            # in bf16 only the LSTM and GRU have bf16 kernels of rnnkit's (the RNN's runs in float32)
            ref = by_key.get((layer, size, "reference")) if not bf16 or layer != "rnn" else None
            # auto picks by a training step's time (forward + backward): that is what it must win;
            # the forward (with autograd on) is shown against torch in the same precision
            rf, rfb = r.fwd / same.fwd, r.fwdbwd / min(same.fwdbwd, ref.fwdbwd if ref else same.fwdbwd)
            checks.append(
                (
                    f"auto {layer.upper()} ({size}): fwd+bwd {rfb:.2f}x <= {AUTO_LIMIT}x "
                    + (
                        "the faster of torch" + (" bf16" if bf16 else "") + " and reference"
                        if ref
                        else "torch bf16"
                        if bf16
                        else "torch"
                    )
                    + f" (fwd {rf:.2f}x torch)",
                    rfb <= AUTO_LIMIT,
                )
            )
            if bf16 and layer == "lstm" and size in BF16_LIMITS:
                lim, (_, rfb32) = BF16_LIMITS[size], _ratio(r, base)
                checks.append((f"auto bf16 LSTM ({size}): fwd+bwd {rfb32:.2f}x <= {lim:.2f}x torch fp32", rfb32 <= lim))
        elif bf16:
            continue  # the reference kernel's limits are fp32's
        elif impl == "reference" and (LAYER_CLASSES[layer.upper()], size) in REFERENCE_LIMITS:
            lim = REFERENCE_LIMITS[(LAYER_CLASSES[layer.upper()], size)]
            checks.append((f"reference {layer.upper()} ({size}): fwd+bwd {rfb:.2f}x <= {lim}x torch", rfb <= lim))
    return checks


def to_records(results: list[Result]) -> list[dict]:
    """JSON-ready dicts: raw per-repetition times plus medians and ratios."""
    by_key = {(r.layer, r.size, r.impl): r for r in results}
    bf16_run = any(impl == "torch-bf16" for _, _, impl in by_key)
    records = []
    for r in results:
        rf, rfb = _ratio(r, by_key[(r.layer, r.size, "torch")])
        s = SIZES[r.size]
        records.append(
            {
                "layer": r.layer,
                "size": r.size,
                "batch": s.batch,
                "seq": s.seq,
                "input": s.input,
                "hidden": s.hidden,
                "num_layers": s.layers,
                "impl": r.impl,
                "auto_chose": r.chose or None,
                # the reference kernel has no bf16 variant: under autocast it runs in float32
                "precision": "bf16" if bf16_run and r.impl in ("torch-bf16", "auto") else "fp32",
                "fwd_ms": r.fwd_ms,
                "fwdbwd_ms": r.fwdbwd_ms,
                "fwd_median_ms": r.fwd,
                "fwdbwd_median_ms": r.fwdbwd,
                "ratio_fwd": rf,
                "ratio_fwdbwd": rfb,
                "flops_fwd": r.flops_fwd,
                "gflops_fwd": r.flops_fwd / (r.fwd * 1e6),
                "gflops_fwdbwd": 3 * r.flops_fwd / (r.fwdbwd * 1e6),
            }
        )
    return records


def _header(threads: int, sizes: list[str], repeats: Optional[int], quick: bool, precision: str) -> str:
    reps = (
        repeats if repeats else ", ".join(f"{s}={SIZES[s].quick_repeats if quick else SIZES[s].repeats}" for s in sizes)
    )
    return "\n".join(
        [
            f"rnnkit bench layers -- torch {torch.__version__}, threads {threads}, "
            + ("float32" if precision == "fp32" else "rnnkit and torch-bf16 in bf16 autocast, torch float32")
            + ", CPU",
            "round-robin torch/auto/reference per repetition (start rotated); "
            f"median of repeats ({reps}) after warm-up",
            "fwd: forward with autograd enabled (input and weights require grad); "
            "fwd+bwd: forward + out.sum().backward()",
            "ratio = rnnkit median / torch.nn median; GFLOP/s from matmul FLOPs (fwd+bwd counted as 3x fwd)",
        ]
    )


def run(
    sizes: Optional[Sequence[str]] = None,
    layers: Optional[Sequence[str]] = None,
    threads: int = 2,
    repeats: Optional[int] = None,
    quick: bool = False,
    json_path: Optional[str] = None,
    out: Callable[[str], None] = print,
    precision: str = "fp32",
) -> list[Result]:
    """Run the benchmark, print table and target check, optionally write JSON (``precision``
    ``bf16``: refused on a CPU without native bf16 unless ``RNNKIT_FORCE_BF16=1``)."""
    sizes = list(sizes) if sizes else list(QUICK_SIZES if quick else SIZES)
    layers = list(layers) if layers else list(LAYERS)
    parse_list(",".join(sizes), tuple(SIZES), "size")
    parse_list(",".join(layers), LAYERS, "layer")
    if repeats is not None and repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if precision != "fp32":
        _, why = resolve_precision(precision, torch.device("cpu"))
        out(f"bf16: {why}")
    if json_path:
        _check_writable(json_path)
    torch.set_num_threads(threads)
    out(_header(threads, sizes, repeats, quick, precision))
    start = time.perf_counter()
    results = []
    for layer in layers:
        for name in sizes:
            size = SIZES[name]
            reps = repeats or (size.quick_repeats if quick else size.repeats)
            warmup = max(3, min(10, reps // 10))  # with the heap kept, the first 2-3 calls grow it
            results += bench_pair(layer, size, reps, warmup, precision)
    out("")
    out(format_table(results))
    out("")
    out("targets:")
    for line, ok in check_targets(results):
        out(f"  {'PASS' if ok else 'FAIL'}  {line}")
    out(f"\nwall time {time.perf_counter() - start:.1f} s")
    if json_path:
        _write_json_atomically(json_path, to_records(results))
        out(f"raw measurements written to {json_path}")
    return results


def _check_writable(path: str) -> None:
    """Fail before minutes of timing, not after, if the JSON cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"--json {path}: is a directory; give a file path")
    if not os.path.isdir(folder):
        raise ValueError(f"--json {path}: folder {folder} does not exist")


def _write_json_atomically(path: str, records) -> None:
    """Write to a temporary file beside ``path``, then rename: no half-written file."""
    atomic_write_text(path, json.dumps(records, indent=1))
