"""Sweep a long-range memory task over lengths and cells: one `rnnkit train` per point, side by side.

    python benchmarks/scripts/memory_sweep.py --task adding --lengths 50,100,200 --cells rnn_tanh,lstm,gru \
        --minutes 3 --jobs 2 --out benchmarks/results/adding/adding_sweep

Each point trains for the same wall-clock budget on one thread; the test figure of each run's
report (adding: MSE; copy: cross-entropy per step) is written to OUT.json and drawn against the
length, one curve per cell, beside the task's baseline (computed on the same test set), in OUT.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

METRIC = {
    "adding": ("mse", "baseline_mse", "test MSE"),
    "copy": ("loss", "baseline_loss", "test cross-entropy (nats/step)"),
}


def train(task: str, length: int, cell: str, minutes: float, root: Path) -> dict:
    run = root / f"{task}_{cell}_T{length}"
    command = [
        sys.executable,
        "-m",
        "rnnkit",
        "train",
        task,
        "--length",
        str(length),
        "--cell",
        cell,
        "--max-minutes",
        str(minutes),
        "--threads",
        "1",
        "--quiet",
        "--run-dir",
        str(run),
        "--overwrite",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    report = json.loads((run / "report_test.json").read_text())
    return {"task": task, "length": length, "cell": cell, "seconds": round(time.perf_counter() - start, 1), **report}


def plot(rows: list[dict], task: str, path: Path, minutes: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, baseline, label = METRIC[task]
    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=110)
    for cell in dict.fromkeys(r["cell"] for r in rows):
        points = sorted((r["length"], r[key]) for r in rows if r["cell"] == cell)
        ax.plot(*zip(*points), marker="o", label=cell)
    base = sorted({(r["length"], r[baseline]) for r in rows})
    ax.plot(*zip(*base), linestyle="--", color="grey", label="baseline")
    ax.set_xlabel("T (sequence length / delay)")
    ax.set_ylabel(label)
    ax.set_yscale("log")
    ax.set_title(f"{task}: {minutes:g}-minute training budget per point, 1 thread each", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=tuple(METRIC), default="adding")
    parser.add_argument("--lengths", default="50,100,200")
    parser.add_argument("--cells", default="rnn_tanh,lstm,gru")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", default="runs/sweep", help="folder for the run directories")
    parser.add_argument("--out", default="benchmarks/results/adding/adding_sweep", help="OUT.json and OUT.png")
    args = parser.parse_args()
    points = [(int(t), c) for t in args.lengths.split(",") for c in args.cells.split(",")]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda p: train(args.task, p[0], p[1], args.minutes, Path(args.runs)), points))
    Path(args.out + ".json").write_text(json.dumps(rows, indent=1) + "\n")
    plot(rows, args.task, Path(args.out + ".png"), args.minutes)
    key, baseline, _ = METRIC[args.task]
    for r in rows:
        print(
            f"{r['cell']:<9} T={r['length']:<4} {key} {r[key]:.5f}  baseline {r[baseline]:.5f}  ({r['seconds']:.0f} s)"
        )


if __name__ == "__main__":
    main()
