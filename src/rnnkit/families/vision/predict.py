"""The ``predict`` command of image classifiers: ``rnnkit predict RUN image.png [more ...] --top K
[--explain heat.png]`` (a Grad-CAM heat map of the predicted class) and ``POST /predict``
(base64-encoded image files). ``classifier`` is a
:class:`~rnnkit.families.vision.trained.TrainedImageClassifier` (not imported: the commands need
only its ``meta``, ``log_probs``, ``inputs``, ``cam_layer`` and ``model``), of the cnn or the transfer
recipe.

Any image mode and size is taken (:mod:`rnnkit.families.vision.inputs`).
"""

from __future__ import annotations

import sys

from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.recipe import Command, Serving

from .gradcam import grad_cam, save_overlay
from .inputs import EXAMPLE_PNG, decode_images, explain_paths, not_base64, read_images


def _predict(classifier, values) -> int:
    if not values.images:
        raise ValueError("give one or more image files (PNG, JPEG...)")
    classes = classifier.meta["classes"]
    if not 1 <= values.top <= len(classes):
        raise ValueError(f"--top {values.top}: expected 1 to {len(classes)} (the run's classes)")
    outs = explain_paths(values.explain, len(values.images)) if values.explain else []
    images = read_images(values.images, classifier.meta["side"], classifier.meta["channels"])
    probabilities = classifier.log_probs(images).exp()
    for name, row in zip(values.images, probabilities):
        p, best = row.topk(values.top)
        others = ", ".join(f"{classes[c]} {float(q):.3f}" for c, q in zip(best[1:], p[1:]))
        print(f"{name}: {classes[best[0]]} (p {float(p[0]):.3f})" + (f"; then {others}" if others else ""))
    if outs:  # the maps of the predicted classes (grad_cam's default)
        heat = grad_cam(classifier.model, classifier.cam_layer(), classifier.inputs(images))
        for image, map_, out, c in zip(images, heat.cpu(), outs, probabilities.argmax(-1)):
            save_overlay(image, map_, out, f"Grad-CAM: {classes[c]}")
            print(f"Grad-CAM of the predicted class: {out}", file=sys.stderr)
    return 0


def serve_predict(classifier, values) -> dict:
    """``POST /predict``: each image's class, its probability and the top ``top``."""
    classes = classifier.meta["classes"]
    images = decode_images(values["images"], classifier.meta["side"], classifier.meta["channels"])
    predictions = []
    for row in classifier.log_probs(images).exp():
        p, best = row.topk(min(values["top"], len(classes)))
        top = [{"class": classes[c], "probability": float(q)} for c, q in zip(best, p)]
        predictions.append({"class": top[0]["class"], "probability": top[0]["probability"], "top": top})
    return {"predictions": predictions}


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
            check=not_base64,
            cli={"default": None, "help": "image files"},
        ),
        Param("top", int, 3, "how many classes to show per image, most probable first", low=1, high=1000),
        Param(
            "explain", str, None, "write a Grad-CAM heat map of the predicted class over each image (PNG)", http=False
        ),
    ),
    _predict,
    serve=Serving(serve_predict, example={"images": [EXAMPLE_PNG]}, batch="images", output="predictions"),
)
