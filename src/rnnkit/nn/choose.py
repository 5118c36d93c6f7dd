"""``impl="auto"``: torch's fused op or rnnkit's kernel, whichever a timed trial found faster here.

Which kernel wins depends on the machine (rnnkit's LSTM kernel was 1.3-3.4x slower than torch's
on the machines measured so far, but not at every shape), so a layer built with ``impl="auto"``
(the default) times both once per shape and remembers the answer:

* The key is the machine (CPU model and flags, torch version, whether the C++ kernel is allowed)
  and the call: cell, sizes, layers, directions, batch and length (both rounded up to a power of
  two), dense or packed, dtype (the autocast dtype under autocast), device (a GPU by its name),
  threads, and whether gradients are on (a training step times forward + backward, inference
  the forward alone).
* The trial runs each kernel on random data of that shape with copies of the weights (nothing
  reaches the layer's gradients, the random-number state is restored after) and keeps the
  median of a few calls. rnnkit's kernel is chosen only when it takes under
  :data:`MARGIN` of torch's time; ties go to torch's op, whose numbers equal ``torch.nn``'s.
* Answers live in memory and in a JSON file (``$RNNKIT_KERNEL_CACHE``, default
  ``~/.cache/rnnkit/kernels.json``), written atomically; a file that cannot be read as one is
  ignored with a note and left as it is (answers then stay in memory). A trial that fails
  (out of memory, say) means torch's op for that call, with a note.
* ``RNNKIT_IMPL=fused`` or ``reference`` forces the choice for every ``impl="auto"`` layer
  (no trial); other dtypes than float32 (float64, autocast fp16, autocast bf16 except for an
  LSTM without projection or a GRU on a CPU, which have rnnkit's bf16 kernels in
  ``csrc/lstm_bf16.cpp`` and ``csrc/gru_bf16.cpp``),
  devices other than CPU and CUDA, tracing, scripting, export and compilation always take
  torch's op, forced or not.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from .extension import NO_EXT
from .machine import cpu_flags, cpu_model

OVERRIDE = "RNNKIT_IMPL"
CACHE_ENV = "RNNKIT_KERNEL_CACHE"
IMPLS = ("fused", "reference")
#: rnnkit's kernel must take less than this fraction of torch's time to be chosen: closer than that,
#: a few timed calls cannot tell them apart on a shared VM (one call varied 149-183 ms between runs)
MARGIN = 0.9
TRIAL_CALLS = 5
WARMUP_CALLS = 6
_FORMAT = 1
_UNREADABLE = "?unreadable"  # the in-memory mark of a cache file that is left alone
_memory: dict = {}
generation = 0  # layers remember answers by it: :func:`forget` makes them ask again


def cache_path() -> Path:
    """Where the answers are kept: ``$RNNKIT_KERNEL_CACHE`` or ``~/.cache/rnnkit/kernels.json``."""
    given = os.environ.get(CACHE_ENV)
    return Path(given) if given else Path.home() / ".cache" / "rnnkit" / "kernels.json"


@functools.cache
def machine_key() -> str:
    """16 hex digits naming this machine's kind: CPU model and flags, torch, the C++ kernel
    (allowed or not; building it waits for the first trial, after the note that says so)."""
    ext = "python" if os.environ.get(NO_EXT, "") not in ("", "0") else "cpp"
    text = "|".join([cpu_model(), " ".join(sorted(cpu_flags())), torch.__version__, ext])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _bucket(n: int) -> int:
    """``n`` rounded up to a power of two (so lengths 33 and 60 share one trial)."""
    return 1 << max(0, int(n) - 1).bit_length()


def shape_key(layer, batch: int, steps: int, dtype: torch.dtype, device: torch.device, packed: bool = False) -> str:
    """The call as the cache names it, e.g. ``LSTM I1 H128 P0 x1 D1 N128 L1024 dense float32 cpu t2 train``:
    cell and sizes, batch and length buckets, layout, dtype, device (a GPU's name), threads, mode."""
    mode = "train" if torch.is_grad_enabled() else "infer"
    proj = getattr(layer, "proj_size", 0)
    where = torch.cuda.get_device_name(device).replace(" ", "_") if device.type == "cuda" else device.type
    return (
        f"{layer.spec.name} I{layer.input_size} H{layer.hidden_size} P{proj} x{layer.num_layers} "
        f"D{layer.num_directions} N{_bucket(batch)} L{_bucket(steps)} {'packed' if packed else 'dense'} "
        f"{str(dtype).removeprefix('torch.')} {where} t{torch.get_num_threads()} {mode}"
    )


def forced() -> str | None:
    """``RNNKIT_IMPL`` when set (``fused`` or ``reference``); ValueError for anything else."""
    value = os.environ.get(OVERRIDE, "").strip()
    if not value:
        return None
    if value not in IMPLS:
        raise ValueError(f"{OVERRIDE}: expected fused or reference, got {value!r}")
    return value


def skip_trial(dtype: torch.dtype, device: torch.device, own_bf16: bool = False) -> bool:
    """Calls that always take torch's op: any dtype but float32 (float64 is exactness work;
    under a bf16/fp16 autocast rnnkit's kernel would compute in float32) except bfloat16 where
    rnnkit has a bf16 kernel for the layer (``own_bf16``), devices other than CPU and CUDA, and
    :func:`capturing` (tracing, scripting, export, compilation)."""
    return (
        (dtype != torch.float32 and not (own_bf16 and dtype == torch.bfloat16))
        or device.type not in ("cpu", "cuda")
        or capturing()
    )


def capturing() -> bool:
    """Whether the call is being traced, scripted, exported or compiled (torch's op then, always)."""
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return True
    compiling = getattr(torch.compiler, "is_compiling", None)
    if compiling is not None and compiling():
        return True
    exporting = getattr(torch.onnx, "is_in_onnx_export", None)
    return bool(exporting is not None and exporting())


def choose(key: str, trial: Callable[[], dict[str, Callable[[], None]]], device: torch.device) -> str:
    """``fused`` or ``reference`` for the call named ``key``; ``trial()`` gives each kernel's call.
    A trial that fails (out of memory, say) gives ``fused`` for this call, with a note, unkept."""
    machine = machine_key()
    known = _answers(machine)
    if key not in known:
        print(
            f"rnnkit: timing torch's and rnnkit's kernels once for {key} (cached in {cache_path()}; "
            "the first time on a machine also builds rnnkit's C++ kernel)",
            file=sys.stderr,
        )
        try:
            ms = time_calls(trial(), device)
        except Exception as err:  # noqa: BLE001 - the trial is an optimisation, never a failure
            print(f"note: kernel trial failed ({type(err).__name__}: {err}); using torch's op", file=sys.stderr)
            return "fused"
        choice = "reference" if ms["reference"] < MARGIN * ms["fused"] else "fused"
        known[key] = {"choice": choice, "ms": {k: round(v, 3) for k, v in ms.items()}}
        _save(machine, key, known[key])
    return known[key]["choice"]


def known(key: str) -> dict | None:
    """The answer kept for ``key`` on this machine (``{"choice": .., "ms": {..}}``), or None."""
    return _answers(machine_key()).get(key)


def time_calls(calls: dict[str, Callable[[], None]], device: torch.device) -> dict[str, float]:
    """Median milliseconds of each call: :data:`WARMUP_CALLS` in a row each first, then
    :data:`TRIAL_CALLS` rounds in turn. (With one warm-up call torch's bf16 LSTM was timed at up
    to twice its settled time, so a charlm trial chose rnnkit's kernel, which trained 12% slower.)"""
    times: dict[str, list[float]] = {name: [] for name in calls}
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        for call in calls.values():
            for _ in range(WARMUP_CALLS):
                call()
        for _ in range(TRIAL_CALLS):
            for name, call in calls.items():
                _sync(device)
                start = time.perf_counter()
                call()
                _sync(device)
                times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _answers(machine: str) -> dict:
    """This machine's known answers (the file read once per process and path)."""
    path = str(cache_path())
    if path not in _memory:
        _memory[path] = _read(Path(path))
    return _memory[path].setdefault(machine, {})


def _read(path: Path) -> dict:
    """The cache file's answers by machine; a file that cannot be read as one is left alone
    with a note (:data:`_UNREADABLE` marks it, so nothing is written over it)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as err:
        return _unreadable(path, str(err))
    try:
        data = json.loads(raw.decode("utf-8"))
        machines = data["machines"] if data.get("format") == _FORMAT else None
        if not isinstance(machines, dict) or not all(_valid(v) for v in machines.values()):
            raise ValueError("not a kernel cache of this rnnkit")
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # UnicodeDecodeError is a ValueError
        return _unreadable(path, str(err)[:120])
    return machines


def _unreadable(path: Path, why: str) -> dict:
    print(
        f"note: kernel cache {path} ignored ({why}); kernels are timed again and the answers kept in "
        "memory only: remove the file to let rnnkit write a new one",
        file=sys.stderr,
    )
    return {_UNREADABLE: {}}


def _valid(answers) -> bool:
    return isinstance(answers, dict) and all(isinstance(a, dict) and a.get("choice") in IMPLS for a in answers.values())


def _save(machine: str, key: str, answer: dict) -> None:
    """Add one answer to the file (merged with what another process may have written since);
    never over a file that was not a readable cache."""
    path = cache_path()
    if _UNREADABLE in _memory.get(str(path), {}):
        return
    machines = _read(path) if path.exists() else {}
    if _UNREADABLE in machines:
        _memory[str(path)][_UNREADABLE] = {}
        return
    machines.setdefault(machine, {})[key] = answer
    text = json.dumps({"format": _FORMAT, "machines": machines}, indent=1, sort_keys=True)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as err:  # a read-only home: the answer still holds for this process
        print(f"note: could not write kernel cache {path} ({err})", file=sys.stderr)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def forget() -> None:
    """Drop the answers and the machine key held in memory, and make layers ask again (tests;
    the file stays)."""
    global generation
    _memory.clear()
    machine_key.cache_clear()
    generation += 1
