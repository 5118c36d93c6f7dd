"""Postag recipe, use side: ``tag`` (command line and ``POST /tag``) and what ``export`` writes for a runtime.

``tag`` reads plain text (one sentence a line, tokenized as :func:`rnnkit.data.conllu.sentences_from_text`
does) and writes word/UPOS pairs, CoNLL-U or TSV. The exported ``tag`` graph takes words (N, L) and
lengths (N,) [with ``--char-dim``: chars (W, C), char_lengths (W,)] and gives one score tensor
(N, L, tags) per tag set (:func:`rnnkit.export.graphs.tagger`); the JSON beside it holds the id
mappings (:func:`rnnkit.export.ids.tagger`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rnnkit.data.conllu import sentences_from_text
from rnnkit.data.conllu_tags import format_conllu, write_conllu
from rnnkit.data.inputs import decode_utf8, read_input, read_stdin
from rnnkit.export import graphs
from rnnkit.export import ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.files import atomic_write_text
from rnnkit.recipes.postag.trained import PosTagger
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.recipe import Command, Serving
from rnnkit.train.rundir import refuse_run_file


def _tag(tagger: PosTagger, values) -> int:
    if values.text and values.input:
        raise ValueError("give sentences as arguments or --input FILE, not both")
    if values.output and not Path(values.output).resolve().parent.is_dir():
        raise ValueError(f"--output {values.output}: the folder {Path(values.output).parent} does not exist")
    if values.output:
        refuse_run_file(values.output, "--output")  # never a file of a run
    if values.input:
        text = decode_utf8(read_input(values.input, f"--input {values.input}", "a text file"), values.input)
    else:
        text = "\n".join(values.text) if values.text else read_stdin()
    sentences = sentences_from_text(text)
    tags = tagger.tag([s.words for s in sentences])
    if values.format == "conllu":
        for sentence, tagged in zip(sentences, tags):
            sentence.upos, sentence.xpos = tagged["upos"], tagged.get("xpos", sentence.xpos)
            sentence.feats = tagged.get("feats", sentence.feats)
        if values.output:
            write_conllu(values.output, sentences)
            return 0
        out = format_conllu(sentences)
    elif values.format == "tsv":
        out = "\n\n".join(
            "\n".join(f"{w}\t{u}\t{x}" for w, u, x in zip(s.words, t["upos"], t.get("xpos", ["_"] * len(s.words))))
            for s, t in zip(sentences, tags)
        )
        out += "\n" if out else ""
    else:
        out = "".join(" ".join(f"{w}/{u}" for w, u in zip(s.words, t["upos"])) + "\n" for s, t in zip(sentences, tags))
    if values.output:
        atomic_write_text(values.output, out)
    else:
        sys.stdout.write(out)
    return 0


def serve_tag(tagger: PosTagger, values) -> dict:
    """``POST /tag``: each sentence's words (tokenized as the command line does) and their tags."""
    words = []
    for index, line in enumerate(values["text"]):
        sentences = sentences_from_text(line)
        if len(sentences) != 1:
            raise ValueError(
                f"field 'text': item {index} holds {len(sentences)} sentences; "
                "expected one, not empty and without line breaks"
            )
        words.append(sentences[0].words)
    return {"sentences": [{"words": w, **tags} for w, tags in zip(words, tagger.tag(words))]}


# batched: sentences are tagged independently, so concurrent requests share one tagger call
TAG_COMMAND = Command(
    "tag",
    "part-of-speech tags of plain text (one sentence a line)",
    (
        Param(
            "text",
            "strings",
            REQUIRED,
            "sentences to tag, one per item",
            positional=True,
            size=(1, 256),
            cli={"default": None, "help": "sentences to tag (default: --input FILE or stdin)"},
        ),
        Param("input", str, None, "UTF-8 text file, one sentence a line", http=False),
        Param(
            "format",
            str,
            "pairs",
            "pairs: word/UPOS; conllu: CoNLL-U with # text lines; tsv: word, UPOS, XPOS",
            choices=("pairs", "conllu", "tsv"),
            http=False,
        ),
        Param("output", str, None, "write here (atomically) instead of stdout", http=False),
    ),
    _tag,
    serve=Serving(serve_tag, example={"text": ["The old man the boat ."]}, batch="text", output="sentences"),
)


EXPORT = export_command(
    lambda t: graphs.tagger(
        len(t.vocab.words), len(t.vocab.chars), list(t.vocab.labels), bool(t.sections["model"].char_dim)
    ),
    ("vocab",),
    runtime=lambda t: {"ids": export_ids.tagger(t.vocab, bool(t.sections["model"].char_dim))},
)
