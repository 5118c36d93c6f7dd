"""Copy a finished run's figures into benchmarks/results/<recipe>/ under one name, with the record of how it ran.

    python benchmarks/scripts/collect_run.py runs/names NAME --command "rnnkit train names" --commit abc1234 --wall-s 270 \
        --shared "one other 1-thread run" [--extra FILE ...]

writes ``NAME_report_test.json`` (when the run has one), ``NAME_metrics.jsonl``, ``NAME_config.json``,
each ``--extra`` file as ``NAME_<its name>``, and ``NAME_run.json``: the command (threads
included), the commit it ran at, wall time, what shared the cores, the machine
(benchmarks/scripts/machine.py; its ``commit`` is HEAD at collection) and the files written. The folder is
the run's recipe (``config.json``), or ``--to DIR``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
KEPT = {"report_test.json": "report_test.json", "metrics.jsonl": "metrics.jsonl", "config.json": "config.json"}


def recipe_of(run: Path) -> str:
    """The recipe named by the run's ``config.json`` (``recipe``, or ``task`` in older runs)."""
    config = json.loads((run / "config.json").read_text())
    return config.get("recipe") or config["task"]


def collect(
    run: Path, name: str, command: str, commit: str, wall_s: float, shared: str, extra: list[str], to: Path
) -> list[Path]:
    to.mkdir(parents=True, exist_ok=True)
    written = []
    for source, suffix in KEPT.items():
        if (run / source).is_file():
            written.append(Path(shutil.copy(run / source, to / f"{name}_{suffix}")))
    for item in extra:
        path = Path(item)
        written.append(Path(shutil.copy(path, to / f"{name}_{path.name}")))
    record = {
        "name": name,
        "command": command,
        "run_commit": commit,
        "wall_s": wall_s,
        "cores_shared_with": shared,
        "collected": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "files": [p.name for p in written],
    }
    out = to / f"{name}_run.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    return [*written, out]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("--command", required=True)
    parser.add_argument("--commit", required=True, help="the commit the run was started at (machine's is HEAD now)")
    parser.add_argument("--wall-s", type=float, required=True)
    parser.add_argument("--shared", default="nothing", help="what else ran on the cores meanwhile")
    parser.add_argument("--extra", nargs="*", default=[], help="more files of the run to keep")
    parser.add_argument("--to", type=Path, help="folder to write to (default: benchmarks/results/<the run's recipe>)")
    args = parser.parse_args()
    if not args.run.is_dir():
        parser.error(f"{args.run}: not a run directory")
    for item in args.extra:
        if not Path(item).is_file():
            parser.error(f"--extra {item}: no such file")
    if args.to is None:
        try:
            args.to = RESULTS / recipe_of(args.run)
        except (OSError, ValueError, KeyError) as error:
            parser.error(f"{args.run}/config.json names no recipe ({error}); give --to DIR")
    for path in collect(args.run, args.name, args.command, args.commit, args.wall_s, args.shared, args.extra, args.to):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
