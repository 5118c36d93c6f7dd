"""Training speed of charlm on 1 process against 2 data-parallel processes (torchrun, gloo).

Each side trains the charlm ``cpu-quick`` preset (global batch 32 x 100 characters, the
same steps on both sides) for ``--warmup`` + ``--steps`` steps in a fresh run directory:

* 1 process with ``--threads-single`` threads (default 2): ``python -m rnnkit train``;
* 2 processes with ``--threads-each`` thread each (default 1): ``python -m
  torch.distributed.run --nproc_per_node 2 -m rnnkit train``; each rank trains 16 of
  the 32 streams and DDP all-reduces the gradients.

The rate is read from the run's ``metrics.jsonl`` (a train row per step): training
tokens of the ``--steps`` steps after the warm-up over the trainer's elapsed time between
them (rank 0's clock), so start-up, data loading and the final evaluation are left out.
The sides are interleaved ``--repeats`` times; medians and the 2-process / 1-process
ratio are printed as a markdown table and written to ``--out`` (JSON).

    python benchmarks/scripts/distributed_scaling.py                       # the timed run (60 steps)
    python benchmarks/scripts/distributed_scaling.py --steps 3 --warmup 1 --text tests/fixtures/tiny.txt \\
        --extra "--hidden-size 16 --embedding-dim 8 --batch-size 4 --seq-length 10" --out /tmp/s.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from rnnkit.train.rundir import read_metrics, select


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_command(processes: int, run: Path, args) -> list[str]:
    steps = args.warmup + args.steps
    flags = [
        "train",
        "charlm",
        "--preset",
        args.preset,
        "--max-steps",
        str(steps),
        "--log-every",
        "1",
        "--eval-every",
        str(10 * steps),
        "--quiet",
        "--run-dir",
        str(run),
        "--threads",
        str(args.threads_single if processes == 1 else args.threads_each),
    ]
    if args.text:
        flags += ["--text", args.text]
    flags += shlex.split(args.extra)
    if processes == 1:
        return [sys.executable, "-m", "rnnkit", *flags]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(processes),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "rnnkit",
        *flags,
    ]


def measure(processes: int, args, root: Path, index: int) -> dict:
    """One run; tokens/s over the steps after the warm-up."""
    run = root / f"p{processes}-{index}"
    threads = args.threads_single if processes == 1 else args.threads_each
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    done = subprocess.run(train_command(processes, run, args), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{processes}-process run failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    config = json.loads((run / "config.json").read_text())
    tokens_per_step = config["data"]["batch_size"] * config["data"]["seq_length"]
    rows = {r["step"]: r for r in select(read_metrics(run), "train")}
    first, last = rows[args.warmup], rows[args.warmup + args.steps]
    seconds = last["elapsed"] - first["elapsed"]
    return {
        "processes": processes,
        "threads_per_process": threads,
        "steps": args.steps,
        "tokens_per_step": tokens_per_step,
        "seconds": round(seconds, 4),
        "tokens_per_s": round(args.steps * tokens_per_step / seconds, 1),
        "ms_per_step": round(1000 * seconds / args.steps, 2),
        "final_loss": last["loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=10, help="steps before the clock starts")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per side")
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--text", default="", help="training text (default: the preset's)")
    parser.add_argument("--extra", default="", help="more `rnnkit train charlm` flags, one string")
    parser.add_argument("--threads-single", type=int, default=2)
    parser.add_argument("--threads-each", type=int, default=1)
    parser.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parents[1] / "results" / "distributed" / "distributed_scaling.json"),
    )
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be >= 1")
    runs = []
    with tempfile.TemporaryDirectory(prefix="rnnkit-scaling-") as root:
        for index in range(args.repeats):
            for processes in (1, 2):  # interleaved: drift in the machine's load hits both sides
                runs.append(measure(processes, args, Path(root), index))
                print(
                    f"run {index + 1}/{args.repeats}, {processes} process(es): "
                    f"{runs[-1]['tokens_per_s']:,.0f} tokens/s",
                    file=sys.stderr,
                )
    median = {p: statistics.median(r["tokens_per_s"] for r in runs if r["processes"] == p) for p in (1, 2)}
    result = {
        "benchmark": "charlm data-parallel scaling",
        "preset": args.preset,
        "extra": args.extra,
        "text": args.text or "preset default",
        "warmup_steps": args.warmup,
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
        "runs": runs,
        "median_tokens_per_s": {str(p): v for p, v in median.items()},
        "ratio_2_over_1": round(median[2] / median[1], 3),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print("| processes x threads | median tokens/s | ms/step |\n|---|---|---|")
    for p in (1, 2):
        ms = statistics.median(r["ms_per_step"] for r in runs if r["processes"] == p)
        threads = args.threads_single if p == 1 else args.threads_each
        print(f"| {p} x {threads} | {median[p]:,.0f} | {ms:.1f} |")
    print(f"\n2 processes / 1 process: {result['ratio_2_over_1']:.2f}x; written to {args.out}")


if __name__ == "__main__":
    main()
