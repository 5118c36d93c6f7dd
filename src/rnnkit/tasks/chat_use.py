"""Chat recipe, use side: ``rnnkit chat RUN`` (command line and server) and ``export``.

Greedy by default, so the same line gets the same reply; ``--temperature T --seed S`` samples
repeatably, ``--beam 5`` searches. Every numeric option is :class:`~rnnkit.train.ranges.Bounded`,
so the command line and ``POST /chat`` state and check the same ranges.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rnnkit.data.inputs import stdin_lines
from rnnkit.export import graphs, ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.train.ranges import BEAM, NO_REPEAT_NGRAM, REPETITION_PENALTY, Bounded
from rnnkit.train.recipe import Command, Field, Serving, arg, sampling_arguments, sampling_fields
from rnnkit.train.translation import MAX_SOURCE_TOKENS_CAP, SearchOptions

if TYPE_CHECKING:
    from .chat import ChatBot

QUIT = ("q", "quit")
MAX_REPLY = 25  # tokens in a reply, by default (the recipe's report uses the same)


def _options(args) -> SearchOptions:
    return SearchOptions(beam=args.beam, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                         seed=args.seed, no_repeat_ngram=args.no_repeat_ngram,
                         repetition_penalty=args.repetition_penalty, max_ratio=0.0, max_extra=args.max_reply,
                         no_unk=not args.allow_unk, max_source_tokens=MAX_SOURCE_TOKENS_CAP, attention=False)


def _prompted():
    """Lines typed at a ``> `` prompt, until end of input."""
    while True:
        try:
            yield input("> ")
        except EOFError:
            return


def _chat(bot: ChatBot, args) -> int:
    options = _options(args)
    options.check()
    seen: set[str] = set()
    if args.text:
        lines = iter(args.text)
    else:
        lines = _prompted() if sys.stdin.isatty() else iter(stdin_lines())
    for line in lines:
        if line.strip().lower() in QUIT:
            break
        if line.strip():
            print(_answer(bot, line, options, seen), flush=True)
    return 0


def _answer(bot: ChatBot, line: str, options: SearchOptions, seen: set) -> str:
    """One reply; notes on stderr for a cut line and (once each) unknown words."""
    words = bot.sections["data"].max_length
    if len(bot.translator.prepare(line).split()) > words:
        print(f"(only the first {words} words are read)", file=sys.stderr)
    reply = bot.replies([line], options)[0]
    new = [w for w in dict.fromkeys(reply.unknown) if w not in seen]
    if new:
        seen.update(new)
        print(f"(not in the vocabulary: {', '.join(new)})", file=sys.stderr)
    return reply.text


def serve_chat(bot: ChatBot, request: dict) -> dict:
    """``POST /chat``: one reply per line, with the line's words outside the vocabulary.

    Seeded sampling answers line by line, each from the seed, as ``rnnkit chat`` does.
    """
    options = SearchOptions(beam=request["beam"], temperature=request["temperature"], top_k=request["top_k"],
                            top_p=request["top_p"], seed=request["seed"], no_repeat_ngram=request["no_repeat_ngram"],
                            repetition_penalty=request["repetition_penalty"], max_ratio=0.0,
                            max_extra=request["max_reply"], no_unk=not request["allow_unk"],
                            max_source_tokens=MAX_SOURCE_TOKENS_CAP, attention=False)
    options.check()
    lines = request["text"]
    if options.temperature and options.seed is not None:
        replies = [bot.replies([line], options)[0] for line in lines]
    else:
        replies = bot.replies(lines, options)
    return {"replies": [{"text": r.text, "unknown": list(dict.fromkeys(r.unknown))} for r in replies]}


# greedy by default (the same reply every time); sampling only with a temperature > 0, seeded by --seed
MAX_REPLY_TOKENS = Bounded("max_reply", int, 1, 200, MAX_REPLY, "most tokens in a reply")


# batched when greedy, beam or unseeded sampling: lines are answered independently; seeded sampling
# answers each line from its seed, so merging such requests would save nothing
CHAT_COMMAND = Command("chat", "talk to the bot (a > prompt on a terminal; one reply per line of stdin or argument)", (
    arg("text", nargs="*", help="lines to answer, one reply each (default: stdin, or the prompt on a terminal)"),
    BEAM.arg(),
    *sampling_arguments("seed for repeatable sampled replies", temperature=0.0),
    NO_REPEAT_NGRAM.arg(), REPETITION_PENALTY.arg(),
    arg("--allow-unk", action="store_true", help="let replies contain <unk> (by default it is never emitted)"),
    MAX_REPLY_TOKENS.arg(),
), _chat, serve=Serving((
    Field("text", "strings", help="lines to answer, one reply each", minimum=1, maximum=64),
    BEAM.field(), *sampling_fields(temperature=0.0), NO_REPEAT_NGRAM.field(), REPETITION_PENALTY.field(),
    Field("allow_unk", "boolean", False, "let replies contain <unk>"),
    MAX_REPLY_TOKENS.field()),
    serve_chat, example={"text": ["What is thy name?"], "temperature": 0}, batch="text", output="replies",
    batchable=lambda request: not request["temperature"] or request["seed"] is None))


EXPORT = export_command(graphs.pair_model, graphs.PAIR_META, runtime=lambda t: {"ids": export_ids.pair_model(t)})
