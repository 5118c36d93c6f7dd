"""Run the audit of issue 28 and write its results (JSON).

    python benchmarks/scripts/audit/run.py [--out benchmarks/results/audit/audit.json] [--only KIND[,KIND]]
        [--ids PATTERN] [--jobs 1] [--work /tmp/rnnkit-audit] [--budget-min M] [--spawn] [--list]

Each case runs as its own process (forked from this one, which has imported
rnnkit once; ``--spawn``: a fresh ``rnnkit`` executable per case) with a time
limit, an address-space limit (``--mem-gb``) and stdin from /dev/null unless the
case gives some. The JSON holds every case's record, totals by kind and
outcome, the rnnkit commit (and whether the tree was dirty), CPU and date.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path[0] = str(
    Path(__file__).resolve().parents[1]
)  # benchmarks/scripts/, not this folder (its modules would shadow the standard library)

from audit import launch  # noqa: E402
from audit.core import KINDS, OUTCOMES, PASS  # noqa: E402
from audit.execute import run_case  # noqa: E402
from audit.fixtures import ROOT, Ctx  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "audit" / "audit.json"


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="results JSON (default %(default)s)")
    parser.add_argument("--only", default="", help=f"comma list of kinds: {', '.join(KINDS)}")
    parser.add_argument("--ids", default="", help="comma list of glob patterns of case ids")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="cases at once; only 1 is supported (cases fork from this process, and timings and "
        "concurrency cases need a quiet machine)",
    )
    parser.add_argument("--work", default="/tmp/rnnkit-audit", help="smoke runs, big files, case folders")
    parser.add_argument("--mem-gb", type=float, default=4.0, help="address-space limit per process (GiB)")
    parser.add_argument("--spawn", action="store_true", help="a fresh rnnkit executable per case (slower)")
    parser.add_argument(
        "--budget-min",
        type=float,
        default=0,
        help="start no case after this many minutes (0: no budget); the rest are listed as not run",
    )
    parser.add_argument("--keep", action="store_true", help="keep the folders of failed cases")
    parser.add_argument("--list", action="store_true", help="list the selected cases and exit")
    args = parser.parse_args(argv)
    unknown = [k for k in args.only.split(",") if k and k not in KINDS]
    if unknown:
        parser.error(f"--only: unknown kind {unknown[0]!r}; expected {', '.join(KINDS)}")
    if args.jobs != 1:
        parser.error(f"--jobs: only 1 is supported, got {args.jobs}")
    return args


def select(cases, only: str, ids: str):
    kinds = {k for k in only.split(",") if k}
    patterns = [p for p in ids.split(",") if p]
    return [
        c
        for c in cases
        if (not kinds or c.kind in kinds) and (not patterns or any(fnmatch.fnmatchcase(c.id, p) for p in patterns))
    ]


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def git(*args) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    import torch

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "src")),
        "dirty_files": git("status", "--porcelain", "--", "src").splitlines()[:50],
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def totals(records: list) -> dict:
    by_kind: dict = defaultdict(Counter)
    for rec in records:
        by_kind[rec["kind"]][rec["outcome"]] += 1
    overall = Counter(rec["outcome"] for rec in records)
    return {
        "cases": len(records),
        "outcomes": {o: overall.get(o, 0) for o in OUTCOMES},
        "passed": sum(overall.get(o, 0) for o in PASS),
        "by_kind": {
            k: {o: v.get(o, 0) for o in OUTCOMES if v.get(o, 0)} | {"cases": sum(v.values())}
            for k, v in sorted(by_kind.items())
        },
    }


def main(argv=None) -> int:
    args = parse(argv)
    importlib.import_module("rnnkit.cli")  # imported once here: forked cases start from it
    from audit.cases import catalogue
    from audit.serving import Server, heavy_request, run_http, server_key

    cases = select(catalogue(), args.only, args.ids)
    if args.list:
        for case in cases:
            print(f"{case.id}\t{case.kind}\t{case.note}")
        print(f"{len(cases)} cases", file=sys.stderr)
        return 0
    mode = "spawn" if args.spawn else "fork"

    def launcher(argv, cwd, timeout):
        spec = launch.Spec(
            list(argv),
            cwd,
            Path(cwd) / ".train-out.txt",
            Path(cwd) / ".train-err.txt",
            mem_bytes=int(args.mem_gb * (1 << 30)),
        )
        proc = launch.start(spec, mode)
        if proc.wait(timeout) is None:
            proc.kill()
        return proc.result()

    ctx = Ctx(Path(args.work), launcher)
    info = machine()
    began = time.monotonic()
    records = []
    order = {kind: i for i, kind in enumerate(KINDS)}
    cases.sort(key=lambda c: order[c.kind])  # stable: the catalogue's order within a kind
    budget = args.budget_min * 60 or float("inf")
    skipped: list = []
    print(
        f"audit: {len(cases)} cases ({sum(c.http is None for c in cases)} command line, "
        f"{sum(c.http is not None for c in cases)} HTTP), mode {mode}",
        flush=True,
    )
    done = 0
    for kind in KINDS:  # kind by kind in KINDS' order; HTTP cases server by server
        plain = [c for c in cases if c.kind == kind and c.http is None]
        groups: dict = defaultdict(list)
        for case in cases:
            if case.kind == kind and case.http is not None:
                groups[server_key(case)].append(case)
        for case in plain:
            if time.monotonic() - began > budget:
                skipped.append(case)
                continue
            done += 1
            records.append(run_case(case, ctx, mode, args.mem_gb, args.keep))
            _show(done, len(cases), records[-1])
        for key, group in groups.items():
            if time.monotonic() - began > budget:
                skipped.extend(group)
                continue
            server = Server(ctx, key[0], key[1], mode, args.mem_gb)
            for case in group:
                done += 1
                records.append(run_http(case, server))
                _show(done, len(cases), records[-1])
            records.append(_stop_record(server, key, heavy_request(key[0])))
            _show(done, len(cases), records[-1])
    result = {
        "audit": "issue 28: nothing lost, nothing hung, no traceback",
        "mode": mode,
        "mem_gb": args.mem_gb,
        "machine": info,
        "seconds": round(time.monotonic() - began, 1),
        "selection": {"only": args.only or "all", "ids": args.ids or "all"},
        "totals": totals(records),
        "not_run": {
            "cases": len(skipped),
            "by_kind": dict(Counter(c.kind for c in skipped)),
            "ids": [c.id for c in skipped],
        },
        "cases": records,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8", errors="backslashreplace")
    summary = result["totals"]
    print(
        f"audit: {summary['cases']} cases in {result['seconds']:.0f} s: "
        + ", ".join(f"{o} {n}" for o, n in summary["outcomes"].items() if n)
        + f"; written to {out}"
        + (f"; {len(skipped)} not run (budget): {dict(Counter(c.kind for c in skipped))}" if skipped else "")
    )
    return 0 if summary["passed"] == summary["cases"] else 1


def _stop_record(server, key, heavy) -> dict:
    """The last case of a server group: Ctrl-C (during a long call where one exists) stops it."""
    recipe, extra = key
    cid = f"serve/{recipe}/ctrl-c{'-during-call' if heavy else ''}{'-' + '-'.join(extra) if extra else ''}"
    rec = {
        "id": cid,
        "kind": "serve",
        "argv": None,
        "request": f"{recipe}: SIGINT to the server",
        "exit": None,
        "stderr_first": "",
        "error": "",
        "note": "Ctrl-C stops the server within 15 s",
    }
    if not server.alive():
        try:
            server.start()
        except RuntimeError as err:
            return rec | {"outcome": "TRACEBACK", "detail": str(err)[:400], "seconds": 0}
    code, seconds = server.stop(heavy=heavy)
    tail = server.new_stderr()
    rec |= {"exit": code, "seconds": round(seconds, 2)}
    if code is None:
        return rec | {"outcome": "HANG", "detail": "still running 15 s after SIGINT (killed)"}
    if "Traceback (most recent call last)" in tail:
        exc = [line for line in tail.splitlines() if line and not line.startswith((" ", "Traceback"))]
        return rec | {"outcome": "TRACEBACK", "detail": (exc or ["Traceback"])[-1][:300]}
    return rec | {
        "outcome": "OK" if code in (0, 130) else "TRACEBACK",
        "detail": "" if code in (0, 130) else f"exit {code}",
    }


def _show(index: int, total: int, rec: dict) -> None:
    mark = "" if rec["outcome"] in PASS else f"  <- {rec['detail'] or rec['error']}"[:200]
    print(f"[{index}/{total}] {rec['outcome']:9} {rec['seconds']:6.1f}s {rec['id']}{mark}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
