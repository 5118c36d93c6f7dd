"""Command-line entry point: ``rnnkit bench layers [...]``."""
from __future__ import annotations

import argparse
from typing import Optional, Sequence


def _list_type(allowed: Sequence[str], what: str):
    """argparse type turning ``"a,b"`` into a validated list, with a clear error."""
    def parse(text: str) -> list[str]:
        from rnnkit.bench.layers import parse_list
        try:
            return parse_list(text, allowed, what)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``rnnkit`` argument parser with its subcommands."""
    from rnnkit.bench.layers import LAYERS, SIZES
    parser = argparse.ArgumentParser(prog="rnnkit", description="rnnkit command-line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    layers = bench_sub.add_parser(
        "layers", help="time rnnkit LSTM/GRU/RNN against torch.nn (interleaved, median)")
    layers.add_argument("--threads", type=_positive_int, default=2, help="torch threads (default 2)")
    layers.add_argument("--quick", action="store_true",
                        help="only sizes c,d with fewer repeats (under ~30 s)")
    layers.add_argument("--sizes", type=_list_type(tuple(SIZES), "size"), default=None,
                        help="comma list of sizes from " + ",".join(SIZES))
    layers.add_argument("--layers", type=_list_type(LAYERS, "layer"), default=None,
                        help="comma list from " + ",".join(LAYERS))
    layers.add_argument("--repeats", type=_positive_int, default=None,
                        help="timed repetitions per size (default: per-size)")
    layers.add_argument("--json", dest="json_path", default=None,
                        help="write raw measurements (list of dicts) to this path")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and dispatch; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "bench" and args.bench == "layers":
        from rnnkit.bench.layers import run
        try:
            run(sizes=args.sizes, layers=args.layers, threads=args.threads,
                repeats=args.repeats, quick=args.quick, json_path=args.json_path)
        except ValueError as err:
            parser.error(str(err))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
