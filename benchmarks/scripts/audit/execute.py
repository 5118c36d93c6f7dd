"""Running one command-line :class:`~.core.Case` and classifying what happened."""

from __future__ import annotations

import re
import shutil
import time
import traceback
from pathlib import Path

from . import launch
from .core import Case, Env, Outcome, Result, classify_process, error_line, first_line, sha256

RUN_FILES = ("best.safetensors", "last.safetensors", "config.json")


def folder_name(case_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", case_id)[:120]


def record(case: Case, outcome: str, detail: str = "", result: Result | None = None, seconds: float = 0.0) -> dict:
    return {
        "id": case.id,
        "kind": case.kind,
        "argv": ["rnnkit", *case.argv] if case.http is None else None,
        "request": _request(case) if case.http is not None else None,
        "outcome": outcome,
        "exit": None if result is None else result.exit,
        "seconds": round(seconds if result is None else max(seconds, result.seconds), 2),
        "stderr_first": "" if result is None else first_line(result.err),
        "error": "" if result is None else error_line(result.err),
        "detail": detail[:400],
        "note": case.note,
    }


def _request(case: Case) -> str:
    http = case.http
    if http.script is not None:
        return f"{http.recipe}: {case.note or http.script.__name__}"
    if http.raw is not None:
        return f"{http.recipe}: raw {http.raw[:120]!r}"
    body = http.body if isinstance(http.body, (bytes, type(None))) else repr(http.body)
    return f"{http.recipe}: {http.method} {http.path} {str(body)[:160]}"


def prepare(case: Case, ctx) -> tuple[Env, Path]:
    tmp = ctx.work / "cases" / folder_name(case.id)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return Env(ctx, tmp), tmp


def run_case(case: Case, ctx, mode: str = "fork", mem_gb: float = 4.0, keep: bool = False) -> dict:
    """Run ``case`` (a command-line one) in its own folder under ``ctx.work/cases``; its record."""
    began = time.monotonic()
    try:
        env, tmp = prepare(case, ctx)
        if case.setup is not None:
            case.setup(env)
        argvs = [[env.expand(a) for a in case.argv]] + [[env.expand(a) for a in argv] for argv in case.also]
        stdin = None
        if isinstance(case.stdin, (bytes, bytearray)):
            stdin = tmp / "stdin.bin"
            stdin.write_bytes(case.stdin)
        elif isinstance(case.stdin, str):
            stdin = Path(env.expand(case.stdin[len("file:") :]))
        plant = tuple(tuple(env.expand(x) for x in p) for p in case.plant)
        watched = [Path(env.expand(s)) for s in case.sentinels]
        if case.keep_runs:
            watched += [run / name for run in env.runs.values() for name in RUN_FILES if (run / name).exists()]
        before = {path: sha256(path) for path in watched}
        missing = [str(p) for p, digest in before.items() if digest is None]
        if missing:
            raise RuntimeError(f"sentinel missing after setup: {missing[0]}")
    except Exception as err:  # noqa: BLE001 - a broken case, reported as such
        return record(
            case,
            "SETUP",
            f"{type(err).__name__}: {err} | {traceback.format_exc(limit=3)[-300:]}",
            seconds=time.monotonic() - began,
        )
    limit = int((case.mem_gb or mem_gb) * (1 << 30))
    procs = []
    for index, argv in enumerate(argvs):
        if index:
            time.sleep(case.also_delay)
        spec = launch.Spec(
            argv,
            tmp,
            tmp / f"out{index}.txt",
            tmp / f"err{index}.txt",
            stdin=stdin if index == 0 else None,
            mem_bytes=limit,
            fsize=case.fsize,
            plant=plant if index == 0 else (),
            env=case.env or None,
        )
        procs.append(launch.start(spec, mode))
    for proc in procs:
        while proc.poll() is None:
            if time.monotonic() - proc.started > case.timeout:
                proc.kill()
                break
            time.sleep(0.02)
    results = [proc.result() for proc in procs]
    outcome, detail = judge(case, results, before, env)
    rec = record(case, outcome, detail, results[0], time.monotonic() - began)
    if len(results) > 1:
        rec["others"] = [{"exit": r.exit, "error": error_line(r.err)} for r in results[1:]]
    if not keep or outcome in ("OK", "ERROR_OK"):
        shutil.rmtree(tmp, ignore_errors=True)
    return rec


def judge(case: Case, results: list, before: dict, env: Env) -> tuple[str, str]:
    """(outcome, detail) of a finished case; see :data:`.core.OUTCOMES` for the order."""
    changed = []
    for path, digest in before.items():
        now = sha256(path)
        if now != digest:
            changed.append(
                f"{path.relative_to(env.tmp) if path.is_relative_to(env.tmp) else path} "
                f"{'vanished' if now is None else 'changed'}"
            )
    if changed:
        return "LOST", "; ".join(changed)
    classes = [classify_process(r) for r in results]
    for bad in ("HANG", "TRACEBACK", "WRONG"):
        for index, (outcome, detail) in enumerate(classes):
            if outcome == bad:
                return bad, (f"process {index + 1}: " if len(results) > 1 else "") + detail
    main = results[0]
    if case.expect == "ok" and main.exit != 0:
        return "WRONG", f"expected success, got exit {main.exit}: {error_line(main.err)}"
    if case.expect == "error" and main.exit == 0:
        return "WRONG", f"accepted (exit 0) where a refusal was expected; stdout: {first_line(main.out)[:150]!r}"
    if case.check is not None:
        try:
            problem = case.check(Outcome(main, results[1:], env))
        except Exception as err:  # noqa: BLE001 - the output was not what the check could read
            problem = f"check failed to read the output: {type(err).__name__}: {err}"
        if problem:
            return "WRONG", problem
    return ("OK" if main.exit == 0 else "ERROR_OK"), ""
