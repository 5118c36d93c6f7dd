"""Chat recipe, use side: ``rnnkit chat RUN`` (command line and server) and ``export``; ``bot`` is
a :class:`rnnkit.recipes.chat.trained.ChatBot` (not imported: that module imports this one).

Greedy by default, so the same line gets the same reply; ``--temperature T --seed S`` samples
repeatably, ``--beam 5`` searches. Every parameter is declared once (:class:`~rnnkit.train.params.Param`),
so the command line and ``POST /chat`` state and check the same ranges.
"""

from __future__ import annotations

import sys

from rnnkit.data.inputs import stdin_lines
from rnnkit.export import graphs
from rnnkit.export import ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.families.seq2seq.translator import MAX_SOURCE_TOKENS_CAP, SearchOptions
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.ranges import BEAM, NO_REPEAT_NGRAM, REPETITION_PENALTY, sampling_params
from rnnkit.train.recipe import Command, Serving

QUIT = ("q", "quit")
MAX_REPLY = 25  # tokens in a reply, by default (the recipe's report uses the same)


def _options(values) -> SearchOptions:
    """The search of a reply: these values (command line or request), at most ``max_reply`` tokens."""
    return SearchOptions.of(
        values,
        max_ratio=0.0,
        max_extra=values["max_reply"],
        no_unk=not values["allow_unk"],
        max_source_tokens=MAX_SOURCE_TOKENS_CAP,
        attention=False,
    )


def _prompted():
    """Lines typed at a ``> `` prompt, until end of input."""
    while True:
        try:
            yield input("> ")
        except EOFError:
            return


def _chat(bot, values) -> int:
    options = _options(values)
    options.check()
    seen: set[str] = set()
    if values.text:
        lines = iter(values.text)
    else:
        lines = _prompted() if sys.stdin.isatty() else iter(stdin_lines())
    for line in lines:
        if line.strip().lower() in QUIT:
            break
        if line.strip():
            print(_answer(bot, line, options, seen), flush=True)
    return 0


def _answer(bot, line: str, options: SearchOptions, seen: set) -> str:
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


def serve_chat(bot, values) -> dict:
    """``POST /chat``: one reply per line, with the line's words outside the vocabulary.

    Seeded sampling answers line by line, each from the seed, as ``rnnkit chat`` does.
    """
    options = _options(values)
    options.check()
    lines = values["text"]
    if options.temperature and options.seed is not None:
        replies = [bot.replies([line], options)[0] for line in lines]
    else:
        replies = bot.replies(lines, options)
    return {"replies": [{"text": r.text, "unknown": list(dict.fromkeys(r.unknown))} for r in replies]}


# batched when greedy, beam or unseeded sampling: lines are answered independently; seeded sampling
# answers each line from its seed, so merging such requests would save nothing
CHAT_COMMAND = Command(
    "chat",
    "talk to the bot (a > prompt on a terminal; one reply per line of stdin or argument)",
    (
        Param(
            "text",
            "strings",
            REQUIRED,
            "lines to answer, one reply each",
            positional=True,
            size=(1, 64),
            cli={
                "default": None,
                "help": "lines to answer, one reply each (default: stdin, or the prompt on a terminal)",
            },
        ),
        BEAM,
        # greedy by default (the same reply every time); sampling only with a temperature > 0, seeded by --seed
        *sampling_params(SearchOptions.temperature, "seed for repeatable sampled replies"),
        NO_REPEAT_NGRAM,
        REPETITION_PENALTY,
        Param(
            "allow_unk",
            bool,
            False,
            "let replies contain <unk>",
            cli={"help": "let replies contain <unk> (by default it is never emitted)"},
        ),
        Param("max_reply", int, MAX_REPLY, "most tokens in a reply", low=1, high=200),
    ),
    _chat,
    serve=Serving(
        serve_chat,
        example={"text": ["What is thy name?"], "temperature": 0},
        batch="text",
        output="replies",
        batchable=lambda request: not request["temperature"] or request["seed"] is None,
    ),
)


EXPORT = export_command(graphs.pair_model, graphs.PAIR_META, runtime=lambda t: {"ids": export_ids.pair_model(t)})
