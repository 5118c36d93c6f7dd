"""Spatial transformer recipe, use side: ``rnnkit predict RUN image.png --top K`` (and ``POST
/predict``) and ``rnnkit transform RUN [image.png ...] --out grid.png``: each input beside what the
transformer made of it (without images: the first ``--count`` test images of the run's variant).
``classifier`` is a :class:`rnnkit.recipes.stn.trained.StnClassifier` (not imported)."""

from __future__ import annotations

from pathlib import Path

from rnnkit.families.vision.inputs import EXAMPLE_PNG, decode_images, not_base64, read_images
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.plots import plot_digits
from rnnkit.train.recipe import Command, Serving

IMAGES = Param(
    "images",
    "strings",
    REQUIRED,
    "image files (PNG, JPEG...) encoded in base64",
    positional=True,
    size=(1, 64),
    check=not_base64,
    cli={"default": None, "help": "image files (any size and mode; converted and resized with a note)"},
)


def _predict(classifier, values) -> int:
    if not values.images:
        raise ValueError("give one or more image files (PNG, JPEG...)")
    if not 1 <= values.top <= 10:
        raise ValueError(f"--top {values.top}: expected 1 to 10 (the digits)")
    images = read_images(values.images, classifier.side, 1)
    for name, row in zip(values.images, classifier.log_probs(images).exp()):
        p, best = row.topk(values.top)
        others = ", ".join(f"{int(c)} {float(q):.3f}" for c, q in zip(best[1:], p[1:]))
        print(f"{name}: {int(best[0])} (p {float(p[0]):.3f})" + (f"; then {others}" if others else ""))
    return 0


def serve_predict(classifier, values) -> dict:
    """``POST /predict``: each image's digit, its probability and the top ``top``."""
    images = decode_images(values["images"], classifier.side, 1)
    predictions = []
    for row in classifier.log_probs(images).exp():
        p, best = row.topk(min(values["top"], 10))
        top = [{"digit": int(c), "probability": float(q)} for c, q in zip(best, p)]
        predictions.append({"digit": top[0]["digit"], "probability": top[0]["probability"], "top": top})
    return {"predictions": predictions}


def _transform(classifier, values) -> int:
    out = Path(values.out) if values.out else classifier.run_dir / "transform.png"
    if out.suffix.lower() != ".png" or not out.parent.is_dir():
        raise ValueError(f"--out {out}: expected a .png file in an existing folder")
    if values.images:
        images, names = read_images(values.images, classifier.side, 1), [Path(p).name[:12] for p in values.images]
    else:
        images = classifier.split_images("test")[0][: values.count]
        names = [f"test {i}" for i in range(len(images))]
    made = classifier.transformed(images)
    pairs = [picture for a, b in zip(images[:, 0], made[:, 0]) for picture in (a.numpy(), b.numpy())]
    captions = [caption for name in names for caption in (name, "transformed")]
    plot_digits(pairs, captions, out, "inputs and what the spatial transformer made of them", columns=8)
    print(f"{len(images)} images and their transforms: {out}")
    return 0


PREDICT = Command(
    "predict",
    "the digit in images of the run's distortion (any size and mode, converted and resized with a note)",
    (IMAGES, Param("top", int, 3, "how many digits to show per image, most probable first", low=1, high=10)),
    _predict,
    serve=Serving(serve_predict, example={"images": [EXAMPLE_PNG]}, batch="images", output="predictions"),
)
TRANSFORM = Command(
    "transform",
    "a PNG of images beside what the spatial transformer made of them",
    (
        Param("images", "strings", None, "image files", positional=True, size=(0, 64), http=False),
        Param("count", int, 16, "without images: how many test images to show", low=1, high=64, http=False),
        Param("out", str, None, "the PNG to write (default: transform.png in the run)", http=False),
    ),
    _transform,
)
