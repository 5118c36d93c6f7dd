"""The README's main command under load (issue 31, point 5): two other busy processes share the
machine while ``rnnkit train charlm`` runs with --threads 2, --threads 1 and the default (threads
chosen from the free CPUs), each for the same short time budget; then the unchanged main
command runs long enough to show whether it says early that its budget will cut the schedule.

    RNNKIT_DATA=../shared/data python benchmarks/scripts/under_load.py --out DIR

Prints the training rate of each (tokens/s from metrics.jsonl, the last train line) and the
ratio of the default to the best, and writes DIR/under_load.json. Run it on otherwise quiet cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BUSY = "while True: pass"


def busy(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(count)]


def run(args: list[str], run_dir: Path, seconds: float | None = None) -> dict:
    """``rnnkit train charlm ARGS``; stopped with Ctrl-C after ``seconds`` when given."""
    cmd = [sys.executable, "-m", "rnnkit", "train", "charlm", *args, "--run-dir", str(run_dir)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(2)  # SIGINT: the run saves and stops
        out, err = proc.communicate()
    wall = time.perf_counter() - start
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [x for x in lines if x["split"] == "train"]
    events = [x["event"] for x in lines if x["split"] == "event"]
    notes = [x for x in err.splitlines() if "note:" in x]
    return {
        "args": args,
        "wall_s": round(wall, 1),
        "steps": train[-1]["step"] if train else 0,
        "tokens_per_s": train[-1]["tokens_per_s"] if train else 0.0,
        "events": events,
        "notes": notes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the runs and under_load.json")
    parser.add_argument("--minutes", type=float, default=1.5, help="time budget of each rate run")
    parser.add_argument("--watch", type=float, default=90.0, help="seconds of the unchanged main command")
    parser.add_argument("--others", type=int, default=2, help="busy processes beside the run")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    procs = busy(args.others)
    time.sleep(2.0)
    results = {"others": args.others, "cpus": len(os.sched_getaffinity(0)), "load": {}}
    try:
        for name, extra in (("threads 2", ["--threads", "2"]), ("threads 1", ["--threads", "1"]), ("default", [])):
            budget = ["--max-minutes", str(args.minutes), "--eval-every", "100000", "--final-report", "none"]
            results["load"][name] = run(budget + extra, out / name.replace(" ", "_"))
            print(name, results["load"][name], flush=True)
        results["main_command"] = run([], out / "main_command", seconds=args.watch)
        print("main command", results["main_command"], flush=True)
    finally:
        for p in procs:
            p.kill()
    rates = {k: v["tokens_per_s"] for k, v in results["load"].items()}
    best = max(rates["threads 1"], rates["threads 2"])
    results["default_over_best"] = round(rates["default"] / best, 3)
    print(
        f"default {rates['default']:,.0f} tok/s; best fixed setting {best:,.0f}; ratio {results['default_over_best']}"
    )
    (out / "under_load.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
