"""Tokenizers for translation that detokenise exactly.

:class:`RegexTokenizer` (the default) splits words from punctuation and marks
what was glued; :class:`SentencePieceTokenizer` learns subword units with the
``sentencepiece`` package. Both save to and load from plain JSON. The token
vocabulary is :class:`rnnkit.data.token_vocab.Vocab`.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Iterable, Sequence

JOINER = "\uffed"  # ￭ HALFWIDTH BLACK SQUARE: glued to the previous token
ESCAPE = "\u241b"  # ␛ SYMBOL FOR ESCAPE: the next character is literal
SPELLED = {" ": "\u2423", "\t": "\u2409", "\n": "\u240a", "\v": "\u240b", "\f": "\u240c", "\r": "\u240d"}  # ␣ ␉ ␊ ␋ ␌ ␍
UNSPELLED = {glyph: space for space, glyph in SPELLED.items()}
OPEN, CLOSE = "\u27e8", "\u27e9"  # ⟨U+00A0⟩ spells any other whitespace character
RESERVED = frozenset({JOINER, ESCAPE, OPEN, *UNSPELLED})

_PIECE = re.compile(r"(\s*)([^\W_]+|\S)")
_SPELLING = re.compile("(?:[" + "".join(UNSPELLED) + "]|" + OPEN + r"U\+[0-9A-F]{4,6}" + CLOSE + ")+")
_GENERIC = re.compile(OPEN + r"U\+([0-9A-F]{4,6})" + CLOSE)


def _spell(space: str) -> str:
    """Whitespace in visible characters: ``" \\t\\xa0"`` -> ``"␣␉⟨U+00A0⟩"``."""
    return "".join(SPELLED.get(c) or f"{OPEN}U+{ord(c):04X}{CLOSE}" for c in space)


def _unspell(spelling: str) -> str:
    """The inverse of :func:`_spell`."""
    out, i = [], 0
    while i < len(spelling):
        generic = _GENERIC.match(spelling, i)
        if generic:
            code = int(generic.group(1), 16)
            out.append(chr(code) if code <= 0x10FFFF else generic.group())
            i = generic.end()
        else:
            out.append(UNSPELLED[spelling[i]])
            i += 1
    return "".join(out)


def _prefix(gap: str, first: bool) -> str:
    """The mark for the whitespace before a piece: none for the default, ``￭`` for none at all."""
    if gap == ("" if first else " "):
        return ""
    return JOINER if gap == "" else _spell(gap)


def _detokenize_one(token: str, first: bool) -> str:
    """One token back to its whitespace and text (lenient: unknown shapes stay literal)."""
    if token.startswith(JOINER):
        gap, body = "", token[1:]
    elif spelling := _SPELLING.match(token):
        gap, body = _unspell(spelling.group()), token[spelling.end() :]
    else:
        gap, body = ("" if first else " "), token
    if len(body) == 2 and body[0] == ESCAPE:
        body = body[1]
    return gap + body


class RegexTokenizer:
    """Words and punctuation, detokenised exactly: ``detokenize(tokenize(s)) == s`` for every string.

    The rule:

    1. ``s`` is cut into pieces: each run of letters and digits (``[^\\W_]+``),
       and each other non-whitespace character alone. Whitespace (``\\s``,
       Unicode) is what lies between pieces.
    2. Each piece becomes one token, its text prefixed by what came before it:
       nothing when that was one space (the first piece: nothing at all);
       ``￭`` (U+FFED) when no whitespace separates it from the previous piece;
       otherwise the whitespace spelled out, one glyph per character: ``␣``
       space, ``␉`` tab, ``␊`` ``␋`` ``␌`` ``␍`` for ``\\n \\v \\f \\r`` and
       ``⟨U+00A0⟩`` (the code point, upper-case hex) for any other.
    3. Whitespace after the last piece (or a string of whitespace alone)
       becomes one more token that is only its spelling.
    4. A piece that is one of the marks ``￭ ␛ ⟨ ␣ ␉ ␊ ␋ ␌ ␍`` is escaped as
       ``␛`` + the mark, so that text containing them round-trips too.

    After :func:`rnnkit.families.seq2seq.parallel.normalize_space` only rules 1, 2 (nothing
    or ``￭``) and rarely 4 apply. Combining marks are not letters: a decomposed
    ``"a\\u0308"`` gives ``["a", "￭\\u0308"]`` (use NFC text).

    Example:
        >>> RegexTokenizer().tokenize("Ein Mann fährt Fahrrad.")
        ['Ein', 'Mann', 'fährt', 'Fahrrad', '￭.']
        >>> RegexTokenizer().tokenize("T-Shirt ")
        ['T', '￭-', '￭Shirt', '␣']
    """

    kind = "regex"

    def tokenize(self, s: str) -> list[str]:
        tokens, end = [], 0
        for match in _PIECE.finditer(s):
            gap, piece = match.groups()
            text = ESCAPE + piece if piece in RESERVED else piece
            tokens.append(_prefix(gap, first=not tokens) + text)
            end = match.end()
        if end < len(s):
            tokens.append(_spell(s[end:]))
        return tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(_detokenize_one(token, first=i == 0) for i, token in enumerate(tokens))

    def to_json(self) -> dict:
        return {"kind": self.kind}

    @classmethod
    def from_json(cls, data: dict) -> "RegexTokenizer":
        _check_kind(data, cls.kind)
        return cls()


def _check_kind(data: dict, kind: str) -> None:
    if not isinstance(data, dict) or data.get("kind") != kind:
        got = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"expected a saved {kind!r} tokenizer, got kind {got!r}")


def _sentencepiece():
    try:
        import sentencepiece
    except ImportError:
        raise ValueError(
            "the sentencepiece tokenizer needs the sentencepiece package: pip install 'rnnkit[translate]'"
        ) from None
    return sentencepiece


class SentencePieceTokenizer:
    """Subword units with the ``sentencepiece`` package (BPE or unigram), trained on the training side.

    Pieces carry ``▁`` (U+2581) where a space preceded them. The model uses
    sentencepiece's ``identity`` normalisation (no NFKC) but does collapse
    whitespace, so ``detokenize(tokenize(s)) == s`` holds for text after
    :func:`rnnkit.families.seq2seq.parallel.normalize_space` (and without a literal ``▁``).
    Characters never seen in training come out as pieces of their own (their
    text), which the :class:`~rnnkit.data.token_vocab.Vocab` maps to ``<unk>``.

    Attributes:
        model_type: ``"unigram"`` or ``"bpe"``.
        vocab_size: the number of pieces, ``<unk>`` included (id 0 of the model).
    """

    kind = "sentencepiece"

    def __init__(self, model: bytes, model_type: str = "unigram") -> None:
        spm = _sentencepiece()
        self.model, self.model_type = bytes(model), model_type
        self.processor = spm.SentencePieceProcessor(model_proto=self.model)
        self.vocab_size = self.processor.get_piece_size()

    @classmethod
    def train(
        cls,
        sentences: Iterable[str],
        vocab_size: int,
        model_type: str = "unigram",
        character_coverage: float = 1.0,
        seed: int = 0,
    ) -> "SentencePieceTokenizer":
        """Train in memory (no files written), deterministically for a seed.

        sentencepiece adds only ``<unk>``: no pad, bos or eos pieces, since
        :class:`~rnnkit.data.token_vocab.Vocab` adds the specials.

        Raises:
            ValueError: sentencepiece is missing, or the sentences cannot give ``vocab_size`` pieces.
        """
        spm = _sentencepiece()
        if model_type not in ("unigram", "bpe"):
            raise ValueError(f"model_type: expected 'unigram' or 'bpe', got {model_type!r}")
        spm.set_random_generator_seed(seed)
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(list(sentences)),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=character_coverage,
                normalization_rule_name="identity",
                unk_id=0,
                pad_id=-1,
                bos_id=-1,
                eos_id=-1,
                num_threads=1,
                minloglevel=2,
            )
        except RuntimeError as err:
            reason = str(err).split("] ")[-1].strip()
            raise ValueError(
                f"sentencepiece could not train a {model_type} model of {vocab_size} pieces: {reason}"
            ) from None
        return cls(model.getvalue(), model_type)

    def tokenize(self, s: str) -> list[str]:
        return self.processor.encode(s, out_type=str)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return self.processor.decode_pieces(list(tokens))

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "model_type": self.model_type,
            "model": base64.b64encode(self.model).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict) -> "SentencePieceTokenizer":
        _check_kind(data, cls.kind)
        return cls(base64.b64decode(data["model"]), data.get("model_type", "unigram"))


def tokenizer_from_json(data: dict) -> RegexTokenizer | SentencePieceTokenizer:
    """The tokenizer saved by ``to_json`` (its ``"kind"`` says which)."""
    kinds = {RegexTokenizer.kind: RegexTokenizer, SentencePieceTokenizer.kind: SentencePieceTokenizer}
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in kinds:
        raise ValueError(f"unknown tokenizer kind {kind!r}; expected one of {sorted(kinds)}")
    return kinds[kind].from_json(data)
