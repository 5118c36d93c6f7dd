"""Reading what a user names: files and standard input, each refused in one line when it is
not what rnnkit can read.

Every reader of a user-named file (data files, ``--input``, ``--pairs``, vectors, prompt and
prior files) opens it through :func:`open_input`, so a wrong path always gets the same answer:
a missing path is ``no such file``, a folder ``is a directory``, and a FIFO, socket or device
``not a regular file``. The file is opened without blocking and checked on the open descriptor,
so a FIFO with no writer is refused at once instead of hanging the command (to pipe text in,
use standard input where a command reads it).

Standard input goes through :func:`read_stdin`: read strictly as UTF-8, with a NUL byte (binary
input, or UTF-16 without its byte-order mark) refused too, the error naming ``<stdin>`` and the
byte offset; and bounded (``MAX_STDIN_BYTES``), so an endless pipe cannot fill the memory.
Nothing here imports torch.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, BinaryIO, Optional

STDIN = "<stdin>"
#: the most standard input a command reads (256 MiB); larger inputs belong in a file
MAX_STDIN_BYTES = 256 * 2**20


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a file"


def open_input(path: str | Path, what: Optional[str] = None, expected: str = "a file") -> BinaryIO:
    """``path`` opened for reading in binary; ValueError in one line when it cannot be.

    ``what`` names the file in messages (default: the path, e.g. ``--pairs scores.tsv``);
    ``expected`` says what should be there. Raises ValueError for a missing path (``no such
    file``), a folder (``is a directory``), a FIFO, socket or device (``not a regular file``;
    never blocks waiting for a writer) and a file that cannot be opened (permission denied).
    """
    label = what or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ValueError(f"{label}: no such file; expected {expected}") from None
    except IsADirectoryError:
        raise ValueError(f"{label}: is a directory; expected {expected}") from None
    except OSError as err:
        raise ValueError(f"{label}: cannot open it ({err.strerror or err})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ValueError(f"{label}: is a directory; expected {expected}")
        raise ValueError(f"{label}: not a regular file ({_kind(mode)}); expected {expected}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def check_input(path: str | Path, what: Optional[str] = None, expected: str = "a file") -> Path:
    """``path`` when :func:`open_input` would open it (for readers that open it themselves)."""
    open_input(path, what, expected).close()
    return Path(path)


def read_input(
    path: str | Path, what: Optional[str] = None, expected: str = "a file", limit: Optional[int] = None
) -> bytes:
    """The bytes of the regular file ``path`` (see :func:`open_input`); with ``limit``, a file
    of more bytes is refused before it is read."""
    label = what or str(path)
    with open_input(path, what, expected) as handle:
        if limit is not None:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise ValueError(f"{label}: {size:,} bytes, more than the {limit:,} this reads")
        try:
            return handle.read()
        except OSError as err:
            raise ValueError(f"{label}: cannot read it ({err.strerror or err})") from None


def decode_utf8(raw: bytes, what: str, nul: bool = True) -> str:
    """``raw`` as UTF-8; ValueError naming ``what`` (a file, ``<stdin>``), the byte offset and
    bytes. With ``nul``, a NUL byte is refused too: text never holds one, binary data and
    UTF-16 do."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = raw[err.start : err.start + 4].hex(" ")
        raise ValueError(f"{what}: not valid UTF-8 at byte offset {err.start} (bytes {bad}: {err.reason})") from None
    if nul and "\0" in text:
        raise ValueError(
            f"{what}: a NUL byte at byte offset {raw.index(0)}; expected UTF-8 text "
            "(this looks like binary data or UTF-16)"
        )
    return text


def read_stdin(limit: int = MAX_STDIN_BYTES) -> str:
    """All of standard input as strict UTF-8 text (:func:`decode_utf8`), at most ``limit``
    bytes; a larger input is refused after ``limit + 1`` bytes are read."""
    stream = sys.stdin
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text stream put in place of stdin (tests, embedding programs)
        text = stream.read(limit + 1)
        raw = text.encode("utf-8", "surrogateescape")
    else:
        raw = buffer.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{STDIN}: more than {limit:,} bytes; give a file instead")
    return decode_utf8(raw, STDIN)


def stdin_lines(limit: int = MAX_STDIN_BYTES) -> list[str]:
    """The lines of standard input (:func:`read_stdin`), line ends removed."""
    return read_stdin(limit).splitlines()


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any) -> Optional[str]:
    """Where a string in ``value`` (or in its lists) holds a lone UTF-16 surrogate, e.g. ``\\ud800 at
    character 3 of item 2``; None when there is none. JSON's ``"\\ud800"`` decodes to one, which
    is not Unicode text: it cannot be encoded, printed or looked up."""
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        return None if found is None else f"\\u{ord(found.group()):04x} at character {found.start() + 1}"
    if isinstance(value, list):
        for index, item in enumerate(value):
            where = lone_surrogate(item)
            if where is not None:
                return f"{where} of item {index + 1}"
    return None
