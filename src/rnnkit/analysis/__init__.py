"""Looking inside recurrent networks: ``rnnkit analyze ...``.

Each analysis is one module here that defines ``add_parser(sub)`` (its
``rnnkit analyze NAME`` options) and ``run(args) -> int``; :data:`ANALYSES`
lists them. The modules' library functions take models and tensors; only
``run`` reads checkpoints and writes files.
"""

from __future__ import annotations

import argparse
from importlib import import_module

#: analysis name -> module under rnnkit.analysis
ANALYSES = {"gradients": "gradients", "gates": "gates"}


def _module(name: str):
    return import_module(f"rnnkit.analysis.{ANALYSES[name]}")


def add_parsers(sub) -> None:
    """``rnnkit analyze NAME`` for every analysis, under the CLI's subparsers ``sub``."""
    analyze = sub.add_parser("analyze", help="look inside networks: gradient flow, gates and units")
    names = analyze.add_subparsers(dest="analysis", required=True)
    for name in ANALYSES:
        _module(name).add_parser(names)


def run(args: argparse.Namespace) -> int:
    """Run the analysis named by parsed ``args``."""
    return _module(args.analysis).run(args)
