"""``rnnkit export RUN --format onnx|torchscript --out FILE``: trace, run back, compare, write.

Each :class:`~rnnkit.export.graphs.Graph` of a model is traced from a copy made with
:func:`~rnnkit.export.layers.for_export` into memory, loaded back from there by the runtime
a deployment would use (onnxruntime, ``torch.jit.load``) and run on the example and every
probe; the largest absolute difference from the eager rnnkit model is printed, and the files
are written only when it is within the tolerance. A JSON file beside them names every input
and output with its shape and holds what a runtime needs besides the weights: the complete
id mapping of every vocabulary (:mod:`.ids`, specials included), the recipe's own
post-processing (names: the temperature and priors ``predict`` applies) and the checkpoint's
vocabularies and tokenizers.

Every file goes through :func:`rnnkit.files.atomic_write`: a failed write (a full disk, a
read-only folder) is one line naming the file, and the files this call wrote before it are
removed again, so an export is written whole or not at all.

Tracing and running back are in :mod:`.tracing` (which also says why the TorchScript-based
exporters are used).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from rnnkit.files import WriteError, atomic_write
from rnnkit.train.params import Param
from rnnkit.train.recipe import Command
from rnnkit.train.rundir import refuse_run_file

from . import ids
from .graphs import Graph
from .tracing import largest_difference, trace

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
#: what export may replace in a run directory: its graphs and its default JSON
REPLACEABLE = ("*.onnx", "*.pt", "model.json", "model.*.json")


def _opset_range() -> tuple[int, int]:
    """The ONNX opsets torch's TorchScript-based exporter writes (torch 2.13: 9 to 20)."""
    try:
        from torch.onnx import _constants

        return _constants.ONNX_BASE_OPSET, _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET
    except (ImportError, AttributeError):  # a torch that moved them: the range of torch 2.13
        return 9, 20


OPSETS = _opset_range()
DEFAULT_OPSET = 17


def outputs(graphs: Sequence[str]) -> tuple[str, ...]:
    """The files ``export`` writes in a run directory by default, for a recipe's graph names."""
    stems = ["model"] if len(graphs) == 1 else [f"model.{g}" for g in graphs]
    return tuple(s + suffix for s in stems for suffix in FORMATS.values()) + ("model.json",)


def graph_paths(out: Path, graphs: Sequence[Graph]) -> dict[str, Path]:
    """FILE for a single graph, else FILE's stem + ``.{graph}`` + its suffix per graph."""
    if len(graphs) == 1:
        return {graphs[0].name: out}
    return {g.name: out.with_name(f"{out.stem}.{g.name}{out.suffix}") for g in graphs}


def describe(graph: Graph, model: torch.nn.Module, file: Path, taken: Optional[set]) -> dict:
    """The graph's file and each input/output's dtype and shape (variable axes by name);
    ``taken``: the inputs the file takes (None: all)."""

    def shape(name: str, tensor: torch.Tensor) -> list:
        axes = graph.dynamic.get(name, {})
        return [axes.get(i, int(s)) for i, s in enumerate(tensor.shape)]

    with torch.no_grad():
        outs = graph.make(model).eval()(*graph.example.values())
    return {
        "file": file.name,
        "inputs": [
            {"name": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": shape(k, v)}
            for k, v in graph.example.items()
            if taken is None or k in taken
        ],
        "outputs": [
            {"name": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": shape(k, v)}
            for k, v in zip(graph.outputs, outs)
        ],
    }


def _check_opset(opset: int) -> None:
    low, high = OPSETS
    if not low <= opset <= high:
        raise ValueError(
            f"--opset: expected an integer from {low} to {high} (the opsets torch's exporter writes), got {opset}"
        )


def _write_all(files: dict[Path, bytes]) -> None:
    """Write every file atomically; after a failed write, remove those this call wrote."""
    written = []
    try:
        for path, data in files.items():
            atomic_write(path, data)
            written.append(path)
    except WriteError:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def export_model(
    model: torch.nn.Module,
    graphs: Sequence[Graph],
    fmt: str,
    out: Path,
    tolerance: float,
    opset: int = DEFAULT_OPSET,
    meta: dict | None = None,
    runtime: dict | None = None,
) -> list[tuple[str, Path, float]]:
    """Write every graph (checked) and the JSON beside them; [(graph, file, max difference)].

    ``runtime``: what the JSON adds for a runtime, at least ``ids`` (vocabulary name ->
    :func:`.ids.table`, each complete). ValueError, with nothing written, when a graph cannot
    be exported or differs from the eager model by more than ``tolerance``; a
    :class:`~rnnkit.files.WriteError` (nothing left behind) when a file cannot be written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected {' or '.join(FORMATS)}, got {fmt!r}")
    if fmt == "onnx":
        _check_opset(opset)
    if runtime is not None:  # every recipe's export gives one (export_command requires it)
        ids.check_complete(runtime.get("ids") or {})
    runtime = dict(runtime or {})
    paths = graph_paths(out, graphs)
    for target in (*paths.values(), out.with_suffix(".json")):  # never a run's own file
        refuse_run_file(target, "--out", replaceable=REPLACEABLE)
    files, described = {}, {}
    for graph in graphs:
        try:
            data = trace(graph, model, fmt, opset)
        except (RuntimeError, TypeError, torch.onnx.errors.OnnxExporterError) as err:
            raise ValueError(
                f"export: the {graph.name} graph could not be traced to {fmt} ({' '.join(str(err).split())[:200]})"
            ) from None
        diff, taken = largest_difference(graph, model, fmt, data)
        if not diff <= tolerance:
            raise ValueError(
                f"export: {graph.name}: the exported graph differs from the eager model by "
                f"{diff:.3g} > --tolerance {tolerance:g}; nothing was written"
            )
        files[paths[graph.name]] = data
        described[graph.name] = (describe(graph, model, paths[graph.name], taken), diff)
    sidecar = {
        "format": fmt,
        "opset": opset if fmt == "onnx" else None,
        "graphs": {name: entry for name, (entry, _) in described.items()},
        **runtime,
        "meta": meta or {},
    }
    files[out.with_suffix(".json")] = (
        json.dumps(sidecar, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    ).encode("utf-8")
    _write_all(files)
    return [(name, paths[name], diff) for name, (_, diff) in described.items()]


#: the largest |exported - eager| difference accepted
TOLERANCE = Param("tolerance", float, 1e-4, "largest allowed |exported - eager|", low=0.0, high=1.0)


def export_command(graphs: Callable, meta_keys: Sequence[str] = (), *, runtime: Callable) -> Command:
    """The ``export`` use command of a recipe; ``graphs(trained)`` lists its :class:`Graph` s,
    ``meta_keys`` the checkpoint metadata a runtime needs (vocabularies, tokenizers) and
    ``runtime(trained)`` what the JSON adds: ``{"ids": ...}`` (:mod:`.ids`) and any
    post-processing the recipe's own commands apply."""

    def run(trained, values) -> int:
        fmt = values.format
        out = Path(values.out) if values.out else Path(trained.run_dir or ".") / "model"
        if out.suffix == "":
            out = out.with_suffix(FORMATS[fmt])
        if not out.parent.is_dir():
            raise ValueError(f"--out {values.out}: folder {out.parent} does not exist")
        meta = {k: trained.meta[k] for k in meta_keys if k in trained.meta}
        extra = runtime(trained)
        model = trained.model.cpu().float().eval()
        for name, path, diff in export_model(
            model, graphs(trained), fmt, out, values.tolerance, values.opset, meta, extra
        ):
            print(
                f"{name}: {path} ({fmt}); max |exported - eager| = {diff:.3g} over 4 input shapes "
                f"(tolerance {values.tolerance:g})"
            )
        print(f"inputs, outputs, id mappings and vocabularies: {out.with_suffix('.json')}")
        return 0

    return Command(
        "export",
        "write the model as ONNX or TorchScript, run it back and compare with the eager model",
        (
            Param("format", str, "onnx", "onnx (onnxruntime) or torchscript", choices=tuple(FORMATS)),
            Param(
                "out", str, None, "file to write (default RUN_DIR/model.onnx or .pt; the suffix is added when missing)"
            ),
            TOLERANCE,
            Param(
                "opset",
                int,
                DEFAULT_OPSET,
                "ONNX opset, as torch's exporter writes them (some graphs need more than 9, e.g. postag 11)",
                low=OPSETS[0],
                high=OPSETS[1],
            ),
        ),
        run,
    )
