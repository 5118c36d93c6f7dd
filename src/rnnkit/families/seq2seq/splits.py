"""Seeded train/valid/test splits of the pairs read by :mod:`rnnkit.families.seq2seq.parallel`.

:func:`split_indices` splits indices at random; :func:`split_groups` keeps each group of pairs
that share a source or a target sentence (:func:`sentence_groups`) in one split, after
:func:`unique_pairs` has dropped exact repeats.
"""

from __future__ import annotations

import torch

from rnnkit.families.seq2seq.parallel import Pair


def unique_pairs(pairs: list[Pair]) -> list[Pair]:
    """``pairs`` without exact repeats (same source and target): the first of each is kept."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for pair in pairs:
        if (pair.src, pair.tgt) not in seen:
            seen.add((pair.src, pair.tgt))
            kept.append(pair)
    return kept


def sentence_groups(pairs: list[Pair]) -> list[list[int]]:
    """Indices of ``pairs`` grouped so that two pairs sharing a source or a target sentence are in
    one group (connected components), each group sorted, groups by their first index."""
    parent = list(range(len(pairs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, pair in enumerate(pairs):
        for key in (("src", pair.src), ("tgt", pair.tgt)):
            j = first.setdefault(key, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(pairs)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values())


def split_groups(
    pairs: list[Pair], seed: int, valid_fraction: float = 0.1, test_fraction: float = 0.1
) -> dict[str, list[int]]:
    """A seeded split of ``pairs``' indices in which no source and no target sentence of one split
    occurs in another: whole :func:`sentence_groups` go to valid, then test (in a seeded order of
    groups) until each holds its fraction of the pairs, none overfilling a split by more than a
    tenth of its size (a larger group goes to train); train keeps the rest.

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}``, each sorted; disjoint, covering all.
    """
    sizes = split_indices(len(pairs), seed, valid_fraction, test_fraction)  # checks the fractions
    groups = sentence_groups(pairs)
    order = torch.randperm(len(groups), generator=torch.Generator().manual_seed(seed)).tolist()
    split: dict[str, list[int]] = {"valid": [], "test": [], "train": []}
    wanted = {"valid": len(sizes["valid"]), "test": len(sizes["test"])}
    for g in order:  # a group larger than a tenth of a split's size over its need goes to train
        name = next(
            (
                n
                for n in ("valid", "test")
                if len(split[n]) < wanted[n] and len(split[n]) + len(groups[g]) <= wanted[n] + max(1, wanted[n] // 10)
            ),
            "train",
        )
        split[name].extend(groups[g])
    for name in ("train", *(n for n in wanted if wanted[n])):
        if pairs and not split[name]:
            raise ValueError(
                f"split_groups: the {len(pairs)} pairs form {len(groups)} groups of shared sentences; "
                f"none is left for the {name} split"
            )
    return {name: sorted(split[name]) for name in ("train", "valid", "test")}


def _held_out(n: int, fraction: float) -> int:
    """How many of ``n`` examples ``fraction`` is, rounded; at least one when ``n >= 3``."""
    count = round(n * fraction)
    return max(count, 1) if fraction > 0 and n >= 3 else count


def split_indices(n: int, seed: int, valid_fraction: float = 0.1, test_fraction: float = 0.1) -> dict[str, list[int]]:
    """A seeded random split of ``range(n)`` into train, valid and test indices.

    The permutation comes from ``torch.randperm`` with a ``torch.Generator``
    seeded by ``seed``, so a seed gives the same split on every machine. valid
    takes the first ``round(n * valid_fraction)`` of it, test the next
    ``round(n * test_fraction)`` (each at least 1 when ``n >= 3`` and its
    fraction is positive), train the rest.

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}``, each sorted; disjoint, covering ``range(n)``.
    """
    for name, fraction in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{name}: expected a number in [0, 1), got {fraction}")
    if n < 0:
        raise ValueError(f"split_indices: expected n >= 0, got {n}")
    n_valid, n_test = _held_out(n, valid_fraction), _held_out(n, test_fraction)
    if n and n_valid + n_test >= n:
        raise ValueError(
            f"split_indices: valid_fraction {valid_fraction} and test_fraction {test_fraction} "
            f"leave no training examples of {n}"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return {
        "train": sorted(order[n_valid + n_test :]),
        "valid": sorted(order[:n_valid]),
        "test": sorted(order[n_valid : n_valid + n_test]),
    }
