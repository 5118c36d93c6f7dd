"""``rnnkit data list`` and ``rnnkit data get NAME``: the data sets, and getting them.

``rnnkit data list [--data-dir DIR] [--json]`` shows each data set of
:data:`rnnkit.data.catalog.CATALOG`: whether its files are in the data folder with their
sizes and sha256 (present, missing, incomplete or corrupt, naming the file), its size,
licence and source page; ``--json`` adds everything, each file's URL and checksum included.

``rnnkit data get NAME [NAME ...] [--data-dir DIR] [--force] [--mirror URL]`` (``all`` for
every one) downloads the missing files from their canonical sources and checks them
(:mod:`rnnkit.data.fetch`); ``--mirror`` (default ``$RNNKIT_DATA_MIRROR``) fetches
``URL/<host>/<path>`` instead. The data folder is ``--data-dir`` (or ``--dir``), else
``$RNNKIT_DATA``, else ``../shared/data``, as for training. Errors are one line, exit status 2.

The CLI adds the command with :func:`add_parser` and runs it with :func:`run`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import urllib.parse

from . import catalog
from .catalog import Dataset, Status, fetch_hint, human_size, status
from .corpus import data_dir
from .fetch import MIRROR_ENV, FetchError, get

__all__ = ["add_parser", "fetch_hint", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """``rnnkit data {list,get}`` on the CLI's subparsers; returns the ``data`` parser."""
    data = sub.add_parser(
        "data",
        help="the data sets: list them (present? licence, source) and download them",
        description=__doc__.split("\n\n")[0].replace("``", ""),
    )
    verbs = data.add_subparsers(dest="data_command", required=True, metavar="{list,get}")
    listing = verbs.add_parser(
        "list",
        help="each data set: present or not, size, licence, source",
        description="each data set: present or not (sizes and sha256 checked), size, licence, source",
    )
    _data_dir_option(listing)
    listing.add_argument("--json", action="store_true", help="everything as JSON, each file's URL and sha256 too")
    fetch = verbs.add_parser(
        "get",
        help="download data sets from their sources and check their sha256",
        description="download data sets from their sources and check their sizes and "
        "sha256 before they take their names; files already there are kept",
    )
    fetch.add_argument("names", nargs="+", metavar="NAME", help="data set names (rnnkit data list), or all")
    _data_dir_option(fetch)
    fetch.add_argument(
        "--force", action="store_true", help="replace a file that is there with other content (default: an error)"
    )
    fetch.add_argument(
        "--mirror",
        metavar="URL",
        default=None,
        help=f"fetch each file from URL/<host>/<path> instead (the layout wget -x makes; "
        f"file:///folder works; default ${MIRROR_ENV})",
    )
    fetch.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="give up on a connection silent this long (default 30)",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return data


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        "--dir",
        dest="data_dir",
        metavar="DIR",
        default=None,
        help="the folder holding the data sets' folders (default $RNNKIT_DATA, else ../shared/data)",
    )


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``rnnkit data list`` or ``rnnkit data get``; the exit status (2: an error, printed
    as one line on stderr)."""
    try:
        return _list(args) if args.data_command == "list" else _get(args)
    except BrokenPipeError:  # rnnkit data list | head: the CLI's main knows what to do
        raise
    except (ValueError, OSError) as err:  # FetchError, WriteError, an unreadable data folder
        print(f"rnnkit data: error: {err}", file=sys.stderr)
        return 2


def _list(args: argparse.Namespace) -> int:
    root = data_dir(args.data_dir)
    rows = [(entry, status(entry, root)) for entry in catalog.CATALOG.values()]
    if args.json:
        print(json.dumps({"data_dir": str(root), "datasets": [_as_json(e, s) for e, s in rows]}, indent=2))
        return 0
    print(table(rows))
    print(
        f"\ndata folder: {root} (--data-dir, else $RNNKIT_DATA, else ../shared/data); "
        f"download one with: {fetch_hint('NAME')}"
    )
    return 0


def table(rows: list[tuple[Dataset, Status]]) -> str:
    """The text table of ``rnnkit data list``: name, state, size, licence, source; under a
    data set that is incomplete or corrupt, each file that is not right and why."""
    cells = [("name", "state", "size", "licence", "source")]
    cells += [(e.name, s.state, human_size(e.size), e.licence, e.source) for e, s in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    lines = []
    for number, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
        if number:
            lines += [f"    {path}: {problem}" for path, problem in rows[number - 1][1].problems.items()]
    return "\n".join(line.rstrip() for line in lines)


def _as_json(entry: Dataset, found: Status) -> dict:
    return {
        **dataclasses.asdict(entry),
        "size": entry.size,
        "state": found.state,
        "problems": found.problems,
        "get": fetch_hint(entry.name),
    }


def _get(args: argparse.Namespace) -> int:
    root = data_dir(args.data_dir)
    unknown = [name for name in args.names if name not in catalog.CATALOG and name != "all"]
    if unknown:
        raise FetchError(
            f"unknown data set{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; "
            f"expected one of: {', '.join(catalog.CATALOG)} (or all)"
        )
    names = list(catalog.CATALOG) if "all" in args.names else list(dict.fromkeys(args.names))
    mirror = args.mirror or os.environ.get(MIRROR_ENV) or None
    if mirror and urllib.parse.urlsplit(mirror).scheme not in ("http", "https", "file"):
        given = "--mirror" if args.mirror else f"${MIRROR_ENV}"
        raise FetchError(f"{given} {mirror}: expected an http://, https:// or file:// address")
    for name in names:
        entry = catalog.CATALOG[name]
        outcome = get(
            entry,
            root,
            force=args.force,
            mirror=mirror,
            timeout=args.timeout,
            progress=None if args.quiet else sys.stderr,
        )
        fetched = sum(state == "fetched" for state in outcome.values())
        print(
            f"{name}: {fetched} file{'s' * (fetched != 1)} downloaded and checked, "
            f"{len(outcome) - fetched} already there, in {root / entry.folder}"
        )
    return 0
