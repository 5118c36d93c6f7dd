"""The id mappings written beside exported graphs: every token a graph reads or scores, with its id.

A runtime without rnnkit turns text into the integer inputs of a graph and its outputs back
into text with these tables alone, so each is complete: ``token_to_id`` holds every id
``0..size-1`` exactly once, the special tokens included (padding, unknown, start, end), and
``roles`` names the specials. ``used_by`` lists the ``graph.input`` or ``graph.output`` (its
last axis) the ids index. One builder per kind of graph in :mod:`.graphs`.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

Table = dict


def table(tokens: Sequence[str], used_by: Sequence[str], note: str = "", **roles: Optional[str]) -> Table:
    """The mapping of ``tokens`` (in id order) for the graph inputs/outputs ``used_by``;
    ``roles`` name specials by what they do (``padding="<pad>"``; None where the vocabulary has none)."""
    mapping = {token: index for index, token in enumerate(tokens)}
    roles = {role: token if token in mapping else None for role, token in roles.items()}
    return {
        "size": len(tokens),
        "token_to_id": mapping,
        "roles": roles,
        "used_by": list(used_by),
        **({"note": note} if note else {}),
    }


def check_complete(tables: Mapping[str, Table]) -> None:
    """ValueError unless every table maps ``size`` distinct tokens to the ids 0..size-1."""
    if not tables:
        raise ValueError("export: the recipe gives no id mapping for its graphs")
    for name, entry in tables.items():
        ids = sorted(entry["token_to_id"].values())
        if ids != list(range(entry["size"])):
            raise ValueError(f"export: the {name} id mapping is incomplete ({len(ids)} tokens for {entry['size']} ids)")


def lm_step(tokens: Sequence[str], what: str, unknown: Optional[str] = None, end: Optional[str] = None) -> dict:
    """A language model's step graph: ``tokens`` in and ``scores`` over the same vocabulary out."""
    note = (
        f"a {what[:-1]} not listed is read as {unknown}"
        if unknown
        else f"a {what[:-1]} not listed has no id: leave it out (rnnkit's --skip-unknown) or refuse the text"
    )
    return {what: table(tokens, ("step.tokens", "step.scores"), note, unknown=unknown, end=end)}


def classifier(
    symbols: Sequence[str], classes: Sequence[str], what: str, labels: str, padding: str, unknown: str
) -> dict:
    """A sequence classifier: ``ids`` in (padded with ``padding``), one score per class out."""
    return {
        what: table(
            symbols,
            ("classify.ids",),
            f"pad to the longest with {padding} and give each length in lengths; a symbol not listed is {unknown}",
            padding=padding,
            unknown=unknown,
        ),
        labels: table(classes, ("classify.scores",), f"column i of scores is the {labels[:-1]} with id i"),
    }


def tagger(vocab, chars: bool) -> dict:
    """A tagger (:class:`~rnnkit.recipes.postag.batches.TaggingVocab`): words (and with ``chars`` their
    characters) in, one score per tag of each tag set out."""
    pad, unk = vocab.words.symbols[:2]
    tables = {
        "words": table(
            vocab.words.symbols, ("tag.words",), f"pad with {pad}; an unlisted word is {unk}", padding=pad, unknown=unk
        ),
        "characters": table(
            vocab.chars.symbols,
            ("tag.chars",) if chars else (),
            f"each word's characters, padded with {pad}; an unlisted character is {unk}",
            padding=pad,
            unknown=unk,
        ),
    }
    for name, labels in vocab.labels.items():
        tables[name] = table(labels.tags, (f"tag.{name}",), f"column i of {name} is the tag with id i")
    return tables


def pair_model(trained) -> dict:
    """An encoder-decoder (translate, chat): source tokens in, target tokens out and fed back.
    The tokenizers that make the tokens are in ``meta`` (``src_tokenizer``, ``tgt_tokenizer``)."""
    translator = trained.translator
    roles = dict(zip(("padding", "start", "end", "unknown"), translator.src_vocab.SPECIALS))
    return {
        "source": table(
            translator.src_vocab.tokens,
            ("encoder.src",),
            f"the tokens of a sentence then {roles['end']}; pad with {roles['padding']}; an "
            f"unlisted token is {roles['unknown']}",
            **roles,
        ),
        "target": table(
            translator.tgt_vocab.tokens,
            ("decoder_step.tokens", "decoder_step.log_probs"),
            f"decoding starts from {roles['start']} and stops at {roles['end']}",
            **roles,
        ),
    }
