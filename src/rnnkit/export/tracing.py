"""Tracing a :class:`~rnnkit.export.graphs.Graph` to ONNX or TorchScript in memory and running it back.

:func:`trace` exports a copy of the model made with :func:`~rnnkit.export.layers.for_export`
to the bytes of a file; :func:`largest_difference` loads those bytes in the runtime a
deployment would use (onnxruntime, ``torch.jit.load``), runs them on the graph's example and
every probe, and compares each output with the eager rnnkit model's. Writing the files is
:mod:`rnnkit.export.write`'s.

torch 2.13 marks ``torch.jit`` and its TorchScript-based ONNX exporter deprecated (their
warnings are silenced here). They are used because the torch.export-based exporter needs
``onnxscript`` and has no place for the padded-RNN node of :mod:`.layers`; porting to it is
work for when the old path goes. Serialising to memory limits an ONNX graph to protobuf's
2 GB, far above rnnkit's models.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from typing import Callable, Optional

import numpy as np
import torch

from .graphs import Graph
from .layers import for_export


@contextlib.contextmanager
def _native_stdout_silenced():
    """File descriptor 1 to the null device: on some errors torch's exporter prints the whole
    graph from C++ before raising (the error itself still reaches the user as one line)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no descriptor 1 (or stdout closed): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def trace(graph: Graph, model: torch.nn.Module, fmt: str, opset: int) -> bytes:
    """The graph's file, serialised in memory."""
    module = graph.make(for_export(model)).eval()
    inputs, buffer = tuple(graph.example.values()), io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad(), _native_stdout_silenced():
        warnings.simplefilter("ignore")  # the tracers' notes on Python values they freeze
        if fmt == "torchscript":
            torch.jit.save(torch.jit.trace(module, inputs, check_trace=False), buffer)
        else:
            names = list(graph.example) + graph.outputs
            torch.onnx.export(
                module,
                inputs,
                buffer,
                dynamo=False,
                opset_version=opset,
                input_names=list(graph.example),
                output_names=graph.outputs,
                dynamic_axes={k: v for k, v in graph.dynamic.items() if k in names},
            )
    return buffer.getvalue()


def _runner(fmt: str, data: bytes, what: str) -> tuple[Callable, Optional[set]]:
    """(inputs -> output arrays, the input names the file takes: ONNX drops unused ones)."""
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module doc
            loaded = torch.jit.load(io.BytesIO(data))

        def run(inputs):
            with torch.no_grad():
                return [t.numpy() for t in loaded(*inputs.values())]

        return run, None
    try:
        import onnxruntime
    except ImportError:
        raise ValueError("export --format onnx: onnxruntime is not installed; pip install 'rnnkit[export]'") from None
    try:
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime's own exception types
        raise ValueError(
            f"export: onnxruntime cannot load the exported {what} graph ({' '.join(str(err).split())[:200]})"
        ) from None
    taken = {i.name for i in session.get_inputs()}
    return (lambda inputs: session.run(None, {k: v.numpy() for k, v in inputs.items() if k in taken})), taken


def largest_difference(graph: Graph, model: torch.nn.Module, fmt: str, data: bytes) -> tuple[float, Optional[set]]:
    """(max |exported - eager| over every output of the example and the probes, the input
    names the file takes or None for all); ``data``: the exported file's bytes."""
    (run, taken), eager = _runner(fmt, data, graph.name), graph.make(model).eval()
    worst = 0.0
    for inputs in [graph.example] + graph.probes:
        with torch.no_grad():
            expected = [t.numpy() for t in eager(*inputs.values())]
        got = run(inputs)
        if len(got) != len(expected):
            raise ValueError(f"export: the {graph.name} graph gives {len(got)} outputs, the model {len(expected)}")
        for name, a, b in zip(graph.outputs, got, expected):
            if a.shape != b.shape:
                raise ValueError(
                    f"export: {graph.name}: output {name} has shape {a.shape}, the model's "
                    f"{b.shape} (a size was frozen when tracing)"
                )
            worst = max(worst, float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max(initial=0.0)))
    return worst, taken
