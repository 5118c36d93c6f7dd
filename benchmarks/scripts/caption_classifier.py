"""The recognition reference of fashion-scenes: a plain CNN classifier of the captioner's size, trained
on the same scenes for the same time, naming the article in each quadrant (or "empty").

    python benchmarks/scripts/caption_classifier.py --minutes 12 --out benchmarks/results/caption/classifier.json

The classifier is the captioning run's encoder (:class:`rnnkit.families.vision.ResidualGridEncoder`,
width 32: an 8x8 grid of 128 channels for a 64x64 canvas) with, for each quadrant, the mean of its
4x4 block of regions and one linear layer to 11 classes (10 articles + empty), trained with Adam
(lr 2e-3, the captioner's), a cosine schedule over the time budget and batches of 64 scenes.
Validation scenes pick the best of the checkpoints taken each 500 steps; the test scenes are read
once, at the end. Per-article accuracy: the share of the test scenes' articles whose quadrant gets
their class, the figure the captions are compared with (``truth.article_accuracy``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.families.vision import ResidualGridEncoder
from rnnkit.recipes.caption import fashion
from rnnkit.recipes.caption.data import CaptionConfig, load_split

EMPTY = 10


class QuadrantClassifier(nn.Module):
    """Canvases (N, 3, 64, 64) uint8 -> logits (N, 4, 11): one class per quadrant, row-major."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.encoder = ResidualGridEncoder(width=width)
        self.head = nn.Linear(self.encoder.channels, EMPTY + 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grid = self.encoder(self.encoder.normalise(images))  # (N, R, C)
        side = math.isqrt(grid.shape[1])
        blocks = grid.view(len(grid), 2, side // 2, 2, side // 2, -1).mean(dim=(2, 4))  # (N, 2, 2, C)
        return self.head(blocks.flatten(1, 2))


def labels_of(scenes, names) -> torch.Tensor:
    """(N, 4) the class of each quadrant's article, EMPTY where there is none."""
    out = torch.full((len(scenes), 4), EMPTY, dtype=torch.long)
    for row, scene in enumerate(scenes):
        for thing in scene.things:
            out[row, thing.cell] = names.index(thing.kind)
    return out


def article_accuracy(model, images, labels) -> float:
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(images[i : i + 500]).argmax(-1) for i in range(0, len(images), 500)])
    model.train()
    real = labels != EMPTY
    return float((predicted[real] == labels[real]).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--articles", default="fashion", choices=("fashion", "mnist"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    config = CaptionConfig(dataset="fashion-scenes", articles=args.articles)
    names = list(fashion.CLASSES if args.articles == "fashion" else fashion.DIGITS)
    splits = {name: load_split(config, name) for name in ("train", "valid", "test")}
    labels = {name: labels_of(split.scenes, names) for name, split in splits.items()}
    model = QuadrantClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(args.seed)
    budget, started, step = 60 * args.minutes, time.perf_counter(), 0
    best, best_state, order = -1.0, None, torch.randperm(len(splits["train"]), generator=generator)
    while (elapsed := time.perf_counter() - started) < budget:
        for group in optimizer.param_groups:
            group["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * elapsed / budget))
        start = (step * 64) % len(order)
        if start + 64 > len(order):
            order, start = torch.randperm(len(splits["train"]), generator=generator), 0
        rows = order[start : start + 64]
        logits = model(splits["train"].images[rows])
        loss = F.cross_entropy(logits.flatten(0, 1), labels["train"][rows].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 500 == 0:
            valid = article_accuracy(model, splits["valid"].images, labels["valid"])
            print(f"step {step} loss {float(loss):.4f} valid article accuracy {valid:.4f}", flush=True)
            if valid > best:
                best, best_state = valid, copy.deepcopy(model.state_dict())
    valid = article_accuracy(model, splits["valid"].images, labels["valid"])
    if valid > best:
        best, best_state = valid, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    test = article_accuracy(model, splits["test"].images, labels["test"])
    result = {
        "command": f"python benchmarks/scripts/caption_classifier.py --minutes {args.minutes:g} --articles "
        f"{args.articles} --seed {args.seed} --out {args.out}",
        "articles": args.articles,
        "minutes": args.minutes,
        "steps": step,
        "train_scenes": len(splits["train"]),
        "valid_article_accuracy": best,
        "test_article_accuracy": test,
        "test_articles": int((labels["test"] != EMPTY).sum()),
        "parameters": sum(p.numel() for p in model.parameters()),
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
