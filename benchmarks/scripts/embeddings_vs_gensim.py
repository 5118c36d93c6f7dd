"""rnnkit's skip-gram beside gensim's ``Word2Vec(sg=1)``: the same search budget, the same
CPU time, settings chosen on one half of the test sets and figures quoted from the other.

1. Split: every test set is split once into a tuning half and a report half
   (:func:`rnnkit.metrics.similarity.halves`: seed 353, by pair for WordSim-353 and SimLex-999,
   by question for the Google analogies).
2. Search: each tool trains the same number of settings (``SEARCH``: its defaults, four
   changes of its optimiser knobs, and the same three changes of window, negatives and
   subsampling) for ``--search-budget`` CPU seconds, seed 0; each tool keeps the settings
   with the best mean tuning-half Spearman of WordSim-353 and SimLex-999.
3. Final: the kept settings train for each of ``--budgets`` CPU seconds with each of
   ``--seeds``, the tools interleaved; figures on the report halves only: mean, sd, range,
   and a paired bootstrap over the report pairs of the difference of the seed means. A tool
   is "ahead" only when all its seeds beat all the other's and the bootstrap's 95% interval
   excludes 0.

Budget: CPU seconds of this process (``time.process_time``, all its threads) while
training, one torch thread and gensim ``workers=1``: fair to both when other jobs share the
cores. Reading the corpus, building the vocabulary and scoring are outside it. gensim
trains a fractional number of passes (one ``train()`` over its sentences repeated, the same
linear alpha decay as several epochs) and rnnkit ``--max-steps`` steps (linear learning-rate
decay over them), both counts from that setting's CPU seconds per sentence or step (a short
measurement before its search run, averaged with every later run of it); the seconds used
are reported.
Fixed on both sides: the same whitespace tokens, min count 5, dimension 100, one scorer.

    python benchmarks/scripts/embeddings_vs_gensim.py --data-dir /work/shared/data     # ~17 CPU minutes
    python benchmarks/scripts/embeddings_vs_gensim.py --tokens 200000 --search-budget 1.5 --budgets 1.5,3 \
        --seeds 1,2 --out /tmp/quick.json                                      # a smoke run, ~1 CPU minute
    python benchmarks/scripts/embeddings_vs_gensim.py --table benchmarks/results/embeddings/embeddings_vs_gensim.json  # the tables again
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from rnnkit.metrics import similarity as wordsim
from rnnkit.recipes.embeddings import skipgram as sg

SETS = ("wordsim353", "simlex999", "google")
TOOLS = ("gensim", "rnnkit")
SHARED = [("window 10", {"window": 10}), ("negatives 10", {"negatives": 10}), ("sample 1e-4", {"sample": 1e-4})]
SEARCH = {  # name -> changes from DEFAULTS; the same count per tool
    "gensim": [
        ("defaults", {}),
        ("alpha 0.00625", {"alpha": 0.00625}),
        ("alpha 0.0125", {"alpha": 0.0125}),
        ("alpha 0.05", {"alpha": 0.05}),
        ("alpha 0.1", {"alpha": 0.1}),
        *SHARED,
    ],
    "rnnkit": [
        ("defaults", {}),
        ("lr 0.01", {"lr": 0.01}),
        ("lr 0.04", {"lr": 0.04}),
        ("batch 2048", {"batch_words": 2048}),
        ("batch 8192", {"batch_words": 8192}),
        *SHARED,
    ],
}
# where the search starts: gensim's defaults, and rnnkit's recipe defaults before issue 27 (the
# search then chose 10 negatives, now the recipe's default); every knob is passed explicitly
DEFAULTS = {
    "gensim": {"alpha": 0.025, "window": 5, "negatives": 5, "sample": 1e-3},
    "rnnkit": {"lr": 0.02, "batch_words": 4096, "window": 5, "negatives": 5, "sample": 1e-3},
}


class Sets:
    """The test sets' halves and the scorer."""

    def __init__(self) -> None:
        pairs = {k: wordsim.read_pairs(wordsim.gensim_datapath(v)) for k, v in wordsim.STANDARD_PAIRS.items()}
        questions = wordsim.read_analogies(wordsim.gensim_datapath(wordsim.STANDARD_ANALOGIES["google"]))
        self.halves = {k: wordsim.halves(v) for k, v in pairs.items()}
        self.halves["google"] = wordsim.halves(questions, wordsim.question_key)

    def score(self, vectors: torch.Tensor, words: list[str]) -> tuple[dict, dict, dict]:
        """({set: {half: figure}}, {set: {half: items found}}, {set: report-half items} for the bootstrap)."""
        scores, found, items = {}, {}, {}
        for name, halves in self.halves.items():
            scores[name], found[name] = {}, {}
            for half, chosen in halves.items():
                if name == "google":
                    hits, _ = wordsim.analogy_hits(vectors, words, chosen)
                    value, n, item = (hits.float().mean().item() if len(hits) else None), len(hits), hits
                else:
                    cosine, human, _ = wordsim.pair_cosines(vectors, words, chosen)
                    value, n, item = wordsim.spearman(cosine, human), len(cosine), (cosine, human)
                scores[name][half], found[name][half] = value, n
                if half == "report":
                    items[name] = item
        return scores, found, items


def tuning_score(scores: dict) -> float:
    return (scores["wordsim353"]["tune"] + scores["simlex999"]["tune"]) / 2


def run_gensim(sentences: list, settings: dict, budget: float, seed: int, cost: dict, key: str, args) -> dict:
    from gensim.models import Word2Vec

    model = Word2Vec(
        vector_size=args.dim,
        min_count=args.min_count,
        sg=1,
        workers=1,
        seed=seed,
        alpha=settings["alpha"],
        window=settings["window"],
        negative=settings["negatives"],
        sample=settings["sample"],
    )
    model.build_vocab(sentences)
    if key not in cost:  # CPU seconds per sentence, on a copy
        probe, n = copy.deepcopy(model), min(20, len(sentences))
        start = time.process_time()
        probe.train(sentences[:n], total_examples=n, epochs=1)
        cost[key] = [(time.process_time() - start) / n]
    count = max(1, round(budget / statistics.mean(cost[key])))
    corpus = [sentences[i % len(sentences)] for i in range(count)]
    start, wall = time.process_time(), time.perf_counter()
    effective, _ = model.train(corpus, total_examples=count, epochs=1)
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    cost[key].append(cpu / count)
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "units": count,
        "passes": count / len(sentences),
        "words": effective,
        "vectors": torch.tensor(model.wv.vectors),
        "words_list": list(model.wv.index_to_key),
    }


def run_rnnkit(corpus: str, settings: dict, budget: float, seed: int, cost: dict, key: str, args, tmp: Path) -> dict:
    import rnnkit
    from rnnkit.recipes.embeddings import recipe as embeddings
    from rnnkit.train import checkpoint as ckpt
    from rnnkit.train import config as cfg
    from rnnkit.train import runner

    def train(steps: int) -> tuple[dict, Path]:
        data = {k: settings[k] for k in ("window", "negatives", "sample", "batch_words")}
        sections = cfg.apply(
            embeddings.defaults(),
            {
                "data": dict(data, corpus=corpus, data_dir=args.data_dir, min_count=args.min_count),
                "model": {"method": "skipgram", "dim": args.dim},
                "train": {
                    "lr": settings["lr"],
                    "max_minutes": 0.0,
                    "max_steps": steps,
                    "eval_every": 10**9,
                    "log_every": 10**9,
                    "threads": 1,
                    "seed": seed,
                },
            },
        )
        run_dir = tmp / "run"
        shutil.rmtree(run_dir, ignore_errors=True)
        outcome = runner.train(embeddings.RECIPE, sections, run_dir, progress=False)
        assert outcome.result.status == "finished", outcome.result
        return ckpt.load(run_dir / ckpt.LAST).meta, run_dir

    if key not in cost:  # CPU seconds per step, from a 40-step run
        meta, _ = train(40)
        cost[key] = [meta["callbacks"]["word_rate"]["cpu_seconds"] / 40]
    steps = max(1, round(budget / statistics.mean(cost[key])))
    meta, run_dir = train(steps)
    rate = meta["callbacks"]["word_rate"]
    cost[key].append(rate["cpu_seconds"] / steps)
    counts = torch.tensor(meta["counts"], dtype=torch.float64)
    per_pass = float((counts * sg.keep_probabilities(counts, settings["sample"])).sum())
    model = rnnkit.load(run_dir)
    return {
        "cpu_s": rate["cpu_seconds"],
        "wall_s": rate["seconds"],
        "units": steps,
        "passes": rate["words"] / per_pass,
        "words": rate["words"],
        "vectors": model.vectors,
        "words_list": model.words,
    }


def run(tool: str, name: str, changes: dict, budget: float, seed: int, stage: str, ctx: dict) -> dict:
    settings = dict(DEFAULTS[tool], **changes)
    key = f"{tool}:{name}"
    if tool == "gensim":
        out = run_gensim(ctx["sentences"], settings, budget, seed, ctx["cost"], key, ctx["args"])
    else:
        out = run_rnnkit(ctx["corpus"], settings, budget, seed, ctx["cost"], key, ctx["args"], ctx["tmp"])
    scores, found, items = ctx["sets"].score(out.pop("vectors"), out["words_list"])
    row = {
        "stage": stage,
        "tool": tool,
        "config": name,
        "settings": settings,
        "seed": seed,
        "budget_cpu_s": budget,
        "vocab": len(out.pop("words_list")),
        **out,
        "words_per_cpu_s": out["words"] / max(out["cpu_s"], 1e-9),
        "scores": scores,
        "found": found,
    }
    if stage == "search":
        row["tuning_score"] = tuning_score(scores)
    first = ctx.setdefault("found", found)  # the bootstrap pairs the runs' items by position
    if found != first:
        raise SystemExit(
            f"{tool} {name}: its vocabulary finds other test items ({found}) than the first run's ({first})"
        )
    ctx["items"][(stage, tool, budget, seed)] = items
    figures = " ".join(f"{s} {scores[s]['tune' if stage == 'search' else 'report']:.4f}" for s in SETS)
    print(
        f"{stage} {tool:6} {name:14} seed {seed} budget {budget:g}: {out['cpu_s']:.1f} CPU s "
        f"({out['wall_s']:.1f} wall), {out['passes']:.2f} passes | {figures}",
        flush=True,
    )
    return row


def bootstrap(a: list, b: list, name: str, samples: int = 1000) -> list[float]:
    """95% interval of mean(a's figure) - mean(b's figure) over seeds, report items resampled
    (the same resample for every run: the items are the same pairs or questions)."""
    n = len(a[0][1] if name != "google" else a[0])
    g = torch.Generator().manual_seed(0)
    diffs = []
    for _ in range(samples):
        pick = torch.randint(n, (n,), generator=g)

        def figure(item, pick=pick):
            if name == "google":
                return item[pick].float().mean().item()
            return wordsim.spearman(item[0][pick], item[1][pick])

        diffs.append(statistics.mean(map(figure, a)) - statistics.mean(map(figure, b)))
    diffs.sort()
    return [diffs[int(0.025 * samples)], diffs[int(0.975 * samples) - 1]]


def summarise(rows: list[dict], ctx: dict, budgets: list, seeds: list) -> dict:
    summary = {}
    for budget in budgets:
        per = {}
        for tool in TOOLS:
            mine = [r for r in rows if r["tool"] == tool and r["budget_cpu_s"] == budget]
            per[tool] = {
                "cpu_s_mean": statistics.mean(r["cpu_s"] for r in mine),
                "passes_mean": statistics.mean(r["passes"] for r in mine),
            }
            for name in SETS:
                values = [r["scores"][name]["report"] for r in mine]
                per[tool][name] = {
                    "per_seed": values,
                    "mean": statistics.mean(values),
                    "sd": statistics.stdev(values) if len(values) > 1 else None,
                    "min": min(values),
                    "max": max(values),
                }
        per["comparison"] = {}
        for name in SETS:
            a = [ctx["items"][("final", "rnnkit", budget, s)][name] for s in seeds]
            b = [ctx["items"][("final", "gensim", budget, s)][name] for s in seeds]
            interval = bootstrap(a, b, name)
            ours, theirs = per["rnnkit"][name], per["gensim"][name]
            verdict = "not separated"
            if ours["min"] > theirs["max"] and interval[0] > 0:
                verdict = "rnnkit ahead"
            elif theirs["min"] > ours["max"] and interval[1] < 0:
                verdict = "gensim ahead"
            separate = ours["min"] > theirs["max"] or theirs["min"] > ours["max"]
            per["comparison"][name] = {
                "difference": ours["mean"] - theirs["mean"],
                "bootstrap_95": interval,
                "seeds_separate": separate,
                "verdict": verdict,
            }
        summary[str(budget)] = per
    return summary


def tables(search: list[dict], summary: dict) -> str:
    """The search table and the final table, in markdown."""
    lines = [
        "| tool | config | CPU s | passes | tune WS-353 | tune SL-999 | mean (criterion) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in search:
        ws, sl = r["scores"]["wordsim353"]["tune"], r["scores"]["simlex999"]["tune"]
        lines.append(
            f"| {r['tool']} | {r['config']} | {r['cpu_s']:.1f} | {r['passes']:.2f} | "
            f"{ws:.4f} | {sl:.4f} | {r['tuning_score']:.4f} |"
        )
    lines += [
        "",
        "| budget (CPU s) | tool | CPU s | passes | WS-353 report | SL-999 report | analogies report (%) |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(f, scale=1.0):
        return (
            f"{scale * f['mean']:.4f} ± {scale * (f['sd'] or 0):.4f} [{scale * f['min']:.4f}, {scale * f['max']:.4f}]"
        )

    def compare(c, scale=1.0):
        low, high = (scale * x for x in c["bootstrap_95"])
        return f"{scale * c['difference']:+.4f} [{low:+.4f}, {high:+.4f}] {c['verdict']}"

    for budget, per in summary.items():
        for tool in TOOLS:
            p = per[tool]
            lines.append(
                f"| {float(budget):g} | {tool} | {p['cpu_s_mean']:.1f} | {p['passes_mean']:.2f} | "
                f"{cell(p['wordsim353'])} | {cell(p['simlex999'])} | {cell(p['google'], 100)} |"
            )
        c = per["comparison"]
        lines.append(
            f"| {float(budget):g} | rnnkit - gensim [95% bootstrap] | | | "
            f"{compare(c['wordsim353'])} | {compare(c['simlex999'])} | {compare(c['google'], 100)} |"
        )
    return "\n".join(lines)


def run_machine() -> dict:
    """benchmarks/scripts/machine.py's record plus what this benchmark holds fixed."""
    import gensim

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine

    return {
        **machine(),
        "load_avg_start": os.getloadavg(),
        "torch_threads": 1,
        "gensim_workers": 1,
        "gensim": gensim.__version__,
    }


def prepare_corpus(args, folder: Path) -> tuple[str, list[str]]:
    """(the corpus argument for rnnkit, its training tokens for gensim)."""
    train, valid = sg.corpus_tokens(args.corpus, args.data_dir or None)
    if not args.tokens:
        return args.corpus, train
    train = train[: args.tokens]
    (folder / "train.txt").write_text(" ".join(train) + "\n")
    (folder / "valid.txt").write_text(" ".join(valid[:20_000]) + "\n")
    return str(folder), train


def benchmark(args) -> dict:
    """Search, then the final runs; the JSON artifact."""
    budgets = [float(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    started, cpu_started, info = time.perf_counter(), time.process_time(), run_machine()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, tokens = prepare_corpus(args, Path(tmp))
        ctx = {
            "args": args,
            "corpus": corpus,
            "tmp": Path(tmp),
            "sets": Sets(),
            "cost": {},
            "items": {},
            "sentences": [tokens[i : i + 10_000] for i in range(0, len(tokens), 10_000)],
        }
        search = [
            run(tool, *SEARCH[tool][i], args.search_budget, 0, "search", ctx)
            for i in range(len(SEARCH["gensim"]))
            for tool in TOOLS
        ]
        chosen = {
            tool: max((r for r in search if r["tool"] == tool), key=lambda r: r["tuning_score"]) for tool in TOOLS
        }
        print("chosen:", {t: r["config"] for t, r in chosen.items()}, flush=True)
        final = []
        for budget in budgets:
            for seed in seeds:  # interleaved, the order alternating with the seed
                for tool in TOOLS if seed % 2 else TOOLS[::-1]:
                    name = chosen[tool]["config"]
                    final.append(run(tool, name, dict(SEARCH[tool])[name], budget, seed, "final", ctx))
        summary = summarise(final, ctx, budgets, seeds)
    info["load_avg_end"] = os.getloadavg()
    halves, found = ctx["sets"].halves, search[0]["found"]
    return {
        "protocol": __doc__,
        "machine": info,
        "corpus": {
            "name": args.corpus,
            "tokens": len(tokens),
            "min_count": args.min_count,
            "dim": args.dim,
            "vocab": search[0]["vocab"],
        },
        "split": {
            "seed": wordsim.SPLIT_SEED,
            "sets": {
                n: {h: {"items": len(halves[n][h]), "found_in_vocab": found[n][h]} for h in wordsim.HALVES}
                for n in SETS
            },
        },
        "search": {
            "budget_cpu_s": args.search_budget,
            "seed": 0,
            "configs_per_tool": len(SEARCH["gensim"]),
            "criterion": "mean of WordSim-353 and SimLex-999 tuning-half Spearman",
            "rows": search,
        },
        "chosen": {t: {"config": r["config"], "settings": r["settings"]} for t, r in chosen.items()},
        "final": {"budgets_cpu_s": budgets, "seeds": seeds, "rows": final, "summary": summary},
        "benchmark_wall_s": time.perf_counter() - started,
        "benchmark_cpu_s": time.process_time() - cpu_started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="wikitext-2")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--tokens", type=int, default=0, help="only the first N training tokens (0 = all)")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--search-budget", type=float, default=23.0, help="CPU seconds of each search run")
    parser.add_argument("--budgets", default="23,50", help="CPU seconds of the final runs")
    parser.add_argument("--seeds", default="1,2,3", help="seeds of the final runs (the search uses 0)")
    parser.add_argument("--out", default="benchmarks/results/embeddings/embeddings_vs_gensim.json")
    parser.add_argument("--table", metavar="JSON", help="only print the tables of a written JSON file")
    args = parser.parse_args()
    if args.table:
        result = json.loads(Path(args.table).read_text())
        print(tables(result["search"]["rows"], result["final"]["summary"]))
        return
    torch.set_num_threads(1)
    result = benchmark(args)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(tables(result["search"]["rows"], result["final"]["summary"]))
    print(f"wrote {args.out}: {result['benchmark_cpu_s']:.0f} CPU s, {result['benchmark_wall_s']:.0f} s wall")


if __name__ == "__main__":
    main()
