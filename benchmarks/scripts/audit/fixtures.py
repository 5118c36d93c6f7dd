"""What the cases run against: each recipe's smoke run (trained once, cached) and big
crafted files (made once, cached), under the audit's ``--work`` folder.

A cached run is reused while the rnnkit sources are the same (a digest of
``src/rnnkit/**/*.py`` is kept beside it); otherwise it is trained again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import struct
import zlib
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
DATA = Path("/work/shared/data") if Path("/work/shared/data").is_dir() else ROOT.parent / "shared" / "data"


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "rnnkit").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def smoke_argv(name: str, run: Path) -> list[str]:
    """``rnnkit train`` arguments of recipe ``name``'s smoke run into ``run`` (as tests/helpers.py)."""
    from rnnkit.recipes import recipe

    args = [a.replace("{fixtures}", str(FIXTURES)) for a in recipe(name).smoke.train]
    return ["train", name, *args, "--run-dir", str(run), "--quiet"]


def smoke_use(name: str, command: str) -> list[str]:
    """The smoke arguments of ``rnnkit COMMAND RUN ...`` for recipe ``name``."""
    from rnnkit.recipes import recipe

    return [a.replace("{fixtures}", str(FIXTURES)) for a in recipe(name).smoke.uses[command]]


class Ctx:
    """The audit's folders: ``work/runs/<recipe>`` (smoke runs), ``work/cache`` (big files),
    ``work/cases`` (one folder per running case)."""

    def __init__(self, work: Path, launcher: Optional[Callable] = None) -> None:
        self.work = Path(work)
        self.fixtures, self.data = FIXTURES, DATA
        self.cache = self.work / "cache"
        self.launcher = launcher  # (argv, cwd, timeout) -> Result, to train the runs
        self.built: dict[str, Path] = {}
        self._digest: Optional[str] = None

    def run(self, name: str) -> Path:
        """Recipe ``name``'s smoke run (trained now if missing or stale)."""
        if name in self.built:
            return self.built[name]
        run = self.work / "runs" / name
        stamp = self.work / "runs" / f"{name}.stamp"
        if self._digest is None:
            self._digest = source_digest()
        if not (run / "best.safetensors").is_file() or not stamp.is_file() or stamp.read_text() != self._digest:
            if self.launcher is None:
                raise RuntimeError(f"the smoke run of {name} is not built (no launcher)")
            shutil.rmtree(run, ignore_errors=True)
            run.parent.mkdir(parents=True, exist_ok=True)
            result = self.launcher(smoke_argv(name, run), run.parent, 600)
            if result.exit != 0 or not (run / "best.safetensors").is_file():
                raise RuntimeError(f"the smoke run of {name} failed (exit {result.exit}): {result.err[-2000:]}")
            stamp.write_text(self._digest)
        self.built[name] = run
        return run

    def cached(self, name: str, make: Callable[[Path], None]) -> Path:
        """``work/cache/NAME``, made by ``make(path)`` the first time."""
        path = self.cache / name
        if not path.exists():
            self.cache.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            make(partial)
            partial.rename(path)
        return path


# --- big crafted files ------------------------------------------------------------------


def words_line(path: Path, words: int = 2_000_000, word: str = "Hund") -> None:
    """One line of ``words`` copies of ``word`` (written in chunks)."""
    with open(path, "w") as handle:
        chunk = (word + " ") * 10_000
        for _ in range(words // 10_000):
            handle.write(chunk)
        handle.write("\n")


def png(path: Path, width: int, height: int, bits: int = 1) -> None:
    """A grey PNG of zeros, streamed: a 20,000 x 20,000 one is ~50 KB on disk (a bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\0" * (1 + (width * bits + 7) // 8)
    packer = zlib.compressobj(9)
    body = bytearray()
    for _ in range(height):
        body += packer.compress(row)
    body += packer.flush()
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits, 0, 0, 0, 0)))
        handle.write(chunk(b"IDAT", bytes(body)))
        handle.write(chunk(b"IEND", b""))


def idx_images(
    path: Path, count: int, rows: int = 28, cols: int = 28, data_bytes: Optional[int] = None, magic: int = 0x00000803
) -> None:
    """A gzip idx3 file whose header claims ``count`` images; ``data_bytes`` of zeros follow
    (default: as many as claimed). Zeros compress ~1000:1, so a big claim is a small file."""
    total = count * rows * cols if data_bytes is None else data_bytes
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(struct.pack(">IIII", magic, count, rows, cols))
        block = b"\0" * (1 << 20)
        while total > 0:
            handle.write(block[: min(total, len(block))])
            total -= len(block)


def idx_labels(path: Path, count: int, data_bytes: Optional[int] = None) -> None:
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">II", 0x00000801, count))
        handle.write(bytes(i % 10 for i in range(count if data_bytes is None else data_bytes)))


# --- checkpoints ------------------------------------------------------------------------


def read_meta(path: Path) -> tuple[dict, dict, bytes]:
    """(safetensors header, rnnkit metadata, tensor bytes) of a checkpoint file."""
    raw = Path(path).read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    meta = json.loads(header["__metadata__"]["rnnkit"])
    return header, meta, raw[8 + size :]


def write_checkpoint(path: Path, header: dict, meta_text: str, data: bytes) -> None:
    """A safetensors file with ``header``'s tensors and ``meta_text`` as its rnnkit metadata."""
    header = dict(header)
    header["__metadata__"] = dict(header.get("__metadata__") or {}, rnnkit=meta_text)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + data)


def mutate_checkpoint(path: Path, change: Callable[[dict], object]) -> None:
    """Rewrite the checkpoint's metadata in place: ``change(meta)`` edits it (or returns a
    replacement: any JSON value, or a str written as the metadata text itself)."""
    header, meta, data = read_meta(path)
    replaced = change(meta)
    if replaced is None:
        replaced = meta
    text = replaced if isinstance(replaced, str) else json.dumps(replaced)
    write_checkpoint(path, header, text, data)


def nested(depth: int, inner: str = "1", kind: str = "list") -> str:
    """JSON text of ``depth`` nested lists (or objects) around ``inner``."""
    if kind == "list":
        return "[" * depth + inner + "]" * depth
    return '{"a":' * depth + inner + "}" * depth
