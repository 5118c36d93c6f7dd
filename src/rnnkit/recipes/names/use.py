"""Names recipe, use side: ``predict`` (command line and server) and what ``export`` writes for a runtime.

The exported ``classify`` graph gives the model's scores (M, C); ``predict`` turns them into
probabilities with the run's temperature and a prior. The JSON beside the graph holds both
(:func:`postprocess`) and the complete id mappings (:func:`rnnkit.export.ids.classifier`),
so a runtime without rnnkit gets the same languages as ``rnnkit predict``.
"""

from __future__ import annotations

import math
from typing import Sequence

from rnnkit.data.inputs import stdin_lines
from rnnkit.data.names import PAD, UNK
from rnnkit.export import graphs
from rnnkit.export import ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.recipes.names import evaluate as ev
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.ranges import TOP
from rnnkit.train.recipe import Command, Serving

DEFAULT_PRIOR = ev.DEFAULT_PRIOR
PRIOR_HELP = (
    "how likely each language is before reading the name: uniform (all equally likely), "
    "data (as often as in the training data) or a file of language weights, "
    "'Language<TAB>weight' lines or a JSON object (unlisted languages get 0); "
    f"default {DEFAULT_PRIOR}"
)

#: how the exported scores become ``predict``'s log-probabilities (every prior a list in language-id order)
FORMULA = (
    "log p(language | name) = log_softmax((log_softmax(scores) + log(data_prior) - log(training_prior)) "
    "/ temperature + log(prior) - log(data_prior)), prior = priors[default_prior] unless another is "
    "chosen (rnnkit predict --prior)"
)


def format_predictions(names: Sequence[str], predictions) -> str:
    """The tutorial's layout: the name, then ``    (-0.19) German`` per language."""
    lines = []
    for name, top in zip(names, predictions):
        lines.append(name.strip())
        # a log-probability is <= 0; print a rounded 0 as -0.00, as the tutorial does
        lines += [f"    ({log_prob if log_prob < 0 else -0.0:.2f}) {language}" for log_prob, language in top]
    return "\n".join(lines)


def _predict(classifier, values) -> int:
    names = values.names or [line for line in stdin_lines() if line.strip()]
    if not names:
        raise ValueError("no names given (as arguments or one per line on stdin)")
    print(format_predictions(names, classifier.predict(names, values.top, values.prior)))
    return 0


def serve_predict(classifier, values) -> dict:
    """``POST /predict``: each name's top languages, ``{"language", "probability"}`` best first."""
    names = values["names"]
    top = classifier.predict(names, values["top"], values["prior"])
    return {
        "prior": values["prior"],
        "predictions": [
            {
                "name": name,
                "languages": [
                    {"language": language, "probability": math.exp(log_prob)} for log_prob, language in languages
                ],
            }
            for name, languages in zip(names, top)
        ],
    }


# batched: names are scored independently, so concurrent requests with the same top and prior share a call
PREDICT = Command(
    "predict",
    "top languages of names",
    (
        Param(
            "names",
            "strings",
            REQUIRED,
            "names to classify",
            positional=True,
            size=(1, 256),
            cli={"default": None, "help": "names to classify (default: one per line on stdin)"},
        ),
        TOP.replace(default=3, help="languages per name"),
        Param(
            "prior",
            str,
            DEFAULT_PRIOR,
            PRIOR_HELP,
            http={
                "help": "uniform (all languages equally likely) or data (as often as in training); weight files are for "
                "the command line",
                "choices": ("uniform", "data"),
            },
        ),
    ),
    _predict,
    serve=Serving(
        serve_predict, example={"names": ["Nakamura", "Schmidt"], "top": 3}, batch="names", output="predictions"
    ),
)


def _probabilities(log_prior) -> list[float]:
    return [float(p) for p in log_prior.exp()]


def postprocess(classifier) -> dict:
    """What ``predict`` applies to the exported scores: the run's temperature and the priors
    (probabilities in language-id order), and how a name is cleaned before its characters
    are looked up."""
    return {
        "formula": FORMULA,
        "temperature": float(classifier.calibration()["temperature"]),
        "training_prior": _probabilities(classifier.train_log_prior),
        "data_prior": _probabilities(classifier.log_prior("data")),
        "priors": {prior: _probabilities(classifier.log_prior(prior)) for prior in ev.PRIORS},
        "default_prior": DEFAULT_PRIOR,
        "names": {
            "strip": True,
            "ascii_fold": bool(classifier.sections["data"].ascii),
            "note": "strip surrounding white space; with ascii_fold, fold as the PyTorch tutorial's "
            'unicodeToAscii (NFD, drop combining marks, keep ASCII letters and " .,;\'")',
        },
    }


def export_runtime(classifier) -> dict:
    """The id mappings of characters and languages, and :func:`postprocess`."""
    return {
        "ids": export_ids.classifier(
            classifier.vocab.symbols, classifier.languages, "characters", "languages", PAD, UNK
        ),
        "postprocess": postprocess(classifier),
    }


EXPORT = export_command(
    lambda c: graphs.classifier(len(c.vocab.symbols)), ("vocab", "languages", "train_counts"), runtime=export_runtime
)
