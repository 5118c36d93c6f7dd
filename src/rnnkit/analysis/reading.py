"""What ``rnnkit analyze gates`` reads: the char-LM of a run and the text it is shown.

:func:`load_charlm` refuses a checkpoint of any other recipe; :func:`read_text` takes
``--text``, ``--text-file`` or the run's validation text, cuts it to ``--max-chars`` (at most
:data:`MAX_CHARS`) and refuses or drops the characters the model does not know.
"""

from __future__ import annotations

import argparse

MAX_CHARS = 1_000_000  # characters read at once (their activations are kept for every unit)


def load_charlm(path: str):
    """The :class:`rnnkit.recipes.charlm.CharLM` in ``path``; ValueError for any other recipe."""
    from rnnkit.recipes import read

    stored = read(path)
    if stored.recipe.name != "charlm":
        raise ValueError(f"analyze gates needs a charlm checkpoint; {path} is a {stored.recipe.name} checkpoint")
    return stored.model()


def read_text(args: argparse.Namespace, lm) -> tuple[str, str]:
    """(text, where it came from): ``--text``, ``--text-file`` or the run's validation text,
    cut to ``--max-chars`` and with unknown characters refused or dropped."""
    from rnnkit.data import read_text as read_file
    from rnnkit.data import split_text
    from rnnkit.recipes.charlm import load_corpus

    if args.text is not None:
        text, label = args.text, "--text"
    elif args.text_file is not None:
        text, label = read_file(args.text_file), args.text_file
    else:
        data = lm.sections["data"]
        corpus, name = load_corpus(data.text)
        text, label = split_text(corpus, data.val_fraction)[1], f"validation part of {name}"
    if args.max_chars < 0:
        raise ValueError(f"--max-chars: expected >= 0, got {args.max_chars}")
    if args.max_chars and len(text) > args.max_chars:
        text, label = text[: args.max_chars], f"first {args.max_chars:,} characters of {label}"
    if len(text) > MAX_CHARS:
        raise ValueError(
            f"{label}: {len(text):,} characters; at most {MAX_CHARS:,} are read at once (give --max-chars)"
        )
    # the run's own text is read as validation reads it: unseen characters skipped
    own = args.text is None and args.text_file is None
    lm.vocab.encode(text, skip_unknown=args.skip_unknown or own, what=label)  # names unknown ones
    text = "".join(ch for ch in text if ch in lm.vocab.index)
    if not text:
        dropped = " after dropping unknown characters" if args.skip_unknown else ""
        raise ValueError(f"{label}: the text is empty{dropped}; nothing to analyse")
    return text, label
