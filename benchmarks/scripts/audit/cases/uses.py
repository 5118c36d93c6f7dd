"""Use commands (``sample``, ``predict``, ``translate``, ``eval``...) of every recipe:
numeric options set to absurd values (``use-option``), and the texts they read
(``use-text``): options before the texts, empty input, Latin-1, UTF-16, binary
and surrogate input, one line of two million words.
"""

from __future__ import annotations

from ..core import Case
from ..fixtures import words_line
from .common import HUGE_FLOAT, HUGE_INT, all_of, finite_output, nonempty_output, option_kind, registry, smoke_use

INT_VALUES = ("-1", "0", HUGE_INT, str(2**64))
FLOAT_VALUES = ("-1", HUGE_FLOAT, "1e-300", "nan")
#: commands whose positional arguments are texts (read from stdin when none are given)
TEXT_COMMANDS = {"predict": "names", "tag": "postag", "translate": "translate", "chat": "chat"}
#: an input each of those commands understands, and an option to put before it
TEXT_INPUT = {
    "names": ("Kowalski", "--top", "2"),
    "postag": ("The old man the boat .", "--format", "conllu"),
    "translate": ("Ein Mann fährt Fahrrad.", "--beam", "1"),
    "chat": ("What is thy name?", "--beam", "1"),
}
BAD_STDIN = {
    "latin1": "Müller\nThe café\n".encode("latin-1"),
    "utf16": "Müller\nThe old man\n".encode("utf-16"),
    "binary": bytes(range(256)) * 4,
    "nul": b"Kate\0son\n",
    "surrogate-escaped": "a\udcff b\n".encode("utf-8", "surrogatepass"),
}


def _base(recipe: str, command: str) -> list:
    """The smoke arguments of a command without its numeric options (they are set per case)."""
    return smoke_use(recipe, command)


def _arguments(recipe: str, command: str) -> tuple:
    info = registry()[recipe]
    return info["eval"] if command == "eval" else info["commands"][command].arguments


def cases() -> list[Case]:
    from .common import replace_options

    found = []
    for recipe, info in registry().items():
        for command in [*info["commands"], "eval"]:
            for argument in _arguments(recipe, command):
                kind = option_kind(argument)
                if kind is None or not argument.flags[0].startswith("--"):
                    continue
                option = argument.flags[-1]
                for value in INT_VALUES if kind is int else FLOAT_VALUES:
                    args = replace_options(_base(recipe, command), {option: value})
                    found.append(
                        Case(
                            f"use-option/{recipe}/{command}{option}={value}",
                            "use-option",
                            (command, f"{{run:{recipe}}}", *args),
                            check=finite_output if value == "0" else all_of(finite_output, nonempty_output),
                            timeout=30,
                            note=f"{command} {option} ({kind.__name__})",
                        )
                    )
    for command, recipe in TEXT_COMMANDS.items():
        text, option, value = TEXT_INPUT[recipe]
        run = f"{{run:{recipe}}}"
        found += [
            Case(
                f"use-text/{recipe}/{command}-option-before-text",
                "use-text",
                (command, run, option, value, text),
                expect="ok",
                check=nonempty_output,
                note="options between the checkpoint and the texts",
            ),
            Case(
                f"use-text/{recipe}/{command}-option-after-text",
                "use-text",
                (command, run, text, option, value),
                expect="ok",
                check=nonempty_output,
                note="options after the texts",
            ),
            Case(
                f"use-text/{recipe}/{command}-empty-argument",
                "use-text",
                (command, run, ""),
                note="an empty text argument (refused, or answered: an empty answer is fair)",
            ),
            Case(
                f"use-text/{recipe}/{command}-blank-argument",
                "use-text",
                (command, run, "   "),
                note="a blank text argument",
            ),
            Case(
                f"use-text/{recipe}/{command}-empty-stdin",
                "use-text",
                (command, run),
                stdin=b"",
                note="no texts and empty stdin",
            ),
            Case(
                f"use-text/{recipe}/{command}-blank-stdin",
                "use-text",
                (command, run),
                stdin=b"\n\n  \n",
                note="only blank lines on stdin",
            ),
            Case(
                f"use-text/{recipe}/{command}-crlf-stdin",
                "use-text",
                (command, run),
                stdin=(text + "\r\n").encode(),
                expect="ok",
                check=nonempty_output,
                note="CRLF line ends",
            ),
            Case(
                f"use-text/{recipe}/{command}-bom-stdin",
                "use-text",
                (command, run),
                stdin=("\ufeff" + text + "\n").encode(),
                check=nonempty_output,
                note="a UTF-8 BOM",
            ),
            Case(
                f"use-text/{recipe}/{command}-surrogate-argument",
                "use-text",
                (command, run, "Ka\udcffte"),
                check=nonempty_output,
                note="a lone surrogate in an argument (an undecodable byte)",
            ),
            Case(
                f"use-text/{recipe}/{command}-long-token",
                "use-text",
                (command, run),
                stdin=b"x" * 200_000 + b"\n",
                check=nonempty_output,
                note="one 200,000-character token",
            ),
            Case(
                f"use-text/{recipe}/{command}-2M-words",
                "use-text",
                (command, run),
                stdin="file:{cache}/2M-words.txt",
                setup=_two_million,
                timeout=90,
                note="one line of two million words on stdin (memory bounded by the limit)",
            ),
            Case(
                f"use-text/{recipe}/{command}-10k-lines",
                "use-text",
                (command, run),
                stdin=(text + "\n").encode() * 10_000,
                timeout=90,
                note="10,000 lines on stdin",
            ),
        ]
        for name, data in BAD_STDIN.items():
            found.append(
                Case(
                    f"use-text/{recipe}/{command}-{name}-stdin",
                    "use-text",
                    (command, run),
                    stdin=data,
                    expect="error",
                    note=f"{name} bytes on stdin: refused as not UTF-8 text"
                    if name not in ("nul",)
                    else "a NUL byte on stdin",
                )
            )
    found.append(
        Case(
            "use-text/postag/tag-input-latin1",
            "use-text",
            ("tag", "{run:postag}", "--input", "{tmp}/in.txt"),
            setup=lambda env: (env.tmp / "in.txt").write_bytes("The café\n".encode("latin-1")),
            expect="error",
            note="tag --input of Latin-1 text",
        )
    )
    found.append(
        Case(
            "use-text/embeddings/neighbors-option-before-word",
            "use-text",
            ("neighbors", "{run:embeddings}", "--top", "3", "king"),
            expect="ok",
            check=nonempty_output,
            note="options between the checkpoint and the words",
        )
    )
    found.append(
        Case(
            "use-text/embeddings/neighbors-unknown-word",
            "use-text",
            ("neighbors", "{run:embeddings}", "zzzzqqq"),
            note="a word out of the vocabulary",
        )
    )
    found.append(
        Case(
            "use-text/embeddings/analogy-surrogate",
            "use-text",
            ("analogy", "{run:embeddings}", "man", "\udcff", "woman"),
            note="an undecodable word",
        )
    )
    found.append(
        Case(
            "use-text/charlm/sample-prime-unknown",
            "use-text",
            ("sample", "{run:charlm}", "--prime", "\u2603\u2603", "--length", "5"),
            note="a prime of characters the model never saw",
        )
    )
    found.append(
        Case(
            "use-text/charlm/sample-prime-huge",
            "use-text",
            ("sample", "{run:charlm}", "--prime", "First " * 20_000, "--length", "5"),
            note="a 120,000-character prime",
        )
    )
    found.append(
        Case(
            "use-text/names-gen/sample-start-unseen",
            "use-text",
            ("sample", "{run:names-gen}", "--start", "\u00dfQ\u2603"),
            check=_warns,
            note="names-gen --start with unseen characters: refused or warned (issue 28)",
        )
    )
    return found


def _warns(outcome):
    from .common import warns_or_refuses

    return warns_or_refuses(outcome)


def _two_million(env) -> None:
    env.ctx.cached("2M-words.txt", lambda path: words_line(path, 2_000_000, "Hund"))
