"""Translate recipe, use side: ``rnnkit translate RUN`` (command line and ``POST /translate``) and ``export``.

``model`` is a :class:`rnnkit.recipes.translate.trained.TrainedTranslator`. :data:`SEARCH` holds the
search options that ``translate`` and ``eval`` share.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rnnkit.data.inputs import stdin_lines
from rnnkit.export import graphs
from rnnkit.export import ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.families.seq2seq.translator import MAX_RATIO, MAX_SOURCE, SearchOptions, plot_attention
from rnnkit.recipes.translate.trained import TrainedTranslator
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.ranges import BEAM, LENGTH_PENALTY
from rnnkit.train.recipe import Command, Serving


def _note_empty(lines: list[str], translations) -> None:
    """A note on stderr for the first non-empty line whose translation came out empty, so an
    empty output line is never silent."""
    for number, (line, found) in enumerate(zip(lines, translations), 1):
        if line.strip() and not found.text:
            outside = len(found.unknown)
            print(
                f"note: line {number}: the model's translation is empty ({outside} of its "
                f"{len(found.source)} source tokens are outside the vocabulary)",
                file=sys.stderr,
            )
            return


def _translate(model: TrainedTranslator, values) -> int:
    lines = list(values.text) if values.text else stdin_lines()
    if not lines:
        raise ValueError("no input: give sentences as arguments or one per line on stdin")
    options = SearchOptions.of(values, attention=bool(values.attention_plot))
    options.check()
    if values.attention_plot:  # everything that would stop the plot is checked before translating
        if not Path(values.attention_plot).resolve().parent.is_dir():
            raise ValueError(
                f"--attention-plot {values.attention_plot}: the folder "
                f"{Path(values.attention_plot).parent} does not exist"
            )
        if model.model.attention is None:
            raise ValueError(
                "--attention-plot: this model was trained with --attention none; it has no attention to plot"
            )
        if not any(line.strip() for line in lines):
            raise ValueError("--attention-plot: every input line is empty; nothing to plot")
    translations = model.translator.translate(lines, options)
    sys.stdout.write("".join(t.text + "\n" for t in translations))
    _note_empty(lines, translations)
    if values.verbose:
        unknown = Counter(w for t in translations for w in t.unknown)
        shown = ", ".join(f"{w} ({n})" for w, n in unknown.most_common(20))
        print(
            f"{sum(unknown.values()):,} source tokens outside the vocabulary" + (f": {shown}" if shown else ""),
            file=sys.stderr,
        )
    if values.attention_plot:
        first = next(t for t in translations if t.source)
        plot_attention(first, values.attention_plot, f"{model.translator.src_tokenizer.detokenize(first.source)}")
        print(f"attention plot: {values.attention_plot}", file=sys.stderr)
    return 0


def serve_translate(model: TrainedTranslator, values) -> dict:
    """``POST /translate``: each sentence's translation and its source tokens outside the vocabulary."""
    return {
        "translations": [
            {"text": t.text, "unknown": t.unknown}
            for t in model.translator.translate(values["text"], SearchOptions.of(values, attention=False))
        ]
    }


#: the search options of ``translate`` and ``eval``
SEARCH = (
    BEAM,
    LENGTH_PENALTY,
    MAX_RATIO,
    Param(
        "replace_unk",
        bool,
        False,
        "replace <unk> by the source token with the most attention",
        cli={"help": "replace <unk> in the output by the source token with the most attention"},
    ),
)

# batched: sentences are searched independently (sorted by length, as the command line does)
TRANSLATE_COMMAND = Command(
    "translate",
    "translate sentences (arguments, or one per line on stdin)",
    (
        Param(
            "text",
            "strings",
            REQUIRED,
            "sentences to translate",
            positional=True,
            size=(1, 256),
            cli={"default": None, "help": "sentences to translate (default: lines of stdin)"},
        ),
        *SEARCH,
        MAX_SOURCE,
        Param("attention_plot", str, None, "save the first sentence's attention as a heatmap (PNG)", http=False),
        Param("verbose", bool, False, "report source words outside the vocabulary", http=False),
    ),
    _translate,
    serve=Serving(serve_translate, example={"text": ["Ein Mann fährt Fahrrad."]}, batch="text", output="translations"),
)


EXPORT = export_command(graphs.pair_model, graphs.PAIR_META, runtime=lambda t: {"ids": export_ids.pair_model(t)})
