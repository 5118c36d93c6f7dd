"""Do two checkouts of rnnkit give the same runs? Records every recipe's smoke run, then compares.

    python benchmarks/scripts/same_outputs.py record --src SRC --fixtures DIR --out before.json.gz
    python benchmarks/scripts/same_outputs.py compare before.json.gz after.json.gz

``record`` runs, with ``SRC`` first on ``PYTHONPATH``, each registered recipe's smoke run
(``rnnkit train`` without ``--quiet``), then every use command, ``eval`` and ``eval --json`` on it,
in fixed folders under ``--work`` so paths in printed output agree. It keeps the printed
output (clock readings blanked), the exit codes, a SHA-256 of every tensor of every
safetensors file, and every JSON/JSONL/text file in the run directory (timing fields dropped).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TIMING = {
    "seconds",
    "cpu_seconds",
    "tokens_per_s",
    "elapsed",
    "wall_s",
    "started",
    "finished",
    "time",
    "date",
    "created",
    "samples_per_s",
    "steps_per_s",
}
CLOCK = re.compile(
    r"[\d,]+(\.\d+)?\s*(ms|s|sec|min|tok/s|it/s|samples/s|steps/s|words/s|chars/s|/s)\b|"
    r"\d+(\.\d+)? CPU s|\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?\S*"
)


def untimed(value):
    """``value`` with clock readings removed."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    if isinstance(value, str):
        return CLOCK.sub("<clock>", value)
    return value


def registry(src: Path) -> dict:
    """recipe name -> its smoke spec, from the checkout in ``src``."""
    code = (
        "import json\n"
        "try:\n from rnnkit.recipes import REGISTRY, recipe\n"
        "except ImportError:\n from rnnkit.recipes import REGISTRY, recipe\n"
        "out = {}\n"
        "for n in REGISTRY:\n r = recipe(n)\n"
        " out[n] = {'train': list(r.smoke.train), 'uses': {k: list(v) for k, v in r.smoke.uses.items()},"
        " 'commands': [c.name for c in r.commands]}\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env_for(src), capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def env_for(src: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0", OMP_NUM_THREADS="2")
    env.pop("RNNKIT_DATA", None)
    return env


def rnnkit(src: Path, args: list[str]) -> dict:
    """Run ``python -m rnnkit ARGS``; its exit code and printed output, clock readings blanked."""
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", *args], env=env_for(src), capture_output=True, text=True, timeout=900
    )
    return {"args": args, "rc": done.returncode, "out": untimed(done.stdout), "err": untimed(done.stderr)}


def tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return {
        k: hashlib.sha256(v.contiguous().view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes()).hexdigest()
        + f" {v.dtype} {tuple(v.shape)}"
        for k, v in sorted(load_file(str(path)).items())
    }


def files(run: Path) -> dict:
    """Every file rnnkit wrote in ``run``, in comparable form."""
    found = {}
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        key = str(path.relative_to(run))
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
            found[key] = {
                "tensors": tensors(path),
                "meta": {k: untimed(json.loads(v)) if v[:1] in "{[" else v for k, v in meta.items()},
            }
        elif path.suffix == ".json":
            found[key] = untimed(json.loads(path.read_text()))
        elif path.suffix == ".jsonl":
            found[key] = [untimed(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
        elif path.suffix in (".txt", ".tsv", ".md", ".csv", ".conllu"):
            found[key] = untimed(path.read_text())
        elif path.suffix in (".png", ".html", ".onnx", ".pt"):
            found[key] = "present"
        else:
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def record(src: Path, fixtures: Path, work: Path, replay: dict | None = None) -> dict:
    """Each recipe's smoke run and its commands; with ``replay`` (an earlier record), the very
    command lines of that record instead of this checkout's smoke settings."""
    result = {}
    if replay is not None:
        for name, earlier in replay.items():
            shutil.rmtree(work / name, ignore_errors=True)
            (work / name).mkdir(parents=True)
            steps = [rnnkit(src, step["args"]) for step in earlier["steps"]]
            result[name] = {"steps": steps, "files": files(work / name / "run")}
            print(name, [s["rc"] for s in steps], flush=True)
        return result
    for name, smoke in registry(src).items():
        run = work / name / "run"
        shutil.rmtree(work / name, ignore_errors=True)
        run.parent.mkdir(parents=True)
        fill = lambda args: [a.replace("{fixtures}", str(fixtures)) for a in args]  # noqa: E731
        steps = [rnnkit(src, ["train", name, *fill(smoke["train"]), "--run-dir", str(run)])]
        for command in smoke["commands"] + ["eval"]:
            steps.append(rnnkit(src, [command, str(run), *fill(smoke["uses"][command])]))
        steps.append(rnnkit(src, ["eval", str(run), *fill(smoke["uses"]["eval"]), "--json"]))
        result[name] = {"steps": steps, "files": files(run)}
        print(name, [s["rc"] for s in steps], flush=True)
    return result


def compare(a: dict, b: dict, where: str = "") -> list[str]:
    """Every place where ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}/{k}: only in one" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += compare(a[k], b[k], f"{where}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in compare(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {str(a)[:300]!r} != {str(b)[:300]!r}"]


def read_record(path: Path) -> dict:
    """A record written by ``record`` (``.json`` or ``.json.gz``)."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return json.loads(data)


def write_record(path: Path, found: dict) -> None:
    text = json.dumps(found, indent=1).encode()
    path.write_bytes(gzip.compress(text, mtime=0) if path.suffix == ".gz" else text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--src", type=Path, required=True)
    rec.add_argument("--fixtures", type=Path, required=True)
    rec.add_argument("--work", type=Path, default=Path("/tmp/rnnkit-same"))
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--replay", type=Path, help="run the command lines of this earlier record")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        replay = read_record(args.replay) if args.replay else None
        found = record(args.src.resolve(), args.fixtures.resolve(), args.work, replay)
        write_record(args.out, found)
        return 0
    before, after = untimed(read_record(args.before)), untimed(read_record(args.after))
    diffs = compare(before, after)
    for name in before:
        mine = [d for d in diffs if d.startswith(f"/{name}/")]
        steps = len(before[name]["steps"])
        tensors_n = sum(
            len(v["tensors"]) for v in before[name]["files"].values() if isinstance(v, dict) and "tensors" in v
        )
        print(
            f"{name:12s} {steps} commands, {len(before[name]['files'])} files, {tensors_n} tensors: "
            f"{'identical' if not mine else f'{len(mine)} differences'}"
        )
    for d in diffs[:50]:
        print("  ", d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
