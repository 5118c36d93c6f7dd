"""Checkpoints: one safetensors file, tensors plus a JSON metadata record.

Layout of a checkpoint file:

* tensors ``model/<name>``, ``optim/<param>/<key>`` (``optim.<optimizer>/<param>/<key>``
  for each optimizer an objective declares), ``objective/<name>``, ``rng/torch`` (and
  ``rng/cuda/<i>``);
* metadata key ``rnnkit``: JSON with ``format``, ``task``, ``config``, step,
  metrics and anything else the task stores (e.g. the vocabulary).

Nothing is ever unpickled. Files are written atomically (:mod:`rnnkit.files`), so a
crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes
from torch import Tensor

from rnnkit.files import atomic_write

FORMAT = "rnnkit-checkpoint/1"
BEST, LAST = "best.safetensors", "last.safetensors"
MAX_META_BYTES = 64 * 2**20  # the metadata's JSON (vocabularies and splits are its big parts)
MAX_META_DEPTH = 64  # nesting of its objects and lists (rnnkit writes 5)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)  # a JSON string, escapes included


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, partial or of another recipe (its metadata field `task`)."""


@dataclass
class Checkpoint:
    path: Path
    tensors: dict[str, Tensor]
    meta: dict[str, Any]

    def section(self, prefix: str) -> dict[str, Tensor]:
        """Tensors under ``prefix/``, with the prefix removed."""
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in self.tensors.items() if k.startswith(prefix + "/")}


def save(path: str | Path, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """Save tensors and JSON-able ``meta`` atomically; shared tensors stored once."""
    stored: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, tensor in tensors.items():
        key = (tensor.device, tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        if tensor.numel() and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        stored[name] = tensor.detach().to("cpu").contiguous().clone()
    record = dict(meta, format=FORMAT, aliases=aliases)
    atomic_write(path, safetensors_bytes(stored, metadata={"rnnkit": json.dumps(record)}))


def resolve(path: str | Path) -> Path:
    """A checkpoint file, or a run directory meaning its best checkpoint."""
    path = Path(path)
    if path.is_dir():
        for name in (BEST, LAST):
            if (path / name).exists() or (path / name).is_symlink():
                return _regular(path / name)
        raise CheckpointError(f"{path}: run directory holds no checkpoint ({BEST} or {LAST})")
    return _regular(path)


def _regular(path: Path) -> Path:
    """``path`` when it is a regular file (a FIFO would hang the reader), else a CheckpointError."""
    if path.is_file():
        return path
    if not path.exists():
        broken = " (a broken symbolic link)" if path.is_symlink() else ""
        raise CheckpointError(f"{path}: no such checkpoint file or run directory{broken}")
    raise CheckpointError(f"{path}: not a regular file ({_kind(path)}); expected a checkpoint file or a run directory")


def _kind(path: Path) -> str:
    for test, kind in (
        ("is_fifo", "a FIFO"),
        ("is_socket", "a socket"),
        ("is_char_device", "a character device"),
        ("is_block_device", "a block device"),
        ("is_dir", "a directory"),
    ):
        if getattr(path, test)():
            return kind
    return "not a file"


def load(path: str | Path, task: str | None = None) -> Checkpoint:
    """Read a checkpoint (file or run directory); check its task when given.

    The metadata's size and nesting are checked before it is parsed (:func:`parse_meta`); the
    fields each recipe reads, when its model is built (:mod:`rnnkit.train.meta`).
    """
    path = resolve(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get("rnnkit")
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    except (SafetensorError, OSError, RuntimeError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or partial file?): {err}") from None
    if raw is None:
        raise CheckpointError(f"{path}: a safetensors file but not an rnnkit checkpoint (no 'rnnkit' metadata)")
    meta = parse_meta(raw, path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unsupported checkpoint format {shown(meta.get('format'))}, expected {FORMAT!r}")
    if task is not None and meta.get("task") != task:
        raise CheckpointError(f"{path}: checkpoint of recipe {shown(meta.get('task'))}, expected {task!r}")
    aliases = {} if meta.get("aliases") is None else meta["aliases"]
    if not isinstance(aliases, dict):
        raise CheckpointError(f"{path}: checkpoint metadata 'aliases' is not a JSON object")
    for alias, target in aliases.items():
        if not isinstance(target, str) or target not in tensors:
            raise CheckpointError(f"{path}: tensor {alias!r} refers to {shown(target)}, which is missing")
        tensors[alias] = tensors[target]
    return Checkpoint(path, tensors, meta)


def parse_meta(raw: str, path) -> dict:
    """The metadata record ``raw`` (JSON text) as a dict, its size and nesting checked first."""
    if len(raw) > MAX_META_BYTES:
        raise CheckpointError(
            f"{path}: checkpoint metadata is {len(raw):,} bytes, over the limit of {MAX_META_BYTES:,}"
        )
    deepest = depth(raw)
    if deepest > MAX_META_DEPTH:
        raise CheckpointError(
            f"{path}: checkpoint metadata is nested {deepest:,} levels deep, over the limit of {MAX_META_DEPTH}"
        )
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError, as an over-long int is
        raise CheckpointError(f"{path}: checkpoint metadata is not valid JSON: {err}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: checkpoint metadata is a JSON {type(meta).__name__}, expected an object")
    return meta


def depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON ``text`` (brackets inside strings not counted)."""
    brackets = re.sub(r"[^\[\]{}]", "", _STRING.sub("", text)).encode()
    if not brackets:
        return 0
    codes = torch.frombuffer(bytearray(brackets), dtype=torch.uint8)
    steps = (codes == ord("[")).int() + (codes == ord("{")).int()
    steps -= (codes == ord("]")).int() + (codes == ord("}")).int()
    return int(steps.cumsum(0).max())


def shown(value: Any) -> str:
    """``value`` for an error line: a short excerpt, named by its JSON type when not a string or number."""
    if value is None:
        return "null"
    big = isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**12
    text = f"{value:.3g}" if big else repr(value)
    text = text[:40] + ("..." if len(text) > 40 else "")
    kind = {dict: "an object ", list: "a list ", bool: "a boolean "}.get(type(value), "")
    return kind + text


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """An optimizer's state dict split into tensors and a JSON-able remainder."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"{pid}/{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict) -> None:
    """Inverse of :func:`optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        pid, key = name.split("/", 1)
        state.setdefault(int(pid), {})[key] = value
    for pid, entries in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(entries)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state(device: torch.device) -> tuple[dict[str, Tensor], dict]:
    """Python, torch CPU and the training device's RNG states as (tensors, JSON-able)."""
    tensors = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        tensors["cuda"] = torch.cuda.get_rng_state(device)
    elif device.type == "mps":
        tensors["mps"] = torch.mps.get_rng_state()
    version, values, gauss = random.getstate()
    return tensors, {"python": [version, list(values), gauss]}


def set_rng_state(tensors: dict[str, Tensor], meta: dict, device: torch.device) -> None:
    """Inverse of :func:`rng_state`; a GPU state is restored only on the same device type."""
    torch.set_rng_state(tensors["torch"])
    if device.type == "cuda" and "cuda" in tensors:
        torch.cuda.set_rng_state(tensors["cuda"], device)
    elif device.type == "mps" and "mps" in tensors:
        torch.mps.set_rng_state(tensors["mps"])
    version, values, gauss = meta["python"]
    random.setstate((version, tuple(values), gauss))
