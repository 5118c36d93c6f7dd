"""Reading one file out of a downloaded archive, refusing archives that could write elsewhere.

rnnkit never extracts an archive as a whole: it reads the one member a catalog entry names
(:class:`rnnkit.data.catalog.File`) and writes it under the entry's own path, so no member
name ever chooses where a file lands. An archive is still refused whole when any member is
unsafe to extract (an absolute path, a drive, ``..``, a symbolic or hard link, a device):
such an archive is not what its source publishes, and a user who unpacks it by hand should
not be led into it. Python's :mod:`zipfile`, :mod:`tarfile` and :mod:`gzip` do the reading.
"""

from __future__ import annotations

import contextlib
import gzip
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

from .catalog import safe_relative


class ArchiveError(ValueError):
    """An archive is unreadable, unsafe or lacks the member asked for (one line)."""


def check_zip(archive: zipfile.ZipFile) -> None:
    """ArchiveError naming the first member that is not a plain relative file or folder."""
    for info in archive.infolist():
        mode = info.external_attr >> 16  # the Unix mode, when the archiver stored one
        _check_name(info.filename)
        if stat.S_ISLNK(mode) or (mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR)):
            raise ArchiveError(f"unsafe archive: member {info.filename!r} is a link or a special file")


def check_tar(archive: tarfile.TarFile) -> None:
    """ArchiveError naming the first member that is not a plain relative file or folder."""
    for member in archive.getmembers():
        _check_name(member.name)
        if member.issym() or member.islnk():
            raise ArchiveError(f"unsafe archive: member {member.name!r} is a link (to {member.linkname!r})")
        if not (member.isfile() or member.isdir()):
            raise ArchiveError(f"unsafe archive: member {member.name!r} is a device or another special file")


def _check_name(name: str) -> None:
    if not safe_relative(name.rstrip("/")):
        raise ArchiveError(f"unsafe archive: member {name!r} has an absolute path or '..'")


@contextlib.contextmanager
def open_member(path: Path, kind: str, member: str = "") -> Iterator[BinaryIO]:
    """The decompressed bytes of ``path`` (``kind`` ``gzip``) or of its ``member`` (``zip``,
    ``tar``), as a binary stream; ArchiveError when the archive is bad, unsafe or lacks it."""
    try:
        if kind == "gzip":
            with gzip.open(path, "rb") as stream:
                yield stream
        elif kind == "zip":
            with zipfile.ZipFile(path) as archive:
                check_zip(archive)
                with archive.open(_zip_member(archive, member)) as stream:
                    yield stream
        elif kind == "tar":
            with tarfile.open(path, "r:*") as archive:
                check_tar(archive)
                stream = archive.extractfile(_tar_member(archive, member))
                with stream:
                    yield stream
        else:
            raise ArchiveError(f"unknown archive kind {kind!r}; expected gzip, zip or tar")
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ArchiveError(f"not a valid {kind} archive ({err})") from None


def _zip_member(archive: zipfile.ZipFile, member: str) -> zipfile.ZipInfo:
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise ArchiveError(_absent(member, archive.namelist())) from None
    if info.is_dir():
        raise ArchiveError(f"archive member {member!r} is a folder, expected a file")
    return info


def _tar_member(archive: tarfile.TarFile, member: str) -> tarfile.TarInfo:
    try:
        info = archive.getmember(member)
    except KeyError:
        raise ArchiveError(_absent(member, archive.getnames())) from None
    if not info.isfile():
        raise ArchiveError(f"archive member {member!r} is not a regular file")
    return info


def _absent(member: str, names: list[str]) -> str:
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"the archive has no member {member!r} (it holds {shown or 'nothing'})"
