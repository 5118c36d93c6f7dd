"""Cases and outcomes of the audit.

A :class:`Case` is one crafted input: ``rnnkit ARGV`` (placeholders such as
``{run:charlm}`` filled in by :class:`Env`), optional stdin, a ``setup`` that
makes its files, ``sentinels`` (files whose bytes must not change), planted
symlink temporaries, processes started alongside (``also``), and a ``check``
of the output. An :class:`Http` case is a request to a ``rnnkit serve`` of
one recipe. Nothing here starts a process (see :mod:`.launch`).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

#: the kinds of case, each a family of inputs
KINDS = {
    "issue": "an input named in issue 28 (each bullet and example)",
    "rundir": "run directories: locks, planted symlinks, user files, foreign config.json, nesting",
    "serve": "rnnkit serve over HTTP: fields, protocol, hostile clients, concurrency",
    "checkpoint": "a checkpoint file truncated, empty, a directory, a FIFO, metadata mutated, swapped",
    "datafile": "crafted data files: CSV, CoNLL-U, idx, PNG, pairs, corpora, vectors",
    "use-text": "texts of a use command: placement of options, empty, binary, Latin-1, UTF-16, surrogates, huge",
    "use-option": "an option of a use command (sample, predict, translate...) set to an absurd value",
    "cli": "the command line itself: help, unknown commands, plot, analyze, export",
    "train-option": "a numeric train option of a recipe set to an absurd value",
    "engine-option": "a train option shared by every recipe (the engine's), absurd values",
}

OUTCOMES = ("OK", "ERROR_OK", "TRACEBACK", "HANG", "LOST", "WRONG", "SETUP")
#: the outcomes that pass
PASS = ("OK", "ERROR_OK")
#: what a case expects: success, a refusal, or either (then only the absence of failures counts)
EXPECT = ("ok", "error", "any")

PLACEHOLDER = re.compile(r"\{(run|ckpt|last):([a-z-]+)\}|\{(fx|tmp|data|cache)\}")


@dataclass
class Result:
    """What one process did."""

    argv: list
    exit: Optional[int]  # None: killed after its time limit
    out: str
    err: str
    seconds: float
    signal: Optional[int] = None


@dataclass
class Outcome:
    """What a check sees: the main process, the ones started with it, the case's Env."""

    main: Result
    others: list
    env: "Env"

    @property
    def out(self) -> str:
        return self.main.out

    @property
    def err(self) -> str:
        return self.main.err

    @property
    def exit(self) -> Optional[int]:
        return self.main.exit


@dataclass
class Case:
    """One crafted input to ``rnnkit``.

    Attributes:
        id: stable and unique (``kind/recipe/what``).
        kind: one of :data:`KINDS`.
        argv: arguments after ``rnnkit`` (placeholders: ``{run:R}`` a fresh copy of recipe R's
            smoke run, ``{ckpt:R}``/``{last:R}`` its best/last checkpoint, ``{fx}`` the test
            fixtures, ``{tmp}`` the case's folder, ``{data}`` the shared data, ``{cache}`` big
            crafted files made once).
        stdin: bytes fed on stdin, or ``"file:NAME"`` (a file under ``{tmp}`` or ``{cache}``
            path with placeholders); None: /dev/null.
        setup: ``setup(env)`` makes the case's files before it runs.
        sentinels: paths (placeholders allowed) whose bytes must be the same after the run.
        plant: ``(folder, name, target)``: a symlink ``folder/.name.tmp-PID`` -> ``target``
            made in the process before rnnkit starts (PID: its own).
        also: argvs started alongside the main one, ``also_delay`` seconds later each.
        expect: ``ok`` (exit 0), ``error`` (a refusal, exit 2) or ``any``.
        check: ``check(outcome)`` -> a message when the output is wrong, else None.
        timeout: seconds before the case counts as a hang.
        mem_gb: address-space limit (None: the run's default).
        keep_runs: the best/last checkpoints and config.json of every copied run are sentinels.
        note: what the case is about (an issue bullet, the family).
    """

    id: str
    kind: str
    argv: tuple = ()
    stdin: Any = None
    setup: Optional[Callable[["Env"], None]] = None
    sentinels: tuple = ()
    plant: tuple = ()
    also: tuple = ()
    also_delay: float = 1.0
    expect: str = "any"
    check: Optional[Callable[[Outcome], Optional[str]]] = None
    timeout: float = 60.0
    mem_gb: Optional[float] = None
    keep_runs: bool = True
    fsize: Optional[int] = None  # RLIMIT_FSIZE in bytes: writes past it fail (a full disk)
    env: dict = field(default_factory=dict)
    note: str = ""
    http: Optional["Http"] = None

    def placeholders(self) -> list[str]:
        """Every placeholder the case names (argv, stdin, sentinels, plants, also)."""
        texts = list(self.argv) + list(self.sentinels) + [x for p in self.plant for x in p]
        texts += [a for argv in self.also for a in argv]
        if isinstance(self.stdin, str):
            texts.append(self.stdin)
        return [m.group(0) for t in texts for m in PLACEHOLDER.finditer(str(t))]


@dataclass
class Http:
    """A request to ``rnnkit serve`` of ``recipe`` (started once per recipe and server options).

    ``method``/``path``/``body`` (bytes or a JSON-able value), or ``raw`` bytes sent on a
    socket as they are; ``script(base_url, server) -> (status, message)`` for cases that
    drive several connections. ``status``: the statuses that pass (4xx refusals count as
    ERROR_OK, 2xx as OK). After every case the server must still answer ``GET /health``.
    """

    recipe: str
    method: str = "POST"
    path: str = "/"
    body: Any = None
    headers: dict = field(default_factory=dict)
    raw: Optional[bytes] = None
    script: Optional[Callable] = None
    status: tuple = (200, 400, 404, 405, 413, 422)
    server_args: tuple = ()


class Env:
    """The folder of one case run and its placeholders."""

    def __init__(self, ctx, tmp: Path) -> None:
        self.ctx, self.tmp = ctx, tmp
        self.runs: dict[str, Path] = {}

    def run(self, recipe: str) -> Path:
        """A fresh copy of ``recipe``'s smoke run, inside the case folder."""
        if recipe not in self.runs:
            target = self.tmp / f"run-{recipe}"
            shutil.copytree(self.ctx.run(recipe), target, symlinks=True)
            self.runs[recipe] = target
        return self.runs[recipe]

    @property
    def fx(self) -> Path:
        return self.ctx.fixtures

    @property
    def cache(self) -> Path:
        return self.ctx.cache

    def expand(self, text: str) -> str:
        def one(match: re.Match) -> str:
            if match.group(1):
                run = self.run(match.group(2))
                return str(
                    run
                    if match.group(1) == "run"
                    else run / ("best.safetensors" if match.group(1) == "ckpt" else "last.safetensors")
                )
            name = match.group(3)
            return str({"fx": self.ctx.fixtures, "tmp": self.tmp, "data": self.ctx.data, "cache": self.ctx.cache}[name])

        return PLACEHOLDER.sub(one, str(text))


def sha256(path: Path) -> Optional[str]:
    """The file's digest (a folder: of its sorted listing and files; a symlink: of its target
    text); None when it does not exist."""
    if path.is_symlink():
        return "link:" + str(path.readlink())
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(path.rglob("*")):
            digest.update(str(child.relative_to(path)).encode())
            if child.is_file() and not child.is_symlink():
                digest.update(child.read_bytes())
        return "dir:" + digest.hexdigest()
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


#: an error line of the CLI: ``rnnkit <command>: error: ...`` or argparse's ``rnnkit ...: error: ...``
ERROR_LINE = re.compile(r"^rnnkit[\w ./-]*: error: \S")
#: stderr lines that may precede the error line
ALLOWED_BEFORE = re.compile(r"^(usage: |\s+|warning: |note: |rnnkit [\w-]+: (warning|note): )")


def classify_process(result: Result) -> tuple[str, str]:
    """(outcome, detail) of one process from its exit and stderr alone: OK, ERROR_OK, HANG,
    TRACEBACK or WRONG (an error that is not one clean line)."""
    if result.exit is None:
        return "HANG", f"killed after {result.seconds:.0f} s"
    if "Traceback (most recent call last)" in result.err:
        return "TRACEBACK", _last_exception(result.err)
    if result.signal is not None:
        return "TRACEBACK", f"killed by signal {result.signal}"
    if result.exit == 0:
        return "OK", ""
    if result.exit != 2:
        said = [line for line in lines(result.out) if line.startswith(("diverged", "interrupted"))]
        return "TRACEBACK", f"exit {result.exit}: {(said or lines(result.err) or lines(result.out) or [''])[-1][:200]}"
    errs = lines(result.err)
    if not errs or not ERROR_LINE.match(errs[-1]):
        return "WRONG", f"exit 2 but the last stderr line is not an error line: {(errs or [''])[-1][:200]!r}"
    extra = [line for line in errs[:-1] if not ALLOWED_BEFORE.match(line)]
    if extra:
        return "WRONG", f"the error is not one line: {len(errs)} stderr lines, e.g. {extra[0][:120]!r}"
    return "ERROR_OK", ""


def _last_exception(err: str) -> str:
    """The exception line of a traceback (its last line that is not indented)."""
    found = [line for line in err.splitlines() if line and not line.startswith((" ", "Traceback"))]
    return found[-1][:300] if found else "Traceback"


def first_line(text: str) -> str:
    found = lines(text)
    return found[0][:300] if found else ""


def error_line(text: str) -> str:
    """The line that says what went wrong: the CLI's error line, an exception, else the last."""
    found = lines(text)
    for line in reversed(found):
        if ERROR_LINE.match(line):
            return line[:300]
    if "Traceback (most recent call last)" in text:
        return _last_exception(text)
    return found[-1][:300] if found else ""
