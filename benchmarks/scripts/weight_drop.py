"""Does weight-drop keep an rnnkit LSTM on the fused fast path?

Times forward+backward of a 2-layer LSTM (AWD-like sizes scaled down) in
training mode, interleaved, median of repeats:

* ``plain``: ``rnnkit.nn.LSTM`` without weight-drop (torch's fused kernel);
* ``weight_drop``: the same layer with ``weight_dropout=0.5`` (one DropConnect
  mask per call, then the same fused kernel);
* ``torch``: ``torch.nn.LSTM`` for reference.

Usage: ``python benchmarks/scripts/weight_drop.py [--threads 2] [--repeats 30]``.
A ratio weight_drop/plain near 1.0 means the dropout costs only the mask.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnkit.nn import LSTM


def fwd_bwd(layer, x) -> float:
    start = time.perf_counter()
    out, _ = layer(x)
    out.sum().backward()
    for p in layer.parameters():
        p.grad = None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(20, 70, args.hidden)  # batch 20, bptt 70 as in AWD-LSTM's PTB setting
    layers = {
        "plain": LSTM(args.hidden, args.hidden, 2, batch_first=True),
        "weight_drop": LSTM(args.hidden, args.hidden, 2, batch_first=True, weight_dropout=0.5),
        "torch": torch.nn.LSTM(args.hidden, args.hidden, 2, batch_first=True),
    }
    state = layers["plain"].state_dict()
    for layer in layers.values():
        layer.load_state_dict(state)
        layer.train()
    times = {name: [] for name in layers}
    for _ in range(3):
        for layer in layers.values():
            fwd_bwd(layer, x)
    for index in range(args.repeats):
        names = list(layers)
        names = names[index % 3 :] + names[: index % 3]  # rotate who goes first
        for name in names:
            times[name].append(fwd_bwd(layers[name], x))
    median = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    print(
        f"2-layer LSTM {args.hidden}x{args.hidden}, batch 20, seq 70, fwd+bwd, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    for name, ms in median.items():
        print(f"  {name:12s} {ms:8.2f} ms")
    print(
        f"  ratio weight_drop/plain = {median['weight_drop'] / median['plain']:.3f}; "
        f"plain/torch = {median['plain'] / median['torch']:.3f}"
    )


if __name__ == "__main__":
    main()
