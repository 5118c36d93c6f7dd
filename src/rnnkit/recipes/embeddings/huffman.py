"""The Huffman tree of hierarchical softmax (Morin & Bengio 2005; Mikolov et al. 2013).

Words are leaves of a binary Huffman tree built from their counts, so frequent
words have short paths. A word's probability is the product, along its path, of
``sigmoid(+/- u_node . v)``; the V - 1 inner nodes each own an output vector.
"""

from __future__ import annotations

import heapq

import torch
from torch import Tensor


def huffman_paths(counts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(nodes (V, L), codes (V, L), mask (V, L)) for a vocabulary of V >= 2 word counts.

    Row w lists the inner nodes (ids 0..V-2, the root is V-2) from the root down to
    word w, the branch taken at each (1. or 0., float) and which of the L slots are
    used (L = the longest path). Ties in the counts break by id, so the tree is
    deterministic.
    """
    size = len(counts)
    if size < 2:
        raise ValueError(f"hierarchical softmax: needs at least 2 words, got {size}")
    heap = [(float(c), i) for i, c in enumerate(counts.tolist())]
    heapq.heapify(heap)
    parent, branch = [0] * (2 * size - 1), [0] * (2 * size - 1)
    for inner in range(size, 2 * size - 1):  # tree ids: leaves 0..V-1, inner nodes V..2V-2
        (low, a), (high, b) = heapq.heappop(heap), heapq.heappop(heap)
        parent[a], parent[b], branch[b] = inner, inner, 1
        heapq.heappush(heap, (low + high, inner))
    root = 2 * size - 2
    paths = []
    for word in range(size):
        steps, node = [], word
        while node != root:
            steps.append((parent[node] - size, branch[node]))
            node = parent[node]
        paths.append(steps[::-1])
    longest = max(len(p) for p in paths)
    nodes = torch.zeros(size, longest, dtype=torch.long)
    codes = torch.zeros(size, longest)
    mask = torch.zeros(size, longest, dtype=torch.bool)
    for word, steps in enumerate(paths):
        nodes[word, : len(steps)] = torch.tensor([n for n, _ in steps])
        codes[word, : len(steps)] = torch.tensor([float(c) for _, c in steps])
        mask[word, : len(steps)] = True
    return nodes, codes, mask
