"""One training step of the sequential-MNIST classifier read pixel by pixel, side by side (issue 31).

The shape of ``rnnkit train seqmnist --preset pixels``: LSTM 1 -> 128 over 784 steps, a linear
layer on the final state, cross-entropy, batch 128; forward + backward (no optimiser step).
Each contender runs in a fresh process per round (the setting reaches torch's worker threads only
when it is made before the first parallel op, as ``rnnkit train`` does) and reports the median of
``--steps`` timed steps after ``--warmup`` steps (3 and 3; until code e0232d4, one after one); the
contenders take turns (the order rotates each round); median over the rounds:

* ``torch fp32``: torch.nn.LSTM as a plain PyTorch loop runs it (IEEE denormals);
* ``torch fp32 ftz``: the same with denormals flushed to zero (what rnnkit's engine does);
* ``rnnkit fp32``: rnnkit's default layer, denormals flushed (``rnnkit train``'s default);
* ``rnnkit bf16``: the same under bf16 autocast (``--precision bf16``);
* ``torch bf16 ftz``: torch.nn.LSTM under the same autocast;
* ``... thp``: the same contender with torch's huge-page allocation (``THP_MEM_ALLOC_ENABLE=1``,
  what the ``rnnkit`` command sets; the others run with it off);
* ``... thp heap``: huge pages and glibc's heap kept (``rnnkit.entry.keep_heap``, what the
  ``rnnkit`` command also does): large blocks are not unmapped between steps.

    python benchmarks/scripts/pixel_step.py --json benchmarks/results/layers/pixel_step.json

The gradient of a loss on the final state shrinks through 784 steps into the denormal range,
where x86 arithmetic is many times slower; ``rnnkit bench layers`` times ``out.sum()`` instead,
whose gradient does not shrink, so it does not show this.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

from rnnkit.entry import keep_heap
from rnnkit.nn import LSTM
from rnnkit.nn.machine import cpu_flags, cpu_model

PLAIN = ("torch fp32", "torch fp32 ftz", "rnnkit fp32", "rnnkit bf16", "torch bf16 ftz")
CONTENDERS = (
    PLAIN
    + tuple(f"{name} thp" for name in PLAIN[1:])
    + tuple(f"{name} thp heap" for name in ("torch fp32 ftz", "rnnkit fp32", "rnnkit bf16", "torch bf16 ftz"))
)


def step_fn(name: str, batch: int):
    """The contender's step: a closure running forward + backward once (denormals set first)."""
    torch.set_flush_denormal(name != "torch fp32")  # before any op: the workers inherit it
    torch.manual_seed(0)
    rnn = LSTM(1, 128, batch_first=True) if name.startswith("rnnkit") else nn.LSTM(1, 128, batch_first=True)
    head = nn.Linear(128, 10)
    x = torch.randn(batch, 784, 1, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (batch,), generator=torch.Generator().manual_seed(2))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled="bf16" in name):
            _, (h, _) = rnn(x)
            logits = head(h[-1])
        nn.functional.cross_entropy(logits.float(), y).backward()

    return step


def one(name: str, batch: int, threads: int, warmup: int = 3, steps: int = 3) -> float:
    """Median seconds of ``steps`` timed steps of ``name`` after ``warmup`` steps (in this process;
    with the heap kept the first two or three steps are slow while glibc's heap grows)."""
    if name.endswith(" heap"):
        keep_heap()
    torch.set_num_threads(threads)
    step = step_fn(name, batch)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first in each process")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per process (their median)")
    parser.add_argument("--json", help="write the raw times and ratios here")
    parser.add_argument("--one", choices=CONTENDERS, help=argparse.SUPPRESS)  # a child process's contender
    args = parser.parse_args()
    if args.one:
        print(one(args.one, args.batch, args.threads, args.warmup, args.steps))
        return 0
    times = {name: [] for name in CONTENDERS}
    for rnd in range(args.rounds):
        order = CONTENDERS[rnd % len(CONTENDERS) :] + CONTENDERS[: rnd % len(CONTENDERS)]
        for name in order:
            argv = [sys.executable, __file__, "--one", name, "--batch", str(args.batch), "--threads", str(args.threads)]
            argv += ["--warmup", str(args.warmup), "--steps", str(args.steps)]
            env = dict(os.environ, THP_MEM_ALLOC_ENABLE="1" if " thp" in name else "0")
            out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
            times[name].append(float(out.strip().splitlines()[-1]))
    base = statistics.median(times["torch fp32"])
    print(f"pixel-MNIST training step, batch {args.batch}, {args.threads} threads, torch {torch.__version__}")
    print(
        f"CPU: {cpu_model() or platform.processor()}; bf16 flags: {sorted(cpu_flags() & {'avx512_bf16', 'amx_bf16'})}"
    )
    rows = {}
    for name in CONTENDERS:
        med = statistics.median(times[name])
        rows[name] = {"ms": [round(1000 * t, 2) for t in times[name]], "median_ms": round(1000 * med, 2)}
        rows[name]["speedup_vs_torch_fp32"] = round(base / med, 2)
        print(
            f"{name:<20} {1000 * med:9.1f} ms  {base / med:5.2f}x faster than torch fp32  {args.batch / med:7.0f} images/s"
        )
    if args.json:
        with open(args.json, "w") as out:
            about = {"threads": args.threads, "batch": args.batch, "torch": torch.__version__, "cpu": cpu_model()}
            about.update(warmup=args.warmup, steps=args.steps, rounds=args.rounds)
            json.dump(
                {**about, "bf16_flags": sorted(cpu_flags() & {"avx512_bf16", "amx_bf16"}), "rows": rows}, out, indent=1
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
