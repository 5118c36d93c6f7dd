"""The GPU path in one run (issue 31, point 6): every recipe's smoke run on the device in fp32 and
bf16, LSTM/GRU forward+backward against torch.nn (cuDNN) at the benchmark sizes, one table.

Run it on a machine with a CUDA GPU from the repository root, after
``pip install -e ".[test]"`` with a CUDA build of torch::

    bash benchmarks/gpu_check.sh                 # about 3-6 minutes on one GPU
    python benchmarks/scripts/gpu_check.py --device cpu --recipes adding --sizes c   # self-check

Each row is one check with its time and PASS/FAIL/SKIP; the exit code is 1 if any check failed.
fp16 with a gradient scaler is not built yet (``--precision`` has fp32, bf16 and auto), so it is
listed as SKIP, never as passed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnnkit.cli import main as rnnkit_main
from rnnkit.nn import GRU, LSTM
from rnnkit.recipes import REGISTRY, recipe
from rnnkit.train.precision import native_bf16

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
SIZES = {  # (batch, seq, input, hidden, layers), as rnnkit bench layers names them
    "a": (64, 100, 128, 512, 2),
    "b": (20, 35, 650, 650, 2),
    "c": (32, 28, 28, 128, 1),
    "p": (128, 784, 1, 128, 1),
}


def smoke(name: str, device: str, precision: str, folder: Path) -> tuple[str, str]:
    """One recipe's smoke run on ``device``: (status, detail)."""
    args = [a.replace("{fixtures}", str(FIXTURES)) for a in recipe(name).smoke.train]
    argv = ["train", name, *args, "--run-dir", str(folder / f"{name}-{precision}"), "--quiet"]
    argv += ["--device", device, "--precision", precision]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = rnnkit_main(argv)
        except SystemExit as stop:
            code = stop.code
        except Exception as exc:  # noqa: BLE001 - the table says what failed
            return "FAIL", f"{type(exc).__name__}: {exc}"[:90]
    last = (err.getvalue().strip().splitlines() or [""])[-1]
    return ("PASS", "") if code == 0 else ("FAIL", f"exit {code}: {last}"[:90])


def layer_ratio(cls, size: tuple, device: torch.device, precision: str, repeats: int) -> tuple[float, float]:
    """Median ms of forward+backward for torch.nn and rnnkit's default, same weights."""
    batch, seq, inp, hidden, layers = size
    ours = cls(inp, hidden, layers).to(device)
    theirs = getattr(torch.nn, cls.__name__)(inp, hidden, layers).to(device)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(seq, batch, inp, device=device, requires_grad=True)

    def run(model) -> float:
        torch.cuda.synchronize(device) if device.type == "cuda" else None
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out, _ = model(x)
        out.float().sum().backward()
        torch.cuda.synchronize(device) if device.type == "cuda" else None
        return 1000 * (time.perf_counter() - start)

    times = {"torch": [], "rnnkit": []}
    for rep in range(repeats + 2):
        for name, model in (("torch", theirs), ("rnnkit", ours))[:: 1 if rep % 2 else -1]:
            t = run(model)
            if rep >= 2:
                times[name].append(t)
    return statistics.median(times["torch"]), statistics.median(times["rnnkit"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (self-check)")
    parser.add_argument("--recipes", default=",".join(REGISTRY), help="comma-separated recipe names")
    parser.add_argument("--sizes", default="a,b,c,p", help="layer sizes of rnnkit bench layers")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA GPU; the GPU path stays unchecked", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    bf16 = bool(native_bf16()) if device.type == "cpu" else torch.cuda.is_bf16_supported()
    about = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_check: torch {torch.__version__}, {about}, bf16 {'yes' if bf16 else 'no'}")
    rows, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.recipes.split(","):
            for precision in ("fp32", "bf16") if bf16 else ("fp32",):
                t = time.perf_counter()
                status, detail = smoke(name, args.device, precision, Path(tmp))
                rows.append((f"smoke {name} {precision}", status, time.perf_counter() - t, detail))
    rows.append(("smoke fp16 + gradient scaler", "SKIP", 0.0, "not built yet"))
    for cls in (LSTM, GRU):
        for size in args.sizes.split(","):
            for precision in ("fp32", "bf16") if bf16 else ("fp32",):
                t = time.perf_counter()
                base, ours = layer_ratio(cls, SIZES[size], device, precision, args.repeats)
                detail = f"torch {base:.2f} ms, rnnkit {ours:.2f} ms, ratio {ours / base:.2f}"
                status = "PASS" if ours <= 1.05 * base else "FAIL"
                rows.append((f"{cls.__name__} ({size}) fwd+bwd {precision}", status, time.perf_counter() - t, detail))
    width = max(len(r[0]) for r in rows)
    for check, status, seconds, detail in rows:
        print(f"{check:<{width}}  {status:<4}  {seconds:7.1f} s  {detail}")
    failed = sum(r[1] == "FAIL" for r in rows)
    print(f"{len(rows)} checks, {failed} failed, {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
