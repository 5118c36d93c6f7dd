"""Run directories: concurrent writers (two trainings, ``--overwrite`` or ``--resume`` while
another trains), symlinks planted under the temporary names every write goes through,
user files beside a run and another tool's ``config.json`` (``--overwrite`` must not
delete what rnnkit did not write), and crafted ``config.json``/``metrics.jsonl``.
"""

from __future__ import annotations

import json
import os
import shutil

from ..core import Case
from .common import one_writer, registry, smoke_train

ENGINE_FILES = (
    "config.json",
    "best.safetensors",
    "last.safetensors",
    "metrics.jsonl",
    "curves.png",
    "run.json",
    "manifest.json",
)
USER_FILES = (
    ".paper.tmp-v2",
    "model.json",
    "eval_mine_beam_notes.txt",
    "notes.txt",
    "report_test.json.bak",
    "confusion_mine.png",
)
#: recipes whose runs get --overwrite with user files beside them (each trains; the rule is the engine's)
OVERWRITE_RECIPES = ("charlm", "names", "translate", "seqmnist", "timeseries", "embeddings")
LONG = {
    "charlm": {"--max-steps": "600", "--eval-every": "200"},
    "adding": {"--max-steps": "400", "--eval-every": "100"},
}


def _victims(env, names) -> None:
    for name in names:
        (env.tmp / f"victim-{name}").write_text(f"a file of the user that {name} must not overwrite\n")


def _planted(recipe: str, folder: str):
    names = [n for n in (*ENGINE_FILES, *registry()[recipe]["outputs"]) if "*" not in n]

    def setup(env):
        if folder == "{tmp}/run":
            (env.tmp / "run").mkdir()
        _victims(env, names)

    plant = tuple((folder, name, f"{{tmp}}/victim-{name}") for name in names)
    sentinels = tuple(f"{{tmp}}/victim-{name}" for name in names)
    return setup, plant, sentinels


def _user_files(recipe: str):
    def setup(env):
        run = env.run(recipe)
        for name in USER_FILES:
            (run / name).write_text(f"the user's own {name}\n")

    return setup


def _foreign(task):
    def setup(env):
        other = env.tmp / "other"
        other.mkdir()
        (other / "config.json").write_text(json.dumps({"task": task, "train": {"lr": 1}, "tool": "not rnnkit"}))
        (other / "metrics.jsonl").write_text('{"step": 1, "loss": 2}\n')
        (other / "curves.png").write_bytes(b"\x89PNG not really")
        (other / "model.json").write_text('{"weights": [1, 2, 3]}\n')

    return setup


FOREIGN = tuple(f"{{tmp}}/other/{n}" for n in ("config.json", "metrics.jsonl", "curves.png", "model.json"))


def cases() -> list[Case]:
    found = []
    for recipe in registry():
        setup, plant, sentinels = _planted(recipe, f"{{run:{recipe}}}")
        found.append(
            Case(
                f"rundir/{recipe}/planted-symlinks-resume",
                "rundir",
                ("train", recipe, "--resume", f"{{run:{recipe}}}", "--quiet", "--max-steps", "12"),
                setup=setup,
                plant=plant,
                sentinels=sentinels,
                keep_runs=False,
                note="symlinks .NAME.tmp-PID -> a user's file, for every file a run writes; --resume",
            )
        )
        if recipe == "charlm":
            setup, plant, sentinels = _planted(recipe, "{tmp}/run")
            found.append(
                Case(
                    f"rundir/{recipe}/planted-symlinks-new-run",
                    "rundir",
                    smoke_train(recipe, "{tmp}/run") + ("--overwrite",),
                    setup=setup,
                    plant=plant,
                    sentinels=sentinels,
                    note="symlinks planted in an empty new run directory",
                )
            )
        if recipe in OVERWRITE_RECIPES:
            found.append(
                Case(
                    f"rundir/{recipe}/overwrite-keeps-user-files",
                    "rundir",
                    smoke_train(recipe, f"{{run:{recipe}}}") + ("--overwrite",),
                    setup=_user_files(recipe),
                    sentinels=tuple(f"{{run:{recipe}}}/{n}" for n in USER_FILES),
                    keep_runs=False,
                    note="--overwrite of a run holding user files (.paper.tmp-v2, model.json, ...)",
                )
            )
        found.append(
            Case(
                f"rundir/{recipe}/existing-run-without-overwrite",
                "rundir",
                smoke_train(recipe, f"{{run:{recipe}}}"),
                expect="error",
                sentinels=(f"{{run:{recipe}}}/metrics.jsonl",),
                note="training into an existing run without --overwrite",
            )
        )
        found.append(
            Case(
                f"rundir/{recipe}/resume-other-recipe",
                "rundir",
                ("train", "adding" if recipe != "adding" else "copy", "--resume", f"{{run:{recipe}}}", "--quiet"),
                expect="error",
                note="--resume a run of another recipe",
            )
        )
    for task in ("mytool", "charlm", 7):
        found.append(
            Case(
                f"rundir/foreign-config-task-{task}/overwrite",
                "rundir",
                smoke_train("charlm", "{tmp}/other") + ("--overwrite",),
                setup=_foreign(task),
                sentinels=FOREIGN,
                note=f"--overwrite of another tool's folder (config.json task {task!r})",
            )
        )
        found.append(
            Case(
                f"rundir/foreign-config-task-{task}/resume",
                "rundir",
                ("train", "charlm", "--resume", "{tmp}/other", "--quiet"),
                setup=_foreign(task),
                sentinels=FOREIGN,
                expect="error",
                note="--resume of another tool's folder",
            )
        )
    for recipe, override in LONG.items():
        run = "{tmp}/run"
        long_train = smoke_train(recipe, run, **override)
        found += [
            Case(
                f"rundir/{recipe}/two-trainings-same-new-dir",
                "rundir",
                long_train,
                also=(long_train,),
                also_delay=0.3,
                check=one_writer(run),
                timeout=120,
                note="two trainings into one new directory at once: one is refused, naming the holder",
            ),
            Case(
                f"rundir/{recipe}/second-training-while-first-runs",
                "rundir",
                long_train,
                also=(long_train,),
                also_delay=1.5,
                check=one_writer(run),
                timeout=120,
                note="a second training into a directory another process is training in",
            ),
            Case(
                f"rundir/{recipe}/overwrite-while-training",
                "rundir",
                long_train,
                also=(long_train + ("--overwrite",),),
                also_delay=1.5,
                check=one_writer(run),
                timeout=120,
                note="--overwrite while another process trains in the directory",
            ),
            Case(
                f"rundir/{recipe}/two-resumes",
                "rundir",
                ("train", recipe, "--resume", f"{{run:{recipe}}}", "--quiet", *_flat(override)),
                also=(("train", recipe, "--resume", f"{{run:{recipe}}}", "--quiet", *_flat(override)),),
                also_delay=0.5,
                check=one_writer(f"{{run:{recipe}}}"),
                keep_runs=False,
                timeout=120,
                note="two --resume of one run at once",
            ),
        ]
    deep = lambda env: (env.run("charlm") / "config.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000)  # noqa: E731
    found += [
        Case(
            "rundir/charlm/config-deep-resume",
            "rundir",
            ("train", "charlm", "--resume", "{run:charlm}", "--quiet"),
            setup=deep,
            keep_runs=False,
            note="config.json nested 100,000 levels: --resume",
        ),
        Case(
            "rundir/charlm/config-deep-overwrite",
            "rundir",
            smoke_train("charlm", "{run:charlm}") + ("--overwrite",),
            setup=deep,
            keep_runs=False,
            note="config.json nested 100,000 levels: --overwrite",
        ),
        Case(
            "rundir/charlm/config-list-resume",
            "rundir",
            ("train", "charlm", "--resume", "{run:charlm}", "--quiet"),
            setup=lambda env: (env.run("charlm") / "config.json").write_text("[1, 2]"),
            keep_runs=False,
            note="config.json a JSON list",
        ),
        Case(
            "rundir/charlm/config-garbage-resume",
            "rundir",
            ("train", "charlm", "--resume", "{run:charlm}", "--quiet"),
            setup=lambda env: (env.run("charlm") / "config.json").write_bytes(b"\xff\xfe{"),
            keep_runs=False,
            note="config.json not UTF-8",
        ),
        Case(
            "rundir/charlm/config-missing-resume",
            "rundir",
            ("train", "charlm", "--resume", "{run:charlm}", "--quiet"),
            setup=lambda env: (env.run("charlm") / "config.json").unlink(),
            keep_runs=False,
            note="config.json missing beside the checkpoints",
        ),
        Case(
            "rundir/charlm/metrics-garbage-resume",
            "rundir",
            ("train", "charlm", "--resume", "{run:charlm}", "--quiet", "--max-steps", "8"),
            setup=lambda env: (env.run("charlm") / "metrics.jsonl").write_bytes(b"\x00garbage{\n[1]\n"),
            keep_runs=False,
            note="metrics.jsonl garbage, then --resume",
        ),
        Case(
            "rundir/charlm/only-best-resume",
            "rundir",
            ("train", "charlm", "--resume", "{run:charlm}", "--quiet"),
            setup=_only_best,
            keep_runs=False,
            sentinels=("{run:charlm}/best.safetensors",),
            check=_no_discard_advice,
            note="a disk-full failure left only best.safetensors: --resume must not advise discarding it",
        ),
        Case(
            "rundir/charlm/run-dir-is-a-file",
            "rundir",
            smoke_train("charlm", "{tmp}/file"),
            setup=lambda env: (env.tmp / "file").write_text("mine\n"),
            sentinels=("{tmp}/file",),
            expect="error",
            note="--run-dir names a file",
        ),
        Case(
            "rundir/charlm/run-dir-is-a-file-overwrite",
            "rundir",
            smoke_train("charlm", "{tmp}/file") + ("--overwrite",),
            setup=lambda env: (env.tmp / "file").write_text("mine\n"),
            sentinels=("{tmp}/file",),
            expect="error",
            note="--run-dir names a file, with --overwrite",
        ),
        Case(
            "rundir/charlm/run-dir-user-folder-overwrite",
            "rundir",
            smoke_train("charlm", "{tmp}/mine") + ("--overwrite",),
            setup=_user_folder,
            sentinels=("{tmp}/mine/thesis.tex", "{tmp}/mine/data.csv"),
            note="--overwrite of a folder of user files without config.json",
        ),
        Case(
            "rundir/charlm/run-dir-symlink-to-user-folder",
            "rundir",
            smoke_train("charlm", "{tmp}/link") + ("--overwrite",),
            setup=_linked_folder,
            sentinels=("{tmp}/mine/thesis.tex",),
            note="--run-dir is a symlink to a user folder, with --overwrite",
        ),
        Case(
            "rundir/charlm/run-dir-inside-run",
            "rundir",
            smoke_train("charlm", "{run:charlm}/inner"),
            note="a new run inside another run's folder",
        ),
        Case("rundir/charlm/run-dir-empty-string", "rundir", smoke_train("charlm", ""), note="--run-dir ''"),
        Case(
            "rundir/charlm/run-dir-unwritable",
            "rundir",
            smoke_train("charlm", "/proc/rnnkit-audit-run"),
            expect="error",
            note="--run-dir where nothing can be written",
        ),
        Case(
            "rundir/charlm/resume-checkpoint-file",
            "rundir",
            ("train", "charlm", "--resume", "{last:charlm}", "--quiet", "--max-steps", "8"),
            keep_runs=False,
            note="--resume names the checkpoint file",
        ),
        Case(
            "rundir/charlm/resume-missing",
            "rundir",
            ("train", "charlm", "--resume", "{tmp}/nothing", "--quiet"),
            expect="error",
            note="--resume of a folder that does not exist",
        ),
        Case(
            "rundir/charlm/resume-stale-lock",
            "rundir",
            ("train", "charlm", "--resume", "{run:charlm}", "--quiet", "--max-steps", "8"),
            setup=_stale_locks,
            keep_runs=False,
            expect="ok",
            note="lock-like files of a killed process (pid 999999) do not block",
        ),
        Case(
            "rundir/charlm/plot-planted",
            "rundir",
            ("plot", "{run:charlm}"),
            setup=_victim_one,
            plant=(("{run:charlm}", "curves.png", "{tmp}/victim"),),
            sentinels=("{tmp}/victim",),
            note="plot writes curves.png through a planted symlink",
        ),
        Case(
            "rundir/charlm/plot-out-over-config",
            "rundir",
            ("plot", "{run:charlm}", "--out", "{run:charlm}/config.json"),
            note="plot --out onto the run's config.json",
        ),
        Case(
            "rundir/charlm/resume-planted-last",
            "rundir",
            ("train", "charlm", "--resume", "{run:charlm}", "--quiet", "--max-steps", "8"),
            setup=_victim_one,
            plant=(("{run:charlm}", "last.safetensors", "{tmp}/victim"),),
            sentinels=("{tmp}/victim",),
            keep_runs=False,
            note="--resume saves last.safetensors through a planted symlink",
        ),
    ]
    return found


def _flat(override: dict) -> tuple:
    return tuple(x for pair in override.items() for x in pair)


def _only_best(env) -> None:
    run = env.run("charlm")
    for name in os.listdir(run):
        if name != "best.safetensors" and name != "config.json":
            path = run / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    (run / "last.safetensors").unlink(missing_ok=True)


def _no_discard_advice(outcome):
    if outcome.exit != 0 and "--overwrite" in outcome.err and "best" not in outcome.err:
        return "advises --overwrite, which would discard best.safetensors"
    return None


def _user_folder(env) -> None:
    mine = env.tmp / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("\\documentclass{article}\n")
    (mine / "data.csv").write_text("a,b\n1,2\n")


def _linked_folder(env) -> None:
    _user_folder(env)
    os.symlink(env.tmp / "mine", env.tmp / "link")


def _stale_locks(env) -> None:
    run = env.run("charlm")
    for name in (".lock", "lock", ".rnnkit.lock", "run.lock"):
        (run / name).write_text("999999\n")


def _victim_one(env) -> None:
    (env.tmp / "victim").write_text("the user's file\n")
