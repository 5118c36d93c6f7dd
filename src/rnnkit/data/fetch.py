"""Downloading a data set's files from their sources, checked before they take their names.

``rnnkit data get NAME`` calls :func:`get`. Each missing file is streamed (:mod:`urllib`, a
timeout on every connection and read) into a new temporary beside it (``O_EXCL``, the
helpers of :mod:`rnnkit.files`), its size and sha256 counted on the way; it is fsynced and
renamed over its final name only when both are as the catalog says, so a file under its
final name is always whole and right. A failed or interrupted download keeps nothing: no
partial file, no temporary, and nothing resumes. An archive (a ``.gz`` of the file, or a
zip or tar holding it, see :mod:`rnnkit.data.archives`) is downloaded to a temporary too,
the file read out of it the same way, and the archive removed.

A file already there with its size and checksum is kept (and not downloaded); one there
with other content is an error unless ``force`` is given, when it is replaced (only once
the new copy has been checked). Errors are :class:`FetchError`, one line naming the data
set, the file and what went wrong (an HTTP status, no network, a timeout, the expected and
the received checksum); the CLI turns them into exit status 2.

Mirrors: with ``mirror`` (``--mirror URL``, default ``$RNNKIT_DATA_MIRROR``) every file
``scheme://host/path`` is fetched from ``MIRROR/host/path`` instead, the layout ``wget -x``
(or ``wget -m``) makes of the URLs that ``rnnkit data list --json`` prints. The checksums
are the same, so a mirror cannot change the data. ``file:///some/folder`` works as a mirror.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Optional, TextIO

from rnnkit import __version__
from rnnkit.files import WriteError, record_written, remove_stale_temporaries, reserve_temporary

from .archives import ArchiveError, open_member
from .catalog import Dataset, File, check_file, digest, gunzipped_digest, human_size

MIRROR_ENV = "RNNKIT_DATA_MIRROR"
USER_AGENT = f"rnnkit/{__version__} (Python urllib)"
ARCHIVE_LIMIT = 4 << 30  # bytes: an archive's size is not in the catalog, only its members'
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CHUNK = 1 << 16


class FetchError(ValueError):
    """A data set could not be fetched: one line naming it, the file and the reason."""


def mirrored(url: str, mirror: Optional[str]) -> str:
    """``url`` fetched through ``mirror``: ``MIRROR/<host>/<path>[?query]``; ``url`` without one."""
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def get(
    entry: Dataset,
    root: str | Path,
    *,
    force: bool = False,
    mirror: Optional[str] = None,
    timeout: float = 30.0,
    progress: Optional[TextIO] = None,
) -> dict[str, str]:
    """Download ``entry``'s missing files into ``root``/``entry.folder`` and check them.

    Args:
        entry: the data set (:data:`rnnkit.data.catalog.CATALOG`).
        root: the data folder that holds (or will hold) ``entry.folder``.
        force: replace a file that is there with other content (default: an error).
        mirror: base URL fetched from instead of each file's host (see the module doc).
        timeout: seconds to wait for a connection or for the next bytes.
        progress: a text stream (stderr) that gets a line per download; None: silent.

    Returns:
        file path -> ``"fetched"`` or ``"present"`` (there already, and right).
    """
    folder = Path(root) / entry.folder
    problems = {spec.path: check_file(folder / spec.path, spec) for spec in entry.files}
    differing = [path for path, problem in problems.items() if problem not in ("", "missing")]
    if differing and not force:
        path = differing[0]
        raise FetchError(
            f"{entry.name}: {folder / path} is there with other content ({problems[path]}); "
            f"rnnkit data get {entry.name} --force replaces it"
        )
    made = not folder.exists()
    for specs in _downloads([spec for spec in entry.files if problems[spec.path]]):
        try:
            _fetch(mirrored(specs[0].url, mirror), specs, folder, timeout, progress)
        except (ArchiveError, FetchError, WriteError) as err:
            if made:  # the folder this call made, left empty by the failure, goes too
                _remove_empty(folder)
            raise FetchError(f"{entry.name}: {', '.join(s.path for s in specs)}: {err}") from None
    return {spec.path: "fetched" if problems[spec.path] else "present" for spec in entry.files}


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()  # only ever removes an empty folder
    except OSError:
        pass


def _downloads(specs: list[File]) -> list[list[File]]:
    """The files grouped by what is downloaded: one archive read once for all its members."""
    groups: dict[tuple[str, str], list[File]] = {}
    for spec in specs:
        groups.setdefault((spec.url, spec.path if spec.unpack in ("", "gzip") else ""), []).append(spec)
    return list(groups.values())


def _fetch(url: str, specs: list[File], folder: Path, timeout: float, progress: Optional[TextIO]) -> None:
    """Download ``url`` and write each of ``specs`` from it, checked."""
    if specs[0].unpack == "":  # the URL is the file: straight into its temporary
        spec = specs[0]
        limit = max(spec.size, spec.gunzipped[0]) if spec.gunzipped else spec.size
        _write_checked(folder / spec.path, spec, url, lambda out: download(url, out, limit, timeout, progress))
        return
    archive = _reserve(folder / (PurePosixPath(urllib.parse.urlsplit(url).path).name or "download"))
    try:
        with _open_write(archive) as out:
            if download(url, out, ARCHIVE_LIMIT, timeout, progress)[0] > ARCHIVE_LIMIT:
                raise FetchError(f"{url} sent more than {human_size(ARCHIVE_LIMIT)}; not the archive expected")
        for spec in specs:
            with open_member(archive, spec.unpack, spec.member) as stream:
                _write_checked(folder / spec.path, spec, url, lambda out, s=stream, n=spec.size: _copy(s, out, n))
    finally:
        archive.unlink(missing_ok=True)


def _reserve(target: Path) -> Path:
    """A new empty temporary of ``target`` (its folder made first); stale ones go."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FetchError(f"cannot create the folder {target.parent}: {err.strerror or err}") from None
    remove_stale_temporaries(target)
    return reserve_temporary(target)


def _open_write(tmp: Path) -> BinaryIO:
    """The temporary ``tmp`` opened for writing, never through a link planted under its name."""
    try:
        return os.fdopen(os.open(tmp, os.O_WRONLY | os.O_TRUNC | _NOFOLLOW | getattr(os, "O_BINARY", 0)), "wb")
    except OSError as err:
        raise WriteError(f"cannot write {tmp}: {err.strerror or err}") from None


def _write_checked(target: Path, spec: File, url: str, fill: Callable[[BinaryIO], tuple[int, str]]) -> None:
    """Write ``target`` through a new temporary filled by ``fill`` (which returns the bytes
    written and their sha256); it takes the name only when they are ``spec``'s. Errors
    reading the source are ``fill``'s to raise; errors writing are WriteError."""
    tmp = _reserve(target)
    try:
        with _open_write(tmp) as out:
            size, sha = fill(out)
            _on_disk(target, out.flush, lambda: os.fsync(out.fileno()))
        if (size, sha) != (spec.size, spec.sha256) and not _same_content(tmp, spec):
            got = (
                f"more than {size - 1} bytes"
                if size > max(spec.size, (spec.gunzipped or (0,))[0])
                else f"{size} bytes with sha256 {sha}"
            )
            raise FetchError(
                f"checksum mismatch: expected {spec.size} bytes with sha256 {spec.sha256}, "
                f"got {got} (from {url}); nothing was kept"
            )
        _on_disk(target, lambda: os.replace(tmp, target))
    finally:
        tmp.unlink(missing_ok=True)
    record_written(target)


def _same_content(path: Path, spec: File) -> bool:
    """Whether ``path`` is ``spec``'s .gz compressed differently (same bytes once decompressed)."""
    return spec.gunzipped is not None and gunzipped_digest(path, spec.gunzipped[0]) == spec.gunzipped


def _on_disk(target: Path, *steps: Callable[[], object]) -> None:
    """Run ``steps`` (flush, fsync, rename); an OSError becomes a WriteError naming ``target``."""
    try:
        for step in steps:
            step()
    except OSError as err:
        raise WriteError(f"cannot write {target}: {err.strerror or err}") from None


def download(
    url: str, out: BinaryIO, limit: int, timeout: float = 30.0, progress: Optional[TextIO] = None
) -> tuple[int, str]:
    """Stream ``url`` into ``out`` (at most ``limit`` + 1 bytes); (bytes, sha256). FetchError
    for an HTTP error status, an unreachable host, a timeout or a broken connection."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length", "")
            meter = _Meter(progress, url, int(length) if length.isdigit() else None)
            try:
                return _copy(response, out, limit, meter.update)
            finally:
                meter.close()
    except urllib.error.HTTPError as err:
        raise FetchError(f"HTTP {err.code} {err.reason} from {url}") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise FetchError(f"no answer from {url} within {timeout:g} s") from None
        raise FetchError(
            f"cannot reach {url} ({err.reason}); no network? A mirror can stand in: --mirror URL or ${MIRROR_ENV}"
        ) from None
    except TimeoutError:
        raise FetchError(f"{url} sent nothing for {timeout:g} s; gave up") from None
    except (FetchError, WriteError):
        raise
    except (http.client.HTTPException, ConnectionError) as err:
        raise FetchError(f"the connection to {url} broke ({type(err).__name__}: {err})") from None
    except ValueError as err:  # urllib's answer to a string that is no URL
        raise FetchError(f"cannot fetch {url!r}: {err}") from None


def _copy(
    source: BinaryIO, out: BinaryIO, limit: int, update: Optional[Callable[[int], None]] = None
) -> tuple[int, str]:
    """Copy at most ``limit`` + 1 bytes of ``source`` to ``out``; (bytes, sha256)."""

    class _Tee:  # digest() reads; each chunk is written as it passes
        def read(self, n: int) -> bytes:
            chunk = source.read(min(n, _CHUNK))
            try:
                out.write(chunk)
            except OSError as err:  # a full disk, say; the caller's message names the file
                raise WriteError(f"cannot write: {err.strerror or err}") from None
            if update:
                update(len(chunk))
            return chunk

    return digest(_Tee(), limit)


class _Meter:
    """A download's progress on ``stream``: a line when it starts; on a terminal, the
    megabytes received so far on that line as they come."""

    def __init__(self, stream: Optional[TextIO], url: str, total: Optional[int]) -> None:
        self.stream, self.total, self.done, self.shown = stream, total, 0, -1
        self.live = bool(stream) and stream.isatty()
        if stream:
            size = f" ({human_size(total)})" if total else ""
            stream.write(f"downloading {url}{size}\n")
            stream.flush()

    def update(self, count: int) -> None:
        self.done += count
        tenths = int(self.done / 1e5)
        if self.live and tenths != self.shown:
            self.shown = tenths
            of = f" of {human_size(self.total)}" if self.total else ""
            self.stream.write(f"\r  {human_size(self.done)}{of} ")
            self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
