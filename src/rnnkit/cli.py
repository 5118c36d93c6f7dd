"""Command-line entry point.

``rnnkit train TASK``, ``rnnkit sample CKPT``, ``rnnkit eval CKPT``,
``rnnkit plot RUN_DIR`` and ``rnnkit bench layers``. The CLI parses and
dispatches; the work happens in the library.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
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


def _add_bench(sub) -> None:
    from rnnkit.bench.layers import LAYERS, SIZES
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
    charlm = bench_sub.add_parser(
        "charlm", help="charlm training step: rnnkit vs a plain torch.nn.LSTM loop (tokens/s)")
    charlm.add_argument("--threads", type=_positive_int, default=2, help="torch threads (default 2)")
    charlm.add_argument("--preset", default="cpu-quick", help="model/batch sizes of this preset")
    charlm.add_argument("--pairs", type=_positive_int, default=40,
                        help="timed step pairs (one rnnkit step, one torch step)")
    charlm.add_argument("--warmup", type=_positive_int, default=3, help="untimed pairs first")
    charlm.add_argument("--json", dest="json_path", default=None, help="write results here")


def _add_train(sub) -> None:
    from rnnkit.tasks import REGISTRY, runner, task_module
    from rnnkit.train import config as cfg
    train = sub.add_parser("train", help="train a recipe (e.g. rnnkit train charlm)")
    tasks = train.add_subparsers(dest="task", required=True)
    for name in REGISTRY:
        module = task_module(name)
        parser = tasks.add_parser(name, help=(module.__doc__ or "").splitlines()[0],
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        on_cpu = module.default_preset("cpu")
        gpu_note = ", gpu-full on a GPU" if "gpu-full" in module.PRESETS else ""
        parser.add_argument("--preset", choices=list(module.PRESETS), default=argparse.SUPPRESS,
                            help=f"starting configuration (default: {on_cpu} on CPU{gpu_note}); "
                                 "the option defaults below are the CPU preset's")
        parser.add_argument("--run-dir", default=None, help="run directory (default runs/<task>-<time>)")
        parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                            help="continue the run in RUN_DIR from its last checkpoint "
                                 "(or from a checkpoint file inside a run directory)")
        parser.add_argument("--overwrite", action="store_true",
                            help="start again in an existing --run-dir, deleting it")
        parser.add_argument("--quiet", action="store_true", help="no progress output")
        shown = runner.resolve_sections(module.defaults(), module.PRESETS, on_cpu, {})
        cfg.add_arguments(parser, shown, getattr(module, "HELP", {}))


def _add_use(sub) -> None:
    sample = sub.add_parser("sample", help="generate from a trained model (streams as it goes)")
    sample.add_argument("checkpoint", help="checkpoint file or run directory (its best checkpoint)")
    sample.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    sample.add_argument("--length", type=int, default=None,
                        help="tokens to generate (characters for charlm; default 1000)")
    sample.add_argument("--words", type=int, default=None, help="words to generate (wordlm; default 50)")
    sample.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    sample.add_argument("--top-k", type=int, default=0, help="keep the k most likely (0 = off)")
    sample.add_argument("--top-p", type=float, default=1.0, help="nucleus mass (1 = off)")
    sample.add_argument("--seed", type=int, default=None, help="seed for repeatable samples")
    sample.add_argument("--skip-unknown", action="store_true",
                        help="drop prime characters the model does not know")
    sample.add_argument("--category", default=None, help="language to generate names in (names-gen)")
    sample.add_argument("--start", default=None,
                        help="one name per start letter, e.g. RUS (names-gen)")
    sample.add_argument("--n", type=_positive_int, default=None,
                        help="names to sample (names-gen; per start letter with --start)")
    sample.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    predict = sub.add_parser("predict", help="top languages of names (names classifier)")
    predict.add_argument("checkpoint", help="checkpoint file or run directory (its best checkpoint)")
    predict.add_argument("names", nargs="*", help="names to classify (default: one per line on stdin)")
    predict.add_argument("--top", type=_positive_int, default=3, help="languages per name")
    predict.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    evaluate = sub.add_parser("eval", help="loss of a trained model on a text")
    evaluate.add_argument("checkpoint", help="checkpoint file or run directory (its best checkpoint)")
    evaluate.add_argument("--text", default=None, help="UTF-8 text file to score (charlm)")
    evaluate.add_argument("--split", default=None, choices=("train", "valid", "test"),
                          help="split of the run's data to score (wordlm: test uses batch 1; names)")
    evaluate.add_argument("--data-dir", default=None, help="data directory (wordlm)")
    evaluate.add_argument("--skip-unknown", action="store_true",
                          help="drop characters the model does not know instead of failing")
    evaluate.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    evaluate.add_argument("--json", action="store_true", help="print the result as JSON")
    plot = sub.add_parser("plot", help="draw a run's train/validation curves to PNG")
    plot.add_argument("run_dir", help="run directory")
    plot.add_argument("--out", default=None, help="PNG path (default RUN_DIR/curves.png)")


def build_parser() -> argparse.ArgumentParser:
    """The ``rnnkit`` argument parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="rnnkit", description="rnnkit command-line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_use(sub)
    _add_bench(sub)
    return parser


def _train(args) -> int:
    from rnnkit.tasks import runner, task_module
    from rnnkit.train import config as cfg
    module = task_module(args.task)
    overrides = cfg.overrides_from_args(args)
    for key in ("text", "data_dir"):  # absolute, so --resume and eval work from anywhere
        if overrides.get("data", {}).get(key):
            overrides["data"][key] = str(Path(overrides["data"][key]).resolve())
    chosen_preset = getattr(args, "preset", None)  # the flag is absent from args unless given
    if args.resume:
        changed = sorted(f"--{k.replace('_', '-')}" for s, d in overrides.items() if s != "train" for k in d)
        changed += [flag for flag, given in (("--preset", chosen_preset), ("--run-dir", args.run_dir),
                                             ("--overwrite", args.overwrite)) if given]
        if changed:
            raise ValueError(f"--resume continues the run as it was; cannot combine it with "
                             f"{', '.join(changed)} (only training options may change)")
        outcome = runner.resume(module.TASK, module.defaults(), module.build, args.resume,
                                overrides.get("train", {}), progress=not args.quiet)
    else:
        device = overrides.get("train", {}).get("device", "auto")
        preset = chosen_preset or module.default_preset(device)
        sections = runner.resolve_sections(module.defaults(), module.PRESETS, preset, overrides)
        outcome = runner.train(module.TASK, sections, module.build, args.run_dir,
                               overwrite=args.overwrite, progress=not args.quiet, preset=preset)
    result = outcome.result
    if result.status == "finished" and hasattr(module, "report"):
        print(module.report(outcome.run_dir))
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result.last_eval.items())
    print(f"{result.status}: {result.message}; step {result.step}; "
          f"best val loss {result.best_loss:.4f}" + (f"; last eval {shown}" if shown else ""))
    print(f"run directory: {outcome.run_dir}")
    if result.status == "interrupted":
        print(f"resume with: rnnkit train {args.task} --resume {outcome.run_dir}")
        return 130
    return 1 if result.status == "diverged" else 0


def _sample(args) -> int:
    import rnnkit
    model = rnnkit.load(args.checkpoint, device=args.device)
    if hasattr(model, "sample_names"):
        if args.category is None:
            raise ValueError(f"--category is required; expected one of {', '.join(model.languages)}")
        names = model.sample_names(args.category, start=args.start or "", n=args.n or 1,
                                   temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                                   seed=args.seed)
        print("\n".join(names))
        return 0
    ignored = [flag for flag, value in (("--category", args.category), ("--start", args.start),
                                        ("--n", args.n)) if value is not None]
    if ignored:
        raise ValueError(f"{', '.join(ignored)}: only for names-gen checkpoints")
    words = hasattr(model, "evaluate_split")
    length = args.words if args.words is not None else args.length
    if length is None:
        length = 50 if words else 1000
    if length < 0:
        raise ValueError(f"--length/--words: expected >= 0, got {length}")
    if words and args.prime == "\n":
        args.prime = ""
    chars = model.iter_sample(args.prime, length, temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                              skip_unknown=args.skip_unknown)
    first = next(chars, "")  # a bad prime fails here, before anything is printed
    out = sys.stdout
    out.write(args.prime + first)
    for char in chars:
        out.write(char)
        out.flush()
    out.write("\n")
    return 0


def _predict(args) -> int:
    import rnnkit
    from rnnkit.tasks.names import format_predictions
    model = rnnkit.load(args.checkpoint, device=args.device)
    if not hasattr(model, "predict"):
        raise ValueError(f"{args.checkpoint}: predict needs a names classifier checkpoint")
    names = args.names or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not names:
        raise ValueError("no names given (as arguments or one per line on stdin)")
    print(format_predictions(names, model.predict(names, args.top)))
    return 0


def _eval(args) -> int:
    import rnnkit
    from rnnkit.data import read_text
    model = rnnkit.load(args.checkpoint, device=args.device)
    if hasattr(model, "evaluate_names"):
        result = model.evaluate_names(args.split or "test", data_dir=args.data_dir)
        print(json.dumps(result) if args.json else model.describe(result))
        return 0
    if hasattr(model, "evaluate_split"):
        if args.text is not None:
            raise ValueError("--text is for character models; a word model scores --split")
        result = model.evaluate_split(args.split or "test", data_dir=args.data_dir)
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{args.split or 'test'}: perplexity {result['ppl']:.2f} (loss {result['loss']:.4f} "
                  f"nats/word) over {result['tokens']:,} tokens, batch {result['batch_size']}; "
                  f"{result['unseen']:,} unseen words counted as <unk>")
        return 0
    if args.text is None:
        raise ValueError("--text PATH is required for a character model")
    result = model.evaluate(read_text(args.text), skip_unknown=args.skip_unknown, what=args.text)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.text}: {result['loss']:.4f} nats/char, {result['bpc']:.4f} bits/char "
              f"over {result['chars']:,} characters")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and dispatch; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "bench" and args.bench == "layers":
            from rnnkit.bench.layers import run
            run(sizes=args.sizes, layers=args.layers, threads=args.threads,
                repeats=args.repeats, quick=args.quick, json_path=args.json_path)
        elif args.command == "bench" and args.bench == "charlm":
            from rnnkit.bench.charlm import run as run_charlm
            run_charlm(preset=args.preset, threads=args.threads, pairs=args.pairs,
                       warmup=args.warmup, json_path=args.json_path)
        elif args.command == "train":
            return _train(args)
        elif args.command == "sample":
            return _sample(args)
        elif args.command == "eval":
            return _eval(args)
        elif args.command == "predict":
            return _predict(args)
        elif args.command == "plot":
            from rnnkit.train.plots import plot_run
            print(plot_run(args.run_dir, args.out))
    except KeyboardInterrupt:
        print(f"rnnkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except ValueError as err:
        if args.command == "bench":
            parser.error(str(err))
        print(f"rnnkit {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
