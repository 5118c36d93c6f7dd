"""``rnnkit export RUN --format onnx|torchscript --out FILE``: write, run back, compare, keep.

Each :class:`~rnnkit.export.graphs.Graph` of a model is traced from a copy made with
:func:`~rnnkit.export.layers.for_export`, written to a temporary file, loaded back by the
runtime a deployment would use (onnxruntime, ``torch.jit.load``) and run on the example and
every probe; the largest absolute difference from the eager rnnkit model is printed, and the
files are kept only when it is within the tolerance. A JSON file beside them names every
input and output with its shape and holds what a runtime needs besides the weights (the
checkpoint's vocabularies and tokenizers).

torch 2.13 marks ``torch.jit`` and its TorchScript-based ONNX exporter deprecated (their
warnings are silenced here). They are used because the torch.export-based exporter needs
``onnxscript`` and has no place for the padded-RNN node of :mod:`.layers`; porting to it is
work for when the old path goes.
"""
from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from rnnkit.files import atomic_write_text, remove_stale_temporaries, temporary
from rnnkit.train.config import finite_float
from rnnkit.train.recipe import Command, arg

from .graphs import Graph
from .layers import for_export

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def outputs(graphs: Sequence[str]) -> tuple[str, ...]:
    """The files ``export`` writes in a run directory by default, for a recipe's graph names."""
    stems = ["model"] if len(graphs) == 1 else [f"model.{g}" for g in graphs]
    return tuple(s + suffix for s in stems for suffix in FORMATS.values()) + ("model.json",)


def graph_paths(out: Path, graphs: Sequence[Graph]) -> dict[str, Path]:
    """FILE for a single graph, else FILE's stem + ``.{graph}`` + its suffix per graph."""
    if len(graphs) == 1:
        return {graphs[0].name: out}
    return {g.name: out.with_name(f"{out.stem}.{g.name}{out.suffix}") for g in graphs}


def _trace(graph: Graph, model: torch.nn.Module, fmt: str, path: Path, opset: int) -> None:
    module = graph.make(for_export(model)).eval()
    inputs = tuple(graph.example.values())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracers' notes on Python values they freeze
        if fmt == "torchscript":
            torch.jit.trace(module, inputs, check_trace=False).save(str(path))
        else:
            names = list(graph.example) + graph.outputs
            torch.onnx.export(module, inputs, str(path), dynamo=False, opset_version=opset,
                              input_names=list(graph.example), output_names=graph.outputs,
                              dynamic_axes={k: v for k, v in graph.dynamic.items() if k in names})


def _runner(fmt: str, path: Path) -> tuple[Callable, Optional[set]]:
    """(inputs -> output arrays, the input names the file takes: ONNX drops unused ones)."""
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module doc
            loaded = torch.jit.load(str(path))

        def run(inputs):
            with torch.no_grad():
                return [t.numpy() for t in loaded(*inputs.values())]
        return run, None
    try:
        import onnxruntime
    except ImportError:
        raise ValueError("export --format onnx: onnxruntime is not installed; pip install "
                         "'rnnkit[export]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    taken = {i.name for i in session.get_inputs()}
    return (lambda inputs: session.run(None, {k: v.numpy() for k, v in inputs.items() if k in taken})), taken


def largest_difference(graph: Graph, model: torch.nn.Module, fmt: str, path: Path) -> tuple[float, Optional[set]]:
    """(max |exported - eager| over every output of the example and the probes, the input
    names the file takes or None for all)."""
    (run, taken), eager = _runner(fmt, path), graph.make(model).eval()
    worst = 0.0
    for inputs in [graph.example] + graph.probes:
        with torch.no_grad():
            expected = [t.numpy() for t in eager(*inputs.values())]
        got = run(inputs)
        if len(got) != len(expected):
            raise ValueError(f"export: {path} gives {len(got)} outputs, the model {len(expected)}")
        for name, a, b in zip(graph.outputs, got, expected):
            if a.shape != b.shape:
                raise ValueError(f"export: {path}: output {name} has shape {a.shape}, the model's {b.shape} "
                                 f"(a size was frozen when tracing)")
            worst = max(worst, float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max(initial=0.0)))
    return worst, taken


def describe(graph: Graph, model: torch.nn.Module, file: Path, taken: Optional[set]) -> dict:
    """The graph's file and each input/output's dtype and shape (variable axes by name);
    ``taken``: the inputs the file takes (None: all)."""
    def shape(name: str, tensor: torch.Tensor) -> list:
        axes = graph.dynamic.get(name, {})
        return [axes.get(i, int(s)) for i, s in enumerate(tensor.shape)]
    with torch.no_grad():
        outs = graph.make(model).eval()(*graph.example.values())
    return {"file": file.name,
            "inputs": [{"name": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": shape(k, v)}
                       for k, v in graph.example.items() if taken is None or k in taken],
            "outputs": [{"name": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": shape(k, v)}
                        for k, v in zip(graph.outputs, outs)]}


def export_model(model: torch.nn.Module, graphs: Sequence[Graph], fmt: str, out: Path, tolerance: float,
                 opset: int = 17, meta: dict | None = None) -> list[tuple[str, Path, float]]:
    """Write every graph (checked) and the JSON beside them; [(graph, file, max difference)].

    ValueError, with nothing left behind, when a graph cannot be exported or differs from the
    eager model by more than ``tolerance``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected {' or '.join(FORMATS)}, got {fmt!r}")
    paths = graph_paths(out, graphs)
    written, results = [], []
    try:
        for graph in graphs:
            remove_stale_temporaries(paths[graph.name])
            temp = temporary(paths[graph.name])
            written.append(temp)
            try:
                _trace(graph, model, fmt, temp, opset)
            except (RuntimeError, TypeError, torch.onnx.errors.OnnxExporterError) as err:
                raise ValueError(f"export: the {graph.name} graph could not be traced to {fmt} "
                                 f"({' '.join(str(err).split())[:200]})") from None
            diff, taken = largest_difference(graph, model, fmt, temp)
            if not diff <= tolerance:
                raise ValueError(f"export: {graph.name}: the exported graph differs from the eager model by "
                                 f"{diff:.3g} > --tolerance {tolerance:g}; nothing was written")
            results.append((graph, temp, diff, taken))
        sidecar = {"format": fmt, "opset": opset if fmt == "onnx" else None,
                   "graphs": {g.name: describe(g, model, paths[g.name], taken) for g, _, _, taken in results}, "meta": meta or {}}
        for graph, temp, _, _ in results:
            os.replace(temp, paths[graph.name])
        side = out.with_suffix(".json")
        atomic_write_text(side, json.dumps(sidecar, indent=1) + "\n")
    finally:
        for temp in written:
            temp.unlink(missing_ok=True)
    return [(g.name, paths[g.name], d) for g, _, d, _ in results]


def _tolerance(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def export_command(graphs: Callable, meta_keys: Sequence[str] = ()) -> Command:
    """The ``export`` use command of a recipe; ``graphs(trained)`` lists its :class:`Graph` s and
    ``meta_keys`` the checkpoint metadata a runtime needs (vocabularies, tokenizers)."""
    def run(trained, args) -> int:
        fmt = args.format
        out = Path(args.out) if args.out else Path(trained.run_dir or ".") / "model"
        if out.suffix == "":
            out = out.with_suffix(FORMATS[fmt])
        if not out.parent.is_dir():
            raise ValueError(f"--out {args.out}: folder {out.parent} does not exist")
        meta = {k: trained.meta[k] for k in meta_keys if k in trained.meta}
        model = trained.model.cpu().float().eval()
        for name, path, diff in export_model(model, graphs(trained), fmt, out, args.tolerance, args.opset, meta):
            print(f"{name}: {path} ({fmt}); max |exported - eager| = {diff:.3g} over 4 input shapes "
                  f"(tolerance {args.tolerance:g})")
        print(f"inputs, outputs and vocabularies: {out.with_suffix('.json')}")
        return 0

    return Command("export", "write the model as ONNX or TorchScript, run it back and compare with the eager model", (
        arg("--format", choices=tuple(FORMATS), default="onnx", help="onnx (onnxruntime) or torchscript"),
        arg("--out", default=None, help="file to write (default RUN_DIR/model.onnx or .pt; the suffix "
                                       "is added when missing)"),
        arg("--tolerance", type=_tolerance, default=1e-4, help="largest allowed |exported - eager| (default 1e-4)"),
        arg("--opset", type=int, default=17, help="ONNX opset (default 17)"),
    ), run)
