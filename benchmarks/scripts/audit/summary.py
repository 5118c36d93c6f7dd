"""Summarise an audit's results: totals, and the failing cases grouped by their likely cause.

    python benchmarks/scripts/audit/summary.py [benchmarks/results/audit/audit.json] [--ids]

Failures are grouped by outcome and by their message with the numbers, paths and
quoted values taken out, so one bug met by many inputs reads as one line with its count.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "results" / "audit" / "audit.json"


def cause(rec: dict) -> str:
    """The failure's message without what varies from input to input."""
    text = rec.get("detail") or rec.get("error") or ""
    text = re.sub(r"(?<![\w-])/[\w./@+-]*", "PATH", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\b\d+(\.\d+)?(e[-+]?\d+)?\b", "N", text)
    text = re.sub(r"process N: ", "", text)
    return text[:160]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="audit-summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", default=str(DEFAULT))
    parser.add_argument("--ids", action="store_true", help="list every failing id under its group")
    args = parser.parse_args(argv)
    data = json.loads(Path(args.results).read_text())
    totals = data["totals"]
    machine = data.get("machine", {})
    print(
        f"audit of {machine.get('commit', '?')[:10]}{' (dirty)' if machine.get('dirty') else ''} on "
        f"{machine.get('cpu', '?')}, {machine.get('date', '?')}, mode {data.get('mode')}: "
        f"{totals['cases']} cases in {data.get('seconds', 0):.0f} s"
    )
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in totals["outcomes"].items() if v))
    for kind, counts in totals["by_kind"].items():
        print(f"  {kind:14} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    not_run = data.get("not_run", {})
    if not_run.get("cases"):
        print(f"not run (budget): {not_run['cases']} {not_run['by_kind']}")
    groups: dict = defaultdict(list)
    for rec in data["cases"]:
        if rec["outcome"] not in ("OK", "ERROR_OK"):
            groups[(rec["outcome"], cause(rec))].append(rec)
    for (outcome, text), recs in sorted(groups.items(), key=lambda item: (item[0][0], -len(item[1]))):
        first = recs[0]
        print(f"\n{outcome} x{len(recs)}: {text}")
        print(f"    e.g. {first['id']}: {(first.get('detail') or first.get('error') or '')[:200]}")
        if args.ids:
            for rec in recs:
                print(f"    - {rec['id']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
