"""Sequential MNIST, use side: ``rnnkit predict RUN`` (image files or an idx file) and ``POST /predict``
(pixel arrays); ``classifier`` is a :class:`rnnkit.recipes.seqmnist.trained.DigitClassifier` (not
imported: the commands need only its ``probabilities``)."""

from __future__ import annotations

from typing import Optional

import torch

from rnnkit.data import mnist
from rnnkit.data.images import read_digit_image
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.recipe import Command, Serving


def _predict(classifier, values) -> int:
    if values.idx is not None:
        if values.images:
            raise ValueError("give image files or --idx FILE --index N, not both")
        images = mnist.read_idx(values.idx, mnist.IMAGES)
        if not 0 <= values.index < len(images):
            raise ValueError(f"--index {values.index}: {values.idx} holds images 0 to {len(images) - 1}")
        batch, names = images[values.index : values.index + 1], [f"{values.idx}[{values.index}]"]
    elif values.images:
        batch, names = torch.stack([read_digit_image(path) for path in values.images]), list(values.images)
    else:
        raise ValueError("give image files (PNG, greyscale or convertible) or --idx FILE --index N")
    for name, row in zip(names, classifier.probabilities(batch)):
        p, digits = row.topk(3)
        others = ", ".join(f"{int(d)} {float(q):.3f}" for d, q in zip(digits[1:], p[1:]))
        print(f"{name}: {int(digits[0])} (p {float(p[0]):.3f}; then {others})")
    return 0


def _not_images(images: list) -> Optional[str]:
    """What is wrong with a list of 28x28 greyscale images (None when nothing is)."""

    def pixel(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255

    for index, image in enumerate(images):
        if not (
            isinstance(image, list)
            and len(image) == 28
            and all(isinstance(row, list) and len(row) == 28 and all(map(pixel, row)) for row in image)
        ):
            return (
                f"item {index}: expected 28 rows of 28 integers from 0 to 255 "
                "(as in the MNIST files: 0 background, 255 ink)"
            )
    return None


def serve_predict(classifier, values) -> dict:
    """``POST /predict``: each image's digit and probability, and its top 3."""
    probabilities = classifier.probabilities(torch.tensor(values["images"], dtype=torch.uint8))
    predictions = []
    for row in probabilities:
        p, digits = row.topk(3)
        top = [{"digit": int(d), "probability": float(q)} for d, q in zip(digits, p)]
        predictions.append({"digit": top[0]["digit"], "probability": top[0]["probability"], "top": top})
    return {"predictions": predictions}


# batched: images are read independently, so concurrent requests share one forward pass
PREDICT = Command(
    "predict",
    "the digit in 28x28 greyscale images (PNG) or in one image of an idx file",
    (
        # files on the command line, their pixels in a request
        Param(
            "images",
            "list",
            REQUIRED,
            "28x28 greyscale images: 28 rows of 28 integers 0-255",
            positional=True,
            size=(1, 64),
            check=_not_images,
            cli={"default": None, "help": "image files (other sizes are resized, with a note)"},
        ),
        Param("idx", str, None, "an MNIST idx image file", http=False),
        Param(
            "index",
            int,
            0,
            "which image of --idx (from 0; the file says how many it holds)",
            low=0,
            high=10**8 - 1,
            http=False,
        ),
    ),
    _predict,
    serve=Serving(serve_predict, example={"images": [[[0] * 28] * 28]}, batch="images", output="predictions"),
)
