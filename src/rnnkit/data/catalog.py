"""The data sets rnnkit's recipes read: one declarative table, and whether each is present.

The table is ``catalog.json`` beside this module (shipped with the package), loaded and
checked on import (:func:`load_table`) into :data:`DATASETS` and :data:`CATALOG`.

Each :class:`Dataset` lives in its folder under the data folder (:func:`~rnnkit.data.corpus.data_dir`:
``--data-dir``, else ``$RNNKIT_DATA``, else ``../shared/data``) and lists its files: where
each comes from (its canonical source, pinned to a commit where the source is a git
repository), how it is unpacked (``gzip``: the URL is that file gzip-compressed; ``zip`` /
``tar``: the file is the archive's ``member``) and the size and sha256 it must have. The
sizes and checksums are those of the copies in ``shared/data`` (each folder's README says
where they came from and gives md5 sums, which agree). ``rnnkit data list`` shows the table
and :func:`status`; ``rnnkit data get NAME`` (:mod:`rnnkit.data.fetch`) downloads and checks.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import stat
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Optional

UNPACK = ("", "gzip", "zip", "tar")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class File:
    """One file of a data set.

    Args:
        path: where it lands, relative to the data set's folder.
        url: its canonical source.
        size: its size in bytes.
        sha256: its checksum (hex).
        unpack: ``""`` (the URL is the file), ``"gzip"`` (the URL is the file gzip-compressed),
            ``"zip"`` or ``"tar"`` (the file is ``member`` of the archive at the URL).
        member: the archive member, for ``zip`` and ``tar``.
        gunzipped: for a ``.gz`` file whose copies are compressed differently (Debian
            recompressed Fashion-MNIST's), the (size, sha256) of its decompressed bytes:
            a copy with other compressed bytes but that content is as good.
    """

    path: str
    url: str
    size: int
    sha256: str
    unpack: str = ""
    member: str = ""
    gunzipped: Optional[tuple[int, str]] = None


@dataclass(frozen=True)
class Dataset:
    """A data set: its name, folder, what it is, where it comes from, its licence and files."""

    name: str
    folder: str
    description: str
    source: str
    licence: str
    recipes: tuple[str, ...]
    files: tuple[File, ...] = field(repr=False)

    @property
    def size(self) -> int:
        """Bytes of all its files."""
        return sum(f.size for f in self.files)


def load_table(text: str, where: str = "catalog.json") -> tuple[Dataset, ...]:
    """The data sets of a table in JSON (``{"datasets": [...]}``, the format of ``catalog.json``),
    checked with :func:`check_table`; ValueError naming ``where`` and the first ill-formed entry."""
    try:
        table = json.loads(text)
        if not isinstance(table, dict) or not isinstance(table.get("datasets"), list):
            raise TypeError('expected an object {"datasets": [...]}')
        datasets = tuple(_dataset(row) for row in table["datasets"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: not a table of data sets: {err}") from None
    check_table(datasets)
    return datasets


_TEXT_FIELDS = ("name", "folder", "description", "source", "licence")
_DATASET_FIELDS = {**dict.fromkeys(_TEXT_FIELDS, str), "recipes": list, "files": list}
_FILE_FIELDS = {"path": str, "url": str, "size": int, "sha256": str, "unpack": str, "member": str, "gunzipped": list}


def _fields(row, types: dict, required, what: str) -> dict:
    """``row`` (a JSON object) checked against ``types``: TypeError naming ``what`` and the first
    field that is missing, unknown or of another type."""
    if not isinstance(row, dict):
        raise TypeError(f"{what}: expected an object, got {type(row).__name__}")
    for key in [*required, *row]:
        if key not in row or key not in types:
            raise TypeError(f"{what}: field {key!r} {'missing' if key not in row else 'unknown'}")
        if not isinstance(row[key], types[key]) or isinstance(row[key], bool):
            raise TypeError(f"{what}: field {key!r}: expected {types[key].__name__}, got {row[key]!r}")
    return row


def _dataset(row) -> Dataset:
    """One entry of the JSON table."""
    what = f"data set {row.get('name')!r}" if isinstance(row, dict) else "a data set"
    row = _fields(row, _DATASET_FIELDS, _DATASET_FIELDS, what)
    if not all(isinstance(name, str) for name in row["recipes"]):
        raise TypeError(f"{what}: expected recipes as a list of names")
    files = tuple(_file(spec, what) for spec in row["files"])
    return Dataset(**{**row, "recipes": tuple(row["recipes"]), "files": files})


def _file(row, what: str) -> File:
    """One file of an entry of the JSON table (``gunzipped``: ``[size, sha256]``)."""
    row = _fields(row, _FILE_FIELDS, ("path", "url", "size", "sha256"), f"{what}: a file")
    if "gunzipped" in row:
        size_sha = row["gunzipped"]
        if len(size_sha) != 2 or not isinstance(size_sha[0], int) or not isinstance(size_sha[1], str):
            raise TypeError(f"{what}: file {row['path']!r}: expected gunzipped as [size, sha256]")
        row = {**row, "gunzipped": tuple(size_sha)}
    return File(**row)


def check_table(datasets) -> None:
    """ValueError naming the first ill-formed entry: a path that leaves its folder, a bad
    checksum or unpack kind, a member missing, a name or a path given twice."""
    names = set()
    for entry in datasets:
        if entry.name in names or not safe_relative(entry.folder) or len(PurePosixPath(entry.folder).parts) != 1:
            raise ValueError(f"data set {entry.name!r}: a repeated name or a bad folder {entry.folder!r}")
        names.add(entry.name)
        paths = [f.path for f in entry.files]
        for spec in entry.files:
            if not safe_relative(spec.path) or paths.count(spec.path) > 1:
                raise ValueError(f"data set {entry.name!r}: file {spec.path!r} leaves its folder or is listed twice")
            if (
                not re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
                or spec.unpack not in UNPACK
                or bool(spec.member) != (spec.unpack in ("zip", "tar"))
            ):
                raise ValueError(
                    f"data set {entry.name!r}: file {spec.path!r}: expected a sha256 in hex, "
                    f"unpack one of {UNPACK} and a member exactly for zip and tar"
                )


def safe_relative(path: str) -> bool:
    """Whether ``path`` stays inside the folder it is relative to (no root, drive or ``..``)."""
    pure = PurePosixPath(path.replace("\\", "/"))
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and ":" not in path


#: the table: ``catalog.json``, shipped beside this module, checked as it loads
DATASETS: tuple[Dataset, ...] = load_table(resources.files(__package__).joinpath("catalog.json").read_text("utf-8"))
#: name -> data set; the commands look names up here
CATALOG: dict[str, Dataset] = {d.name: d for d in DATASETS}


def find(name: str) -> Dataset:
    """The data set called ``name``; ValueError listing the names when there is none."""
    if name not in CATALOG:
        raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(CATALOG)}")
    return CATALOG[name]


def fetch_hint(name: str, root: Optional[str] = None) -> str:
    """The command that downloads data set ``name`` (into ``root``, when given), for the
    errors of a recipe whose data is missing: ``rnnkit data get ptb``."""
    return f"rnnkit data get {name}" + (f" --data-dir {root}" if root else "")


def human_size(count: float) -> str:
    """``count`` bytes for people: ``6.0 MB``, ``164 kB``."""
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"


# ---- checking files ---------------------------------------------------------------
def digest(stream, limit: Optional[int] = None) -> tuple[int, str]:
    """(bytes read, sha256 hex) of a binary stream, reading at most ``limit`` + 1 bytes."""
    hasher, size = hashlib.sha256(), 0
    while limit is None or size <= limit:
        chunk = stream.read(_CHUNK if limit is None else min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        hasher.update(chunk)
        size += len(chunk)
    return size, hasher.hexdigest()


def check_file(path: Path, spec: File) -> str:
    """What is wrong with the file at ``path`` against ``spec``: ``""`` (nothing),
    ``"missing"``, or the sizes and checksums that differ."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "missing"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    with open(path, "rb") as handle:
        size, sha = digest(handle)
    if (size, sha) == (spec.size, spec.sha256):
        return ""
    if spec.gunzipped and gunzipped_digest(path, spec.gunzipped[0]) == spec.gunzipped:
        return ""  # the same content, compressed differently
    return f"expected {spec.size} bytes with sha256 {spec.sha256}, got {size} bytes with sha256 {sha}"


def gunzipped_digest(path: Path, limit: int) -> Optional[tuple[int, str]]:
    """(size, sha256) of the gzip file ``path`` decompressed (at most ``limit`` + 1 bytes
    read), or None when it is not gzip."""
    try:
        with gzip.open(path, "rb") as handle:
            return digest(handle, limit)
    except (OSError, EOFError, zlib.error):
        return None


@dataclass
class Status:
    """``present`` (every file as listed), ``missing`` (none there), ``incomplete`` (some
    missing, the others right) or ``corrupt``; ``problems``: file path -> what is wrong."""

    state: str
    problems: dict[str, str]

    def __str__(self) -> str:
        return self.state + "".join(f"\n  {path}: {problem}" for path, problem in self.problems.items())


def status(entry: Dataset, root: str | Path) -> Status:
    """Whether ``entry``'s files are in ``root``/``entry.folder`` with their sizes and checksums."""
    folder = Path(root) / entry.folder
    problems = {spec.path: problem for spec in entry.files if (problem := check_file(folder / spec.path, spec))}
    missing = sum(p == "missing" for p in problems.values())
    if not problems:
        return Status("present", problems)
    if missing == len(entry.files):
        return Status("missing", {})
    return Status("incomplete" if missing == len(problems) else "corrupt", problems)


__all__ = [
    "CATALOG",
    "DATASETS",
    "Dataset",
    "File",
    "Status",
    "check_file",
    "fetch_hint",
    "find",
    "human_size",
    "status",
]
