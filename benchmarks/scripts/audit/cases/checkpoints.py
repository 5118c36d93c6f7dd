"""Checkpoints as untrusted input, for every recipe: truncated, empty, a folder, a FIFO,
not safetensors, metadata mutated (wrong JSON types, deep nesting, missing keys,
absurd sizes), and every cross-recipe swap (a run's metadata claiming another task).

Each case loads the crafted file with the recipe's first use command (``eval`` for
the recipes without one) and its smoke arguments. A clean refusal names the file.
"""

from __future__ import annotations

import os
import shutil

from ..core import Case
from ..fixtures import mutate_checkpoint, nested, read_meta
from .common import first_command, registry, smoke_use

#: metadata keys a recipe keeps beside the engine's (its vocabulary, split, series...)
RECIPE_KEYS = {
    "charlm": ("vocab",),
    "wordlm": ("vocab",),
    "names": ("languages", "split", "vocab", "train_counts"),
    "names-gen": ("languages", "split", "vocab"),
    "postag": ("vocab", "training_forms"),
    "translate": ("src_vocab", "tgt_vocab", "src_tokenizer"),
    "chat": ("src_vocab", "src_tokenizer", "split"),
    "seqmnist": ("permutation",),
    "timeseries": ("series", "normaliser"),
    "adding": ("window",),
    "copy": ("window",),
    "embeddings": ("words", "counts"),
    "caption": ("vocab",),
    "cnn": ("classes", "mean", "std", "channels", "side"),
    "stn": ("side",),
    "transfer": ("classes", "channels", "side"),
}
#: model config fields set to absurd sizes (memory bombs must be refused before allocating)
SIZE_FIELDS = (
    "embedding_dim",
    "hidden_size",
    "num_layers",
    "dim",
    "word_dim",
    "char_dim",
    "encoder_layers",
    "members",
    "window",
)
WRONG_VALUES = {"list": [1, "a"], "dict": {"a": {"b": 1}}, "string": "x", "null": None, "deep": "DEEP"}


def _ckpt_case(recipe: str, cid: str, setup, note: str, command: str = None) -> Case:
    command = command or first_command(recipe)
    return Case(
        cid,
        "checkpoint",
        (command, "{tmp}/crafted.safetensors", *smoke_use(recipe, command)),
        setup=setup,
        note=note,
        timeout=30,
    )


def _copy(env, recipe: str):
    target = env.tmp / "crafted.safetensors"
    shutil.copyfile(env.ctx.run(recipe) / "best.safetensors", target)
    return target


def _mutated(recipe: str, change):
    def setup(env):
        mutate_checkpoint(_copy(env, recipe), change)

    return setup


def _set(path: tuple, value):
    """A change setting meta[path...] = value (``"DEEP"``: 100,000 nested lists), or deleting it
    (value ``KeyError``)."""

    def change(meta):
        if value == "DEEP":
            return _deep_text(meta, path)
        target = meta
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else target
        if value is KeyError:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        return meta

    return change


def _deep_text(meta: dict, path: tuple) -> str:
    """The metadata as JSON text with ``path``'s value replaced by 100,000 nested lists."""
    import json

    marker = "__AUDIT_DEEP__"
    target = meta
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = marker
    return json.dumps(meta).replace(json.dumps(marker), nested(100_000), 1)


def _truncate(recipe: str, keep):
    def setup(env):
        path = _copy(env, recipe)
        data = path.read_bytes()
        path.write_bytes(data[: keep(len(data))])

    return setup


def cases() -> list[Case]:
    found = []
    recipes = list(registry())
    for recipe in recipes:
        p = f"checkpoint/{recipe}"
        found += [
            _ckpt_case(recipe, f"{p}/truncated-half", _truncate(recipe, lambda n: n // 2), "cut in half"),
            _ckpt_case(recipe, f"{p}/truncated-header", _truncate(recipe, lambda n: 100), "only 100 bytes"),
            _ckpt_case(recipe, f"{p}/truncated-last-byte", _truncate(recipe, lambda n: n - 1), "one byte short"),
            _ckpt_case(
                recipe, f"{p}/empty", lambda env: (env.tmp / "crafted.safetensors").write_bytes(b""), "empty file"
            ),
            _ckpt_case(recipe, f"{p}/metadata-not-json", _mutated(recipe, lambda m: "{not json"), "metadata not JSON"),
            _ckpt_case(recipe, f"{p}/metadata-a-list", _mutated(recipe, lambda m: [m]), "metadata a JSON list"),
            _ckpt_case(
                recipe,
                f"{p}/metadata-deep",
                _mutated(recipe, lambda m: nested(100_000)),
                "metadata 100,000 nested lists",
            ),
            _ckpt_case(
                recipe,
                f"{p}/metadata-huge-claim",
                _mutated(recipe, _set(("config", "model", "hidden_size"), 10**7)),
                "config claims hidden_size 10^7 (a memory bomb)",
            ),
        ]
        for key, value in WRONG_VALUES.items():
            found.append(
                _ckpt_case(recipe, f"{p}/task-{key}", _mutated(recipe, _set(("task",), value)), f"task is a {key}")
            )
        for section in ("config", "config.model", "config.data", "config.train"):
            path = tuple(section.split("."))
            found.append(
                _ckpt_case(
                    recipe, f"{p}/{section}-missing", _mutated(recipe, _set(path, KeyError)), f"{section} missing"
                )
            )
            if section in ("config", "config.model"):
                found.append(
                    _ckpt_case(recipe, f"{p}/{section}-list", _mutated(recipe, _set(path, [1, 2])), f"{section} a list")
                )
        found.append(
            _ckpt_case(
                recipe,
                f"{p}/config-deep",
                _mutated(recipe, _set(("config", "model"), "DEEP")),
                "config.model 100,000 nested lists",
            )
        )
        model = registry()[recipe]["sections"].get("model")
        for field in [f for f in SIZE_FIELDS if hasattr(model, f)]:
            for value in (10**7, -1, "8"):
                found.append(
                    _ckpt_case(
                        recipe,
                        f"{p}/model.{field}={value}",
                        _mutated(recipe, _set(("config", "model", field), value)),
                        f"config.model.{field} = {value!r}",
                    )
                )
        for key in RECIPE_KEYS[recipe]:
            found.append(
                _ckpt_case(
                    recipe,
                    f"{p}/{key}-missing",
                    _mutated(recipe, _set((key,), KeyError)),
                    f"recipe metadata {key} missing",
                )
            )
            for kind, value in WRONG_VALUES.items():
                found.append(
                    _ckpt_case(
                        recipe,
                        f"{p}/{key}-{kind}",
                        _mutated(recipe, _set((key,), value)),
                        f"recipe metadata {key} is a {kind}",
                    )
                )
            found.append(
                _ckpt_case(
                    recipe,
                    f"{p}/{key}-huge-list",
                    _mutated(recipe, _set((key,), ["a"] * 2_000_000)),
                    f"recipe metadata {key}: a list of two million items",
                )
            )
        for other in recipes:
            if other != recipe:
                found.append(
                    _ckpt_case(
                        other,
                        f"checkpoint/swap/{recipe}-as-{other}",
                        _swap(recipe, other),
                        f"a {recipe} checkpoint claiming task {other}",
                    )
                )
    for name, make in (
        ("directory", lambda env: (env.tmp / "crafted.safetensors").mkdir()),
        ("fifo", lambda env: os.mkfifo(env.tmp / "crafted.safetensors")),
        ("dangling-symlink", lambda env: os.symlink(env.tmp / "nowhere", env.tmp / "crafted.safetensors")),
        ("not-safetensors", lambda env: (env.tmp / "crafted.safetensors").write_bytes(b"\x80\x02}q\x00." * 10)),
        (
            "header-size-huge",
            lambda env: (env.tmp / "crafted.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}"),
        ),
        ("run-dir-without-checkpoint", lambda env: (env.tmp / "crafted.safetensors").mkdir()),
    ):
        found.append(
            _ckpt_case("charlm", f"checkpoint/charlm/{name}", make, f"the checkpoint path is {name}", command="sample")
        )
    found.append(
        Case(
            "checkpoint/charlm/run-dir-empty",
            "checkpoint",
            ("sample", "{tmp}/emptyrun"),
            setup=lambda env: (env.tmp / "emptyrun").mkdir(),
            note="an empty folder as the run",
        )
    )
    found.append(
        Case(
            "checkpoint/charlm/run-dir-only-last",
            "checkpoint",
            ("sample", "{run:charlm}", "--length", "5"),
            setup=lambda env: (env.run("charlm") / "best.safetensors").unlink(),
            keep_runs=False,
            note="a run with last.safetensors only",
        )
    )
    return found


def _swap(recipe: str, other: str):
    def setup(env):
        mutate_checkpoint(_copy(env, recipe), _set(("task",), other))

    return setup


def meta_keys(path) -> list:
    """The metadata keys of a checkpoint (to keep :data:`RECIPE_KEYS` true)."""
    return list(read_meta(path)[1])
