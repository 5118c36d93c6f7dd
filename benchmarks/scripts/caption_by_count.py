"""Truth scores of saved shapes captions by the number of objects in the scene: where the captions go
wrong (an object named twice, one left out), recomputed from an ``eval_*_beam*.txt`` file.

    python benchmarks/scripts/caption_by_count.py benchmarks/results/caption/shapes_default_eval_test_beam5.txt \\
        --split test --out benchmarks/results/caption/shapes_default_by_count_test_beam5.json

The scenes are generated again from the split and ``--data-seed`` (the run's, 0 by default), so the
figures follow from the captions file alone; ``by_count`` is :func:`rnnkit.recipes.caption.truth.truth_scores`'s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.files import atomic_write_text
from rnnkit.recipes.caption import shapes
from rnnkit.recipes.caption.truth import truth_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("captions", type=Path, help="an eval_<split>_beam<K>.txt of a shapes run (id TAB caption)")
    parser.add_argument("--split", default="test", choices=("valid", "test", "compositional"))
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--out", type=Path, help="write the scores here as JSON (default: print them)")
    args = parser.parse_args()
    captions = []
    for number, line in enumerate(args.captions.read_text().splitlines(), start=1):
        if "\t" not in line:
            parser.error(f"{args.captions}, line {number}: expected 'id<TAB>caption' (an eval_*_beam*.txt)")
        captions.append(line.split("\t", 1)[1])
    _, scenes, _ = shapes.generate(args.split, len(captions), args.data_seed, args.image_size)
    scores = truth_scores(captions, scenes, shapes.SHAPES)
    result = {"captions_file": args.captions.name, "split": args.split, "data_seed": args.data_seed, **scores}
    text = json.dumps(result, indent=1) + "\n"
    if args.out:
        atomic_write_text(args.out, text)
    print(text, end="")


if __name__ == "__main__":
    main()
