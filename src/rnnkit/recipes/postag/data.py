"""The treebank of a postag run: its options, its CoNLL-U files, and the tag sets it predicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.bounds import MAX_COUNT, batch
from rnnkit.data.catalog import CATALOG
from rnnkit.data.corpus import data_dir as default_data_dir
from rnnkit.data.corpus import missing_data
from rnnkit.train.config import PATH, bound

SPLITS = ("train", "dev", "test")
SHOWN = {"upos": "UPOS", "xpos": "XPOS", "feats": "UFeats"}


@dataclass
class PosDataConfig:
    """Treebank and batching.

    Attributes:
        treebank: a folder with ``*-ud-train.conllu``, ``*-ud-dev.conllu`` and
            ``*-ud-test.conllu``, or its name under ``data_dir`` (``ud-english-ewt``).
        data_dir: the data folder, holding named treebanks (default ``$RNNKIT_DATA`` or ``../shared/data``).
        min_count: training words seen fewer times share the ``<unk>`` embedding
            (their characters still tell them apart).
        batch_size: sentences per batch (length-bucketed).
        xpos: also predict XPOS (language-specific tags).
        feats: also predict UFeats (the whole feature string as one label).
        pretrained_vocab: also give embedding rows to the first N words of
            ``--pretrained-embeddings`` that the training vocabulary lacks, so words unseen
            in training start from their vectors (with ``--freeze-embeddings`` they stay
            in the file's space, as the training words do).
    """

    treebank: str = field(default="ud-english-ewt", metadata=PATH)
    data_dir: str = field(default="", metadata=PATH)
    min_count: int = field(default=2, metadata=bound(1, MAX_COUNT))
    batch_size: int = field(default=32, metadata=batch())
    xpos: bool = True
    feats: bool = True
    pretrained_vocab: int = field(default=0, metadata=bound(0, 10**7))


def treebank_files(data: PosDataConfig) -> dict[str, Path]:
    """``{"train": ..., "dev": ..., "test": ...}``: the treebank's CoNLL-U files."""
    folder = Path(data.treebank)
    if not folder.is_dir():
        folder = default_data_dir(data.data_dir or None) / data.treebank
        if data.treebank in CATALOG and not any(folder.glob("*-ud-train.conllu")):
            raise missing_data(data.treebank, data.data_dir or None, folder / "*-ud-train.conllu")
    files = {}
    for split in SPLITS:
        found = sorted(folder.glob(f"*-ud-{split}.conllu")) if folder.is_dir() else []
        if len(found) != 1:
            raise ValueError(
                f"treebank {data.treebank!r}: expected one *-ud-{split}.conllu in {folder}, "
                f"found {len(found)}; point --treebank (or --data-dir / $RNNKIT_DATA) at it"
            )
        files[split] = found[0]
    return files


def head_names(data: PosDataConfig) -> list[str]:
    """The tag sets predicted: UPOS, then XPOS and UFeats when asked for."""
    return ["upos"] + (["xpos"] if data.xpos else []) + (["feats"] if data.feats else [])


def gold_tags(sentence, names) -> dict[str, list[str]]:
    """A sentence's tags in each of the tag sets ``names``."""
    return {name: getattr(sentence, name) for name in names}
