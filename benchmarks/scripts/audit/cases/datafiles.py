"""Crafted data files, read by the cheapest command that reads each format:
CSV (``forecast --csv``, ``train timeseries --csv``), CoNLL-U (``eval --conllu``),
idx (``predict --idx``, gzip bombs), PNG (``predict IMAGE``, a decompression bomb),
word pairs and analogies (``eval --pairs/--analogies``), priors (``predict --prior``),
text corpora (``eval --text``), pretrained vectors, chat pairs.
"""

from __future__ import annotations

import os

from ..core import Case
from ..fixtures import idx_images, idx_labels, png
from .common import finite_output, smoke_train

CSV = {
    "empty": b"",
    "header-only": b"t,value\n",
    "one-row": b"t,value\n1,1.0\n",
    "nan-values": b"t,value\n" + b"".join(b"%d,nan\n" % i for i in range(40)),
    "inf-values": b"t,value\n" + b"".join(b"%d,inf\n" % i for i in range(40)),
    "huge-values": b"t,value\n" + b"".join(b"%d,1e308\n" % i for i in range(40)),
    "tiny-values": b"t,value\n" + b"".join(b"%d,1e-320\n" % i for i in range(40)),
    "constant": b"t,value\n" + b"".join(b"%d,5\n" % i for i in range(40)),
    "text-values": b"t,value\n" + b"".join(b"%d,abc\n" % i for i in range(40)),
    "missing-column": b"t,other\n" + b"".join(b"%d,1\n" % i for i in range(40)),
    "duplicate-header": b"t,value,value\n" + b"".join(b"%d,1,2\n" % i for i in range(40)),
    "bom-crlf": b"\xef\xbb\xbft,value\r\n" + b"".join(b"%d,%d\r\n" % (i, i % 7) for i in range(40)),
    "latin1": "t,valüe\n".encode("latin-1") + b"".join(b"%d,%d\n" % (i, i % 7) for i in range(40)),
    "ragged": b"t,value\n1,2\n2\n3,4,5\n" + b"".join(b"%d,%d\n" % (i, i % 7) for i in range(4, 40)),
    "time-backwards": b"t,value\n" + b"".join(b"%d,%d\n" % (100 - i, i % 7) for i in range(40)),
    "time-duplicates": b"t,value\n" + b"".join(b"%d,%d\n" % (i // 2, i % 7) for i in range(40)),
    "gaps": b"t,value\n" + b"".join(b"%d,%s\n" % (i, b"" if i % 3 else b"4") for i in range(40)),
    "wide-line": b"t,value" + b",x" * 500_000 + b"\n1,2\n",
    "binary": bytes(range(256)) * 8,
    "yyyymmdd": b"t,value\n" + b"".join(b"2001%02d%02d,%d\n" % (1 + i // 28, 1 + i % 28, i % 7) for i in range(60)),
    "iso-dates": b"t,value\n" + b"".join(b"2001-%02d-%02d,%d\n" % (1 + i // 28, 1 + i % 28, i % 7) for i in range(60)),
}
CONLLU = {
    "empty": b"",
    "comments-only": b"# text = nothing\n\n",
    "wrong-columns": b"1\tThe\tthe\n\n",
    "id-not-integer": b"x\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n\n",
    "multiword-range": b"1-2\tdont\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdo\tdo\tAUX\tVBP\t_\t0\troot\t_\t_\n2\tnt\tnot\tPART\tRB\t_\t1\tadvmod\t_\t_\n\n",
    "empty-node": b"1\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n1.1\tx\tx\tNOUN\tNN\t_\t_\t_\t0:root\t_\n\n",
    "not-utf8": b"1\tCaf\xe9\tcafe\tNOUN\tNN\t_\t0\troot\t_\t_\n\n",
    "no-final-blank": b"1\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_",
    "unknown-tag": b"1\tThe\tthe\tNOTATAG\tDT\t_\t0\troot\t_\t_\n\n",
    "huge-sentence": b"".join(b"%d\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n" % (i + 1) for i in range(100_000)) + b"\n",
    "binary": bytes(range(256)) * 8,
}
PAIRS = {
    "nan-score": b"king\tqueen\tnan\nman\twoman\t8.5\ncat\tdog\t8\nking\tcat\t1\n",
    "inf-score": b"king\tqueen\tinf\nman\twoman\t8.5\ncat\tdog\t8\nking\tcat\t1\n",
    "huge-score": b"king\tqueen\t1e308\nman\twoman\t-1e308\ncat\tdog\t8\nking\tcat\t1\n",
    "empty": b"",
    "one-column": b"king\nqueen\n",
    "text-score": b"king\tqueen\thigh\n",
    "unknown-words": b"zzz\tqqq\t1\nxxx\tyyy\t2\n",
    "latin1": "kïng\tqueen\t1\n".encode("latin-1"),
    "constant-scores": b"king\tqueen\t1\nman\twoman\t1\ncat\tdog\t1\n",
}
PRIORS = {
    "json-duplicate-keys": b'{"Ovish": 0.5, "Ovish": 0.2, "Sonish": 0.3}',
    "tsv-duplicate-keys": b"Ovish\t0.5\nOvish\t0.2\nSonish\t0.3\n",
    "json-nan": b'{"Ovish": NaN, "Sonish": 0.5, "Mcish": 0.5}',
    "json-negative": b'{"Ovish": -1, "Sonish": 1, "Mcish": 1}',
    "json-zero": b'{"Ovish": 0, "Sonish": 0, "Mcish": 0}',
    "json-huge": b'{"Ovish": 1e308, "Sonish": 1e308, "Mcish": 1e308}',
    "json-unknown-language": b'{"Klingon": 1}',
    "json-list": b"[0.3, 0.3, 0.4]",
    "json-deep": b"[" * 100_000 + b"]" * 100_000,
    "empty": b"",
    "binary": bytes(range(256)),
}
TEXTS = {
    "empty": b"",
    "binary": bytes(range(256)) * 40,
    "utf16": "First Citizen\n".encode("utf-16") * 50,
    "one-long-line": b"First " * 1_000_000,
    "unseen-characters": "\u2603\u2603\u2603\n".encode() * 100,
}
VECTORS = {
    "empty": b"",
    "bad-header": b"3 x\nthe 1 2\n",
    "wrong-dim": b"2 3\nthe 1 2 3\nman 1 2\n",
    "nan-values": b"2 8\nthe " + b"nan " * 8 + b"\nman " + b"1 " * 8 + b"\n",
    "huge-header": b"1000000000 1000000000\nthe 1\n",
    "binary": bytes(range(256)) * 4,
}


def _writer(name: str, data: bytes):
    def setup(env):
        (env.tmp / name).write_bytes(data)

    return setup


def cases() -> list[Case]:
    found = []
    for name, data in CSV.items():
        found.append(
            Case(
                f"datafile/csv/{name}/forecast",
                "datafile",
                (
                    "forecast",
                    "{run:timeseries}",
                    "--csv",
                    "{tmp}/series.csv",
                    "--column",
                    "value",
                    "--time-column",
                    "t",
                    "--horizon",
                    "3",
                ),
                setup=_writer("series.csv", data),
                check=finite_output,
                note=f"forecast --csv: {name}",
            )
        )
    for name in ("nan-values", "huge-values", "constant", "yyyymmdd", "time-backwards", "gaps", "tiny-values"):
        found.append(
            Case(
                f"datafile/csv/{name}/train",
                "datafile",
                smoke_train("timeseries", csv="{tmp}/series.csv"),
                setup=_writer("series.csv", CSV[name]),
                check=finite_output,
                note=f"train timeseries --csv: {name}",
            )
        )
    for name, data in CONLLU.items():
        found.append(
            Case(
                f"datafile/conllu/{name}/eval",
                "datafile",
                ("eval", "{run:postag}", "--conllu", "{tmp}/x.conllu"),
                setup=_writer("x.conllu", data),
                note=f"eval --conllu: {name}",
            )
        )
        found.append(
            Case(
                f"datafile/conllu/{name}/tag-input",
                "datafile",
                ("tag", "{run:postag}", "--input", "{tmp}/x.conllu", "--format", "conllu"),
                setup=_writer("x.conllu", data),
                note=f"tag --input: {name}",
            )
        )
    for name, data in PAIRS.items():
        found.append(
            Case(
                f"datafile/pairs/{name}",
                "datafile",
                ("eval", "{run:embeddings}", "--pairs", "{tmp}/pairs.tsv"),
                setup=_writer("pairs.tsv", data),
                expect="error" if name in ("nan-score", "inf-score") else "any",
                check=finite_output,
                note=f"eval --pairs: {name}",
            )
        )
    for name, data in (
        ("empty", b""),
        ("two-words", b"man king\n"),
        ("unknown", b"zz yy xx ww\n"),
        ("binary", bytes(range(256))),
    ):
        found.append(
            Case(
                f"datafile/analogies/{name}",
                "datafile",
                ("eval", "{run:embeddings}", "--analogies", "{tmp}/an.txt"),
                setup=_writer("an.txt", data),
                note=f"eval --analogies: {name}",
            )
        )
    for name, data in PRIORS.items():
        found.append(
            Case(
                f"datafile/prior/{name}",
                "datafile",
                ("predict", "{run:names}", "Kowalski", "--prior", "{tmp}/prior.json"),
                setup=_writer("prior.json", data),
                check=finite_output,
                expect="error" if name != "json-huge" else "any",
                note=f"predict --prior: {name}",
            )
        )
    for name, data in TEXTS.items():
        found.append(
            Case(
                f"datafile/text/{name}/eval",
                "datafile",
                ("eval", "{run:charlm}", "--text", "{tmp}/t.txt"),
                setup=_writer("t.txt", data),
                check=finite_output,
                note=f"charlm eval --text: {name}",
            )
        )
    for name, data in VECTORS.items():
        found.append(
            Case(
                f"datafile/vectors/{name}/train-wordlm",
                "datafile",
                smoke_train("wordlm", **{"--pretrained-embeddings": "{tmp}/v.txt"}),
                setup=_writer("v.txt", data),
                note=f"train wordlm --pretrained-embeddings: {name}",
            )
        )
    for name, data in (
        ("empty", b""),
        ("no-tab", b"hello there\n" * 20),
        ("one-side-empty", b"hi\t\n" * 20),
        ("binary", bytes(range(256)) * 4),
        ("long-line", b"word " * 200_000 + b"\treply\n"),
    ):
        found.append(
            Case(
                f"datafile/chat-pairs/{name}/train",
                "datafile",
                smoke_train("chat", dataset="{tmp}/pairs.tsv"),
                setup=_writer("pairs.tsv", data),
                note=f"train chat --dataset TSV: {name}",
            )
        )
    idx = {
        "claims-1e9-images": lambda p: idx_images(p, 10**9, data_bytes=784 * 10),
        "zero-rows": lambda p: idx_images(p, 10, rows=0, cols=0),
        "huge-rows": lambda p: idx_images(p, 1, rows=100_000, cols=100_000, data_bytes=1000),
        "wrong-magic": lambda p: idx_images(p, 10, magic=0x00000801),
        "truncated-gzip": lambda p: (idx_images(p, 10), p.write_bytes(p.read_bytes()[:60])),
        "not-gzip": lambda p: p.write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 100),
        "labels-file": lambda p: idx_labels(p, 10),
    }
    for name, make in idx.items():
        found.append(
            Case(
                f"datafile/idx/{name}/predict",
                "datafile",
                ("predict", "{run:seqmnist}", "--idx", "{tmp}/x-idx3-ubyte.gz", "--index", "0"),
                setup=lambda env, make=make: make(env.tmp / "x-idx3-ubyte.gz"),
                note=f"predict --idx: {name}",
            )
        )
    found.append(
        Case(
            "datafile/idx/gzip-bomb/predict",
            "datafile",
            ("predict", "{run:seqmnist}", "--idx", "{cache}/bomb-idx3-ubyte.gz", "--index", "0"),
            setup=_idx_bomb,
            mem_gb=3.0,
            timeout=90,
            note="a gzip idx file of a few MB that inflates to ~3.1 GB (its header true): bounded memory",
        )
    )
    found.append(
        Case(
            "datafile/idx/gzip-bomb/train",
            "datafile",
            smoke_train("seqmnist", **{"--data-dir": "{tmp}/mnist"}),
            setup=_idx_bomb_dir,
            mem_gb=3.0,
            timeout=90,
            note="train seqmnist on a folder whose training images are a gzip bomb",
        )
    )
    pngs = {"bomb-20000": (20000, 20000, 1), "1x1": (1, 1, 8), "wide": (100_000, 1, 8), "16bit": (28, 28, 16)}
    for name, (w, h, bits) in pngs.items():
        found.append(
            Case(
                f"datafile/png/{name}/predict",
                "datafile",
                ("predict", "{run:seqmnist}", "{tmp}/x.png"),
                setup=lambda env, w=w, h=h, bits=bits: png(env.tmp / "x.png", w, h, bits),
                timeout=90,
                note=f"predict IMAGE: a {w} x {h} PNG ({bits}-bit)",
            )
        )
    for name, data in (("empty", b""), ("text", b"not an image\n"), ("truncated", b"\x89PNG\r\n\x1a\n\x00\x00")):
        found.append(
            Case(
                f"datafile/png/{name}/predict",
                "datafile",
                ("predict", "{run:seqmnist}", "{tmp}/x.png"),
                setup=_writer("x.png", data),
                note=f"predict IMAGE: {name}",
            )
        )
    for what, make in (
        ("fifo", lambda env: os.mkfifo(env.tmp / "in")),
        ("directory", lambda env: (env.tmp / "in").mkdir()),
    ):
        found += [
            Case(
                f"datafile/{what}/charlm-eval-text",
                "datafile",
                ("eval", "{run:charlm}", "--text", "{tmp}/in"),
                setup=make,
                expect="error",
                check=_not_no_such_file,
                timeout=30,
                note=f"eval --text names a {what}",
            ),
            Case(
                f"datafile/{what}/train-charlm-text",
                "datafile",
                smoke_train("charlm", text="{tmp}/in"),
                setup=make,
                expect="error",
                check=_not_no_such_file,
                timeout=30,
                note=f"train --text names a {what}",
            ),
            Case(
                f"datafile/{what}/tag-input",
                "datafile",
                ("tag", "{run:postag}", "--input", "{tmp}/in"),
                setup=make,
                expect="error",
                check=_not_no_such_file,
                timeout=30,
                note=f"tag --input names a {what}",
            ),
            Case(
                f"datafile/{what}/forecast-csv",
                "datafile",
                ("forecast", "{run:timeseries}", "--csv", "{tmp}/in", "--column", "value"),
                setup=make,
                expect="error",
                check=_not_no_such_file,
                timeout=30,
                note=f"forecast --csv names a {what}",
            ),
        ]
    return found


def _not_no_such_file(outcome):
    if outcome.exit != 0 and "no such file" in outcome.err.lower():
        return "says 'no such file' for a path that exists (a FIFO or a folder)"
    return None


def _idx_bomb(env):
    return env.ctx.cached("bomb-idx3-ubyte.gz", lambda p: idx_images(p, 4_000_000))


def _idx_bomb_dir(env) -> None:
    import shutil

    bomb = _idx_bomb(env)
    folder = env.tmp / "mnist"
    folder.mkdir(parents=True)
    for name in os.listdir(env.fx / "mnist"):
        if name.endswith(".gz") and not name.startswith("train-images"):
            shutil.copyfile(env.fx / "mnist" / name, folder / name)
    os.symlink(bomb, folder / "train-images-idx3-ubyte.gz")
