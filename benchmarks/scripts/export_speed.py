"""LM step speed: eager PyTorch (rnnkit) vs the exported ONNX (onnxruntime) and TorchScript files.

The model is the charlm ``cpu-quick`` shape (embedding 64, 2 x 384 LSTM, 65 symbols) or a run
given with ``--run``. Two workloads: one generation step (batch 1, one token, the state
carried) and a scoring window (batch 32, 100 tokens). The three runtimes are timed
interleaved, round after round, after a warm-up; medians and ratios to eager are printed and
written as JSON.

    python benchmarks/scripts/export_speed.py --threads 2 --out benchmarks/results/export/export_speed.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rnnkit.export import graphs
from rnnkit.export.write import export_model
from rnnkit.families.lm import LMConfig, RNNLanguageModel

WORKLOADS = {"generate (N=1, L=1)": (1, 1), "score (N=32, L=100)": (32, 100)}


def load_model(run: str | None) -> tuple[torch.nn.Module, int, str]:
    if run:
        import rnnkit

        lm = rnnkit.load(run)
        return lm.model.float().eval(), len(lm.vocab), run
    torch.manual_seed(0)
    config = LMConfig(cell="lstm", embedding_dim=64, hidden_size=384, num_layers=2, dropout=0.1)
    return RNNLanguageModel(65, config).eval(), 65, "charlm cpu-quick shape, random weights"


def feeds(model, vocab: int, n: int, length: int) -> dict[str, torch.Tensor]:
    tokens = torch.randint(0, vocab, (n, length), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, state = model(tokens[:, :1], None)
    return {"tokens": tokens, "state_0": torch.zeros_like(state[0]), "state_1": torch.zeros_like(state[1])}


def runners(model, folder: Path, vocab: int, threads: int) -> dict:
    import onnxruntime

    found = graphs.lm_step(model, vocab)
    export_model(model, found, "onnx", folder / "lm.onnx", 1e-4)
    export_model(model, found, "torchscript", folder / "lm.pt", 1e-4)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(str(folder / "lm.onnx"), options, providers=["CPUExecutionProvider"])
    scripted = torch.jit.load(str(folder / "lm.pt"))

    def eager(f):
        with torch.no_grad():
            return model(f["tokens"], (f["state_0"], f["state_1"]))

    def jit(f):
        with torch.no_grad():
            return scripted(*f.values())

    def ort(f):
        return session.run(None, {k: v.numpy() for k, v in f.items()})

    return {"eager": eager, "onnxruntime": ort, "torchscript": jit}


def time_once(fn, feed, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn(feed)
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="a charlm/wordlm run (default: the cpu-quick shape)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", default=None, help="JSON file for the figures")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, vocab, what = load_model(args.run)
    results = {"model": what, "threads": args.threads, "rounds": args.rounds, "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as folder:
        sides = runners(model, Path(folder), vocab, args.threads)
        for label, (n, length) in WORKLOADS.items():
            feed = feeds(model, vocab, n, length)
            calls = 200 if length == 1 else 5
            for fn in sides.values():
                time_once(fn, feed, calls)  # warm-up
            times = {name: [] for name in sides}
            for _ in range(args.rounds):
                for name, fn in sides.items():
                    times[name].append(time_once(fn, feed, calls))
            medians = {name: statistics.median(t) for name, t in times.items()}
            results[label] = {
                name: {"median_ms": 1e3 * m, "vs_eager": medians["eager"] / m} for name, m in medians.items()
            }
            print(
                f"{label}: "
                + ", ".join(
                    f"{name} {1e3 * m:.3f} ms ({medians['eager'] / m:.2f}x eager)" for name, m in medians.items()
                )
            )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
