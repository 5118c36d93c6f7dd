"""Image classification, use side: ``rnnkit predict RUN image.png [more ...] --top K [--explain
heat.png]`` and ``POST /predict`` (base64-encoded image files). ``classifier`` is a
:class:`rnnkit.recipes.cnn.trained.ImageClassifier` (not imported: the commands need only its
``meta``, ``log_probs`` and ``model``).

Any image mode and size is taken: it is converted to the run's channels (greyscale as ITU-R 601
luma; a mostly light greyscale picture is inverted to the light-on-dark form of MNIST and
Fashion-MNIST) and resized to the run's side, each change noted on stderr.
"""

from __future__ import annotations

import base64
import binascii
import sys
from pathlib import Path
from typing import Optional

import torch

from rnnkit.data.images import decode_rgb_bytes, read_rgb_image
from rnnkit.families.vision.gradcam import grad_cam, save_overlay
from rnnkit.recipes.cnn.config import cam_layer
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.recipe import Command, Serving

#: base64 characters of one image in a request (about 6 MB of file)
MAX_BASE64 = 8 * 2**20
LUMA = (0.299, 0.587, 0.114)


def to_channels(rgb: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    """uint8 ``(3, S, S)`` -> uint8 ``(channels, S, S)``: as it is for 3, luma for 1 (inverted,
    with a note, when mostly light: the data sets of one channel draw light on black)."""
    if channels == 3:
        return rgb
    grey = sum(w * rgb[i].float() for i, w in enumerate(LUMA)).round().clamp(0, 255).to(torch.uint8)
    if grey.double().mean() > 127.5:
        print(f"({name}: mostly light, so inverted to light on black as the training images are)", file=sys.stderr)
        grey = 255 - grey
    return grey[None]


def _read(classifier, paths: list[str]) -> torch.Tensor:
    side, channels = classifier.meta["side"], classifier.meta["channels"]
    return torch.stack([to_channels(read_rgb_image(p, side), channels, p) for p in paths])


def explain_paths(path: str, count: int) -> list[Path]:
    """``path`` for one image; ``stem-1.png``, ``stem-2.png``... beside it for several."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(f"--explain {path}: expected a .png file name")
    if not target.parent.is_dir():
        raise ValueError(f"--explain {path}: folder {target.parent} does not exist")
    if count == 1:
        return [target]
    return [target.with_name(f"{target.stem}-{k}{target.suffix}") for k in range(1, count + 1)]


def _predict(classifier, values) -> int:
    if not values.images:
        raise ValueError("give one or more image files (PNG, JPEG...)")
    classes = classifier.meta["classes"]
    if not 1 <= values.top <= len(classes):
        raise ValueError(f"--top {values.top}: expected 1 to {len(classes)} (the run's classes)")
    outs = explain_paths(values.explain, len(values.images)) if values.explain else []
    images = _read(classifier, values.images)
    for name, row in zip(values.images, classifier.log_probs(images).exp()):
        p, best = row.topk(values.top)
        others = ", ".join(f"{classes[c]} {float(q):.3f}" for c, q in zip(best[1:], p[1:]))
        print(f"{name}: {classes[best[0]]} (p {float(p[0]):.3f})" + (f"; then {others}" if others else ""))
    if outs:
        heat = grad_cam(classifier.model, cam_layer(classifier.model), classifier.inputs(images))
        predicted = classifier.log_probs(images).argmax(-1)
        for image, map_, out, c in zip(images, heat.cpu(), outs, predicted):
            save_overlay(image, map_, out, f"Grad-CAM: {classes[c]}")
            print(f"Grad-CAM of the predicted class: {out}", file=sys.stderr)
    return 0


def _not_base64(items: list) -> Optional[str]:
    for index, item in enumerate(items):
        if len(item) > MAX_BASE64:
            return f"item {index}: more than {MAX_BASE64:,} base64 characters; send a smaller image"
        try:
            base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            return f"item {index}: expected an image file encoded in base64"
    return None


def serve_predict(classifier, values) -> dict:
    """``POST /predict``: each image's class, its probability and the top ``top``."""
    side, channels, classes = classifier.meta["side"], classifier.meta["channels"], classifier.meta["classes"]
    images = torch.stack(
        [
            to_channels(decode_rgb_bytes(base64.b64decode(item), f"images[{i}]", side), channels, f"images[{i}]")
            for i, item in enumerate(values["images"])
        ]
    )
    predictions = []
    for row in classifier.log_probs(images).exp():
        p, best = row.topk(min(values["top"], len(classes)))
        top = [{"class": classes[c], "probability": float(q)} for c, q in zip(best, p)]
        predictions.append({"class": top[0]["class"], "probability": top[0]["probability"], "top": top})
    return {"predictions": predictions}


# an 8x8 black PNG
_EXAMPLE = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAADElEQVR4nGNgGB4AAADIAAGtQHYiAAAAAElFTkSuQmCC"

PREDICT = Command(
    "predict",
    "the class of images (PNG, JPEG...; any size and mode, converted and resized with a note)",
    (
        Param(
            "images",
            "strings",
            REQUIRED,
            "image files (PNG, JPEG...) encoded in base64",
            positional=True,
            size=(1, 64),
            check=_not_base64,
            cli={"default": None, "help": "image files"},
        ),
        Param("top", int, 3, "how many classes to show per image, most probable first", low=1, high=1000),
        Param(
            "explain", str, None, "write a Grad-CAM heat map of the predicted class over each image (PNG)", http=False
        ),
    ),
    _predict,
    serve=Serving(serve_predict, example={"images": [_EXAMPLE]}, batch="images", output="predictions"),
)
