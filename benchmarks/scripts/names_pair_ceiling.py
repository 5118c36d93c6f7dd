"""The highest per-pair balanced accuracy any classifier could reach on the names test split.

A name listed under several languages gets one answer, so at most one of its pairs can be
right. Balanced accuracy is (1/C) sum_c right_c / n_c, a sum over names of 1/n_c for the
answered language when it is one of the name's: each name's best answer is its language
with the fewest test pairs, which makes the bound exact.

    python benchmarks/scripts/names_pair_ceiling.py
"""

from __future__ import annotations

from collections import Counter, defaultdict

from rnnkit.data.names_split import NamesDataConfig, load_split


def main() -> None:
    names, _, parts = load_split(NamesDataConfig())
    test = parts["test"]
    per_class = Counter(label for _, label in test)
    labels: dict[str, Counter] = defaultdict(Counter)
    for name, label in test:
        labels[name][label] += 1
    best = sum(max(count / per_class[lab] for lab, count in c.items()) for c in labels.values())
    multi = sum(1 for c in labels.values() if len(c) > 1)
    print(f"test: {len(test):,} pairs, {len(labels):,} distinct names, {multi} under more than one language")
    print(f"per-pair balanced accuracy ceiling: {best / len(per_class):.4f}")
    for lab in sorted(per_class, key=per_class.get):
        lost = sum(c[lab] for c in labels.values() if len(c) > 1 and max(c, key=lambda x: c[x] / per_class[x]) != lab)
        print(
            f"  {names.languages[lab]:<11} {per_class[lab]:>4} test pairs, recall ceiling "
            f"{1 - lost / per_class[lab]:.3f}"
        )


if __name__ == "__main__":
    main()
