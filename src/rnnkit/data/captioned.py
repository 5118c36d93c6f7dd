"""Captioned images on disk: the COCO captions JSON and Karpathy's split JSON.

* COCO (``captions_train2014.json``): ``{"images": [{"id", "file_name", ...}], "annotations":
  [{"image_id", "caption", ...}]}``; the images lie in one folder.
* Karpathy's splits (``dataset_flickr8k.json``, ``dataset_coco.json``): ``{"images":
  [{"filename", "filepath"?, "split", "sentences": [{"raw", "tokens"}]}]}``; ``restval`` is
  training data (as in Karpathy & Fei-Fei 2015), ``val`` is ``valid``; an image lies at
  ``image_dir / filepath / filename``.

:func:`read_captioned` reads either, telling them apart by their fields. Every problem is a
one-line ValueError naming the file and the field, e.g. ``captions.json: images[3] has no
"file_name"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rnnkit.data.inputs import decode_utf8, read_input

SPLITS = ("train", "valid", "test")
#: Karpathy's split names to rnnkit's
KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "valid", "test": "test"}
#: the largest JSON file read (dataset_coco.json is about 140 MB)
MAX_JSON_BYTES = 2**30
_KIND_NAMES = {int: "an integer", str: "a string", list: "a list"}


@dataclass(frozen=True)
class Captioned:
    """One image and its reference captions. ``split``: ``train``, ``valid`` or ``test``."""

    image: Path
    captions: tuple[str, ...]
    split: str


def _load(path: Path, expected: str) -> dict:
    """The JSON object in ``path``; ValueError in one line when it is not one."""
    raw = read_input(path, expected=expected, limit=MAX_JSON_BYTES)
    try:
        value = json.loads(decode_utf8(raw, str(path)))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON (line {err.lineno} column {err.colno}: {err.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object ({expected}), got a {type(value).__name__}")
    return value


def _list(path: Path, data: dict, key: str, expected: str) -> list:
    if key not in data:
        raise ValueError(f'{path}: no "{key}"; expected {expected}')
    if not isinstance(data[key], list):
        raise ValueError(f'{path}: "{key}" is a {type(data[key]).__name__}; expected a list')
    return data[key]


def _field(path: Path, where: str, entry: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    """``entry[key]``, checked to be a ``kind``; ValueError naming ``where`` and ``key``."""
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: {where} is a {type(entry).__name__}; expected an object")
    if key not in entry:
        raise ValueError(f'{path}: {where} has no "{key}"')
    value = entry[key]
    if not isinstance(value, kind) or isinstance(value, bool):  # JSON true is not an id
        kinds = " or ".join(_KIND_NAMES[k] for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ValueError(f'{path}: {where} "{key}" is {value!r:.40}; expected {kinds}')
    return value


def _image_file(path: Path, where: str, image_dir: Path, *parts: str) -> Path:
    """``image_dir`` joined with ``parts`` (relative, no ``..``), which must be a file."""
    relative = PurePosixPath(*parts)
    if relative.is_absolute() or ".." in relative.parts or not str(relative).strip():
        raise ValueError(f"{path}: {where} names {str(relative)!r}; expected a file name inside the image folder")
    image = image_dir / relative
    if not image.is_file():
        raise ValueError(f"{path}: {where} names {relative}, but there is no file {image}")
    return image


def _uncaptioned(path: Path, where: str) -> ValueError:
    return ValueError(f"{path}: {where} has no caption; give it one or remove it from the file")


def read_coco(captions_json: Path, image_dir: Path, split: str, skip_uncaptioned: bool = False) -> list[Captioned]:
    """Every image of a COCO captions file with its captions, all in ``split``, in the file's
    order of images (captions in the order of the annotations, stripped).

    An image with no caption is refused, or skipped with ``skip_uncaptioned``; an annotation
    of an unknown image, a repeated image id and an image whose file is not in ``image_dir``
    are refused."""
    path = Path(captions_json)
    return _coco(path, _load(path, "a COCO captions JSON object"), Path(image_dir), split, skip_uncaptioned)


def _coco(path: Path, data: dict, image_dir: Path, split: str, skip_uncaptioned: bool) -> list[Captioned]:
    if split not in SPLITS:
        raise ValueError(f"read_coco: split {split!r}; expected one of {', '.join(SPLITS)}")
    images = _list(path, data, "images", 'a list of {"id", "file_name"}')
    annotations = _list(path, data, "annotations", 'a list of {"image_id", "caption"}')
    files: dict[int, Path] = {}
    where_of: dict[int, str] = {}
    for index, entry in enumerate(images):
        where = f"images[{index}]"
        key = _field(path, where, entry, "id", (int, str))
        name = _field(path, where, entry, "file_name", str)
        if key in files:
            raise ValueError(f"{path}: {where} repeats the id {key!r} of {where_of[key]}")
        files[key], where_of[key] = _image_file(path, f'{where} "file_name"', image_dir, name), where
    captions: dict[int, list[str]] = {key: [] for key in files}
    for index, entry in enumerate(annotations):
        where = f"annotations[{index}]"
        key = _field(path, where, entry, "image_id", (int, str))
        text = _field(path, where, entry, "caption", str).strip()
        if key not in captions:
            raise ValueError(f'{path}: {where} "image_id" {key!r} is not the id of any of the images')
        if text:
            captions[key].append(text)
    items = []
    for key, image in files.items():
        if not captions[key]:
            if skip_uncaptioned:
                continue
            raise _uncaptioned(path, f"{where_of[key]} (id {key!r})")
        items.append(Captioned(image, tuple(captions[key]), split))
    return items


def _sentence(path: Path, where: str, sentence: Any) -> str:
    """The ``raw`` text of a Karpathy sentence, stripped; else its ``tokens`` joined by spaces."""
    if not isinstance(sentence, dict):
        raise ValueError(f"{path}: {where} is a {type(sentence).__name__}; expected an object")
    raw = sentence.get("raw")
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    tokens = sentence.get("tokens")
    if isinstance(tokens, list) and all(isinstance(token, str) for token in tokens):
        return " ".join(tokens).strip()
    raise ValueError(f'{path}: {where} has neither a "raw" string nor "tokens" (a list of strings)')


def read_karpathy(split_json: Path, image_dir: Path, skip_uncaptioned: bool = False) -> list[Captioned]:
    """Every image of a Karpathy split file with its captions and split (``restval`` is
    ``train``, ``val`` is ``valid``), in the file's order; errors as :func:`read_coco`."""
    path = Path(split_json)
    return _karpathy(path, _load(path, "a Karpathy split JSON object"), Path(image_dir), skip_uncaptioned)


def _karpathy(path: Path, data: dict, image_dir: Path, skip_uncaptioned: bool) -> list[Captioned]:
    images = _list(path, data, "images", 'a list of {"filename", "split", "sentences"}')
    items = []
    for index, entry in enumerate(images):
        where = f"images[{index}]"
        name = _field(path, where, entry, "filename", str)
        folder = _field(path, where, entry, "filepath", str) if "filepath" in entry else ""
        split = _field(path, where, entry, "split", str)
        if split not in KARPATHY_SPLITS:
            raise ValueError(f'{path}: {where} "split" is {split!r:.40}; expected one of {", ".join(KARPATHY_SPLITS)}')
        sentences = _field(path, where, entry, "sentences", list)
        image = _image_file(path, f'{where} "filename"', image_dir, *([folder] if folder else []), name)
        captions = [_sentence(path, f"{where} sentences[{i}]", s) for i, s in enumerate(sentences)]
        captions = [text for text in captions if text]
        if not captions:
            if skip_uncaptioned:
                continue
            raise _uncaptioned(path, f"{where} ({name})")
        items.append(Captioned(image, tuple(captions), KARPATHY_SPLITS[split]))
    return items


def read_captioned(path: str | Path, image_dir: str | Path) -> tuple[str, list[Captioned]]:
    """(``coco`` or ``karpathy``, its images) of a captions JSON of either layout, read once: a COCO
    file has ``annotations``, a Karpathy file images with ``sentences``. COCO images all come back
    in the ``train`` split (the caller holds some out)."""
    path = Path(path)
    data = _load(path, "a COCO captions or Karpathy split JSON object")
    if "annotations" in data:
        return "coco", _coco(path, data, Path(image_dir), "train", False)
    images = data.get("images")
    if isinstance(images, list) and images and isinstance(images[0], dict) and "sentences" in images[0]:
        return "karpathy", _karpathy(path, data, Path(image_dir), False)
    raise ValueError(
        f'{path}: neither a COCO captions file (no "annotations") nor a Karpathy split file (no images '
        'with "sentences")'
    )
