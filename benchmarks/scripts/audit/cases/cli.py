"""The command line itself: help of every command and recipe, unknown commands and
recipes, commands given no run or a wrong one, ``plot``, ``analyze``, ``bench``."""

from __future__ import annotations

from ..core import Case
from .common import registry


def cases() -> list[Case]:
    found = [
        Case("cli/version", "cli", ("--version",), expect="ok"),
        Case("cli/list", "cli", ("list",), expect="ok"),
        Case("cli/no-command", "cli", ("--quiet",), expect="error"),
        Case("cli/unknown-command", "cli", ("frobnicate",), expect="error"),
        Case("cli/train-no-recipe", "cli", ("train",), expect="error"),
        Case("cli/train-unknown-recipe", "cli", ("train", "nosuch"), expect="error"),
        Case("cli/plot-missing-run", "cli", ("plot", "{tmp}/nothing"), expect="error"),
        Case(
            "cli/plot-empty-metrics",
            "cli",
            ("plot", "{tmp}/r"),
            setup=lambda env: ((env.tmp / "r").mkdir(), (env.tmp / "r" / "metrics.jsonl").write_text("")),
            note="a run folder with empty metrics",
        ),
        Case(
            "cli/plot-garbage-metrics",
            "cli",
            ("plot", "{tmp}/r"),
            setup=lambda env: ((env.tmp / "r").mkdir(), (env.tmp / "r" / "metrics.jsonl").write_bytes(b"\xff{[\n")),
            note="metrics.jsonl not JSON",
        ),
        Case(
            "cli/analyze-gradients-bad-cells",
            "cli",
            ("analyze", "gradients", "--cells", "nope", "--out", "{tmp}"),
            expect="error",
        ),
        Case(
            "cli/analyze-gradients-hidden-huge",
            "cli",
            ("analyze", "gradients", "--hidden", "1000000000", "--out", "{tmp}"),
            note="allocator",
        ),
        Case(
            "cli/analyze-gradients-checkpoint-of-adding",
            "cli",
            ("analyze", "gradients", "--checkpoint", "{run:adding}", "--steps", "10", "--out", "{tmp}"),
        ),
        Case(
            "cli/analyze-gates-names-run",
            "cli",
            ("analyze", "gates", "{run:names}", "--out", "{tmp}"),
            note="gates of a run that is not a char-LM",
        ),
        Case("cli/bench-layers-negative", "cli", ("bench", "layers", "--steps", "-1"), note="bench with a bad size"),
        Case("cli/serve-missing-run", "cli", ("serve", "{tmp}/nothing"), expect="error"),
        Case("cli/serve-bad-port", "cli", ("serve", "{run:names}", "--port", "70000"), expect="error"),
        Case("cli/serve-bad-host", "cli", ("serve", "{run:names}", "--host", "256.1.1.1"), expect="error"),
        Case("cli/serve-timeout-nan", "cli", ("serve", "{run:names}", "--timeout-s", "nan"), expect="error"),
    ]
    verbs = sorted({c for info in registry().values() for c in info["commands"]} | {"eval"})
    for verb in verbs:
        found.append(Case(f"cli/{verb}-no-run", "cli", (verb,), expect="error"))
        found.append(Case(f"cli/{verb}-help", "cli", (verb, "--help"), expect="ok"))
        found.append(Case(f"cli/{verb}-missing-run", "cli", (verb, "{tmp}/nothing"), expect="error"))
    for recipe, info in registry().items():
        found.append(Case(f"cli/train-{recipe}-help", "cli", ("train", recipe, "--help"), expect="ok"))
        for verb in [*info["commands"], "eval"]:
            found.append(
                Case(f"cli/{verb}-{recipe}-run-help", "cli", (verb, f"{{run:{recipe}}}", "--help"), expect="ok")
            )
        other = next(v for v in verbs if v not in info["commands"] and v != "eval")
        found.append(
            Case(
                f"cli/{other}-on-{recipe}",
                "cli",
                (other, f"{{run:{recipe}}}"),
                expect="error",
                note="a command the recipe does not offer",
            )
        )
    return found
