"""Benchmarks for rnnkit (``rnnkit bench ...``): their command-line options and dispatch."""

from __future__ import annotations

import argparse
from typing import Sequence

from rnnkit.train.config import positive_int


def _list_type(allowed: Sequence[str], what: str):
    """argparse type turning ``"a,b"`` into a validated list, with a clear error."""

    def parse(text: str) -> list[str]:
        from rnnkit.bench.layers import parse_list

        try:
            return parse_list(text, allowed, what)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def add_parsers(sub) -> None:
    """``rnnkit bench layers`` and ``rnnkit bench charlm`` under the CLI's subparsers ``sub``."""
    from rnnkit.bench.layers import LAYERS, SIZES

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    layers = bench_sub.add_parser("layers", help="time rnnkit LSTM/GRU/RNN against torch.nn (interleaved, median)")
    layers.add_argument("--threads", type=positive_int, default=2, help="torch threads (default 2)")
    layers.add_argument("--quick", action="store_true", help="only sizes c,d with fewer repeats (under ~30 s)")
    layers.add_argument(
        "--sizes",
        type=_list_type(tuple(SIZES), "size"),
        default=None,
        help="comma list of sizes from " + ",".join(SIZES),
    )
    layers.add_argument(
        "--layers", type=_list_type(LAYERS, "layer"), default=None, help="comma list from " + ",".join(LAYERS)
    )
    layers.add_argument(
        "--repeats", type=positive_int, default=None, help="timed repetitions per size (default: per-size)"
    )
    layers.add_argument(
        "--json", dest="json_path", default=None, help="write raw measurements (list of dicts) to this path"
    )
    layers.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="bf16: rnnkit (and torch-bf16) under bf16 autocast against float32 torch.nn (default fp32)",
    )
    charlm = bench_sub.add_parser(
        "charlm", help="charlm training step: rnnkit vs a plain torch.nn.LSTM loop (tokens/s)"
    )
    charlm.add_argument("--threads", type=positive_int, default=2, help="torch threads (default 2)")
    charlm.add_argument("--preset", default="cpu-quick", help="model/batch sizes of this preset")
    charlm.add_argument(
        "--pairs", type=positive_int, default=40, help="timed step pairs (one rnnkit step, one torch step)"
    )
    charlm.add_argument("--warmup", type=positive_int, default=3, help="untimed pairs first")
    charlm.add_argument("--json", dest="json_path", default=None, help="write results here")


def run(args: argparse.Namespace) -> None:
    """Run the benchmark named by parsed ``args``."""
    if args.bench == "layers":
        from rnnkit.bench.layers import run as run_layers

        run_layers(
            sizes=args.sizes,
            layers=args.layers,
            threads=args.threads,
            repeats=args.repeats,
            quick=args.quick,
            json_path=args.json_path,
            precision=args.precision,
        )
    else:
        from rnnkit.bench.charlm import run as run_charlm

        run_charlm(
            preset=args.preset, threads=args.threads, pairs=args.pairs, warmup=args.warmup, json_path=args.json_path
        )
