"""Surnames from outside the data: what a person typing one name into ``rnnkit predict`` gets.

``benchmarks/scripts/names_outside.tsv`` holds 72 real surnames, 4 for each of the 18 languages,
none of them in the tutorial data (checked case-insensitively against every language's
file): the first four of a longer hand-written list per language that the data lacks.
The labels are the list-writer's, so a name also common elsewhere (Pinto) counts as wrong
when answered with another language. For each prior this prints top-1 and top-3 accuracy
and how many of the top-1 errors answered the largest class (Russian).

    python benchmarks/scripts/names_outside.py runs/names [--names benchmarks/scripts/names_outside.tsv]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from runs import run_of

HERE = Path(__file__).parent


def read_names(path: Path) -> list[tuple[str, str]]:
    """(name, language) rows of a 'Name<TAB>Language' file; a bad file is a one-line exit."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SystemExit(f"{path}: cannot read it ({getattr(err, 'strerror', None) or err})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            name, _, language = line.partition("\t")
            if not language:
                raise SystemExit(f"{path}:{number}: expected 'Name<TAB>Language'")
            rows.append((name, language))
    if not rows:
        raise SystemExit(f"{path}: no names in it")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=run_of("names"), help="run directory of `rnnkit train names`")
    parser.add_argument("--names", type=Path, default=HERE / "names_outside.tsv")
    args = parser.parse_args()
    classifier = args.run
    rows = read_names(args.names)
    unknown = sorted({language for _, language in rows} - set(classifier.languages))
    if unknown:
        raise SystemExit(f"{args.names}: languages the run does not know: {', '.join(unknown)}")
    names = [name for name, _ in rows]
    largest = max(zip(classifier.counts, classifier.languages))[1]
    print(f"{len(rows)} names, {len({lang for _, lang in rows})} languages; largest class: {largest}")
    print("| prior | top-1 | top-3 | top-1 errors | of them answered " + largest + " |")
    print("|---|---:|---:|---:|---:|")
    for prior in ("data", "uniform"):
        top = classifier.predict(names, 3, prior)
        right1 = [answer[0][1] == language for answer, (_, language) in zip(top, rows)]
        right3 = [language in {lang for _, lang in answer} for answer, (_, language) in zip(top, rows)]
        wrong = Counter(answer[0][1] for answer, ok in zip(top, right1) if not ok)
        print(
            f"| {prior} | {sum(right1) / len(rows):.3f} ({sum(right1)}) | {sum(right3) / len(rows):.3f} "
            f"({sum(right3)}) | {len(rows) - sum(right1)} | {wrong[largest]} |"
        )


if __name__ == "__main__":
    main()
