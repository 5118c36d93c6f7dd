"""The names data of a run (names and names-gen share it): its options, where its files are,
its seeded split, and what a checkpoint keeps of it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from rnnkit import bounds

from .corpus import missing_data, note_as_given
from .names import NamesData, read_names, split_examples, stratified_split

BALANCE = ("none", "weighted", "sampler", "logit-adjusted")


@dataclass
class NamesDataConfig:
    """Names data, split and batching.

    Attributes:
        data_dir: the data folder, holding ``names/`` (the [Language].txt files); empty = the
            bundled tutorial data. A folder of the files itself is used as given, with a note
            (:func:`names_folder`).
        ascii: fold names to ASCII as the tutorial does (default: keep Unicode).
        split_seed: seed of the stratified 80/10/10 train/valid/test split.
        batch_size: names per batch.
        balance: class imbalance: ``none``, ``weighted`` (loss weighted by
            inverse class frequency), ``sampler`` (rare classes drawn more often) or
            ``logit-adjusted`` (the loss sees logits + power * log prior, Menon et al.
            2021, so the model itself fits the balanced posterior).
        balance_power: how far to balance: weights (or sampling rates) are
            (inverse class frequency) ** power, the logit adjustment is power * log
            prior; 1 = fully balanced, 0 = none.
    """

    data_dir: str = field(default="", metadata={"path": True})  # rnnkit.train.config.PATH
    ascii: bool = False
    split_seed: int = field(default=0, metadata=bounds.seed())
    batch_size: int = field(default=64, metadata=bounds.batch())
    balance: str = "none"
    balance_power: float = field(
        default=0.5,
        metadata={**bounds.bound(0, 10), **bounds.only_with("balance", "weighted", "sampler", "logit-adjusted")},
    )

    def __post_init__(self) -> None:  # checked when the config is resolved, before any run directory
        if self.balance not in BALANCE:
            raise ValueError(f"balance: expected one of {', '.join(BALANCE)}, got {self.balance!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {self.batch_size}")
        if self.balance_power < 0:
            raise ValueError(f"balance_power: expected >= 0, got {self.balance_power}")


def names_folder(data_dir: str) -> Optional[Path]:
    """The folder of [Language].txt files ``data_dir`` (``--data-dir``) means: its ``names/``, else
    (the form before issue 29) ``data_dir`` itself when it holds the files, after a note; None
    (the bundled copy) when empty. ValueError naming the fetch command when neither holds them."""
    if not data_dir:
        return None
    root = Path(data_dir)
    if any((root / "names").glob("*.txt")):
        return root / "names"
    if root.is_dir() and any(root.glob("*.txt")):
        note_as_given(data_dir, "the names files", "names")
        return root
    raise missing_data("names", data_dir, root / "names" / "*.txt")


def load_split(data: NamesDataConfig, saved: Optional[dict] = None):
    """(names data, split assignment, examples per split); a saved split is checked against the data.

    ``saved``: a checkpoint's metadata (see :func:`split_meta`), or None for a new split.
    """
    names = read_names(names_folder(data.data_dir), ascii=data.ascii)
    if saved is not None:
        if saved["data_sha256"] != names.digest():
            raise ValueError(
                f"names data in {data.data_dir or 'the package'} changed since this "
                "run was trained (different names or languages); its saved split no longer applies"
            )
        assignment = saved["split"]
    else:
        assignment = stratified_split(names, seed=data.split_seed)
    return names, assignment, split_examples(names, assignment)


def run_split(data: NamesDataConfig, meta: dict, data_dir: Optional[str] = None):
    """(names data, examples per split) of a trained run, checked against the split its
    checkpoint ``meta`` saved; ``data_dir`` reads the names from another data folder."""
    names, _, parts = load_split(replace(data, data_dir=data_dir) if data_dir else data, meta)
    return names, parts


def split_meta(names: NamesData, assignment: str) -> dict:
    """What a checkpoint keeps so the same split can be rebuilt and checked."""
    return {"languages": names.languages, "split": assignment, "data_sha256": names.digest()}


def split_record(names: NamesData, parts: dict) -> dict:
    """split.json's content: the names per split and the names listed under several languages."""
    languages = names.languages
    record = {split: [[name, languages[label]] for name, label in examples] for split, examples in parts.items()}
    record["multi_label"] = {name: [languages[l] for l in labels] for name, labels in names.multi_label.items()}
    return record
