"""``rnnkit data list`` / ``rnnkit data get``: the catalog, downloads checked against it, and
the catalog checked against the copies in ``../shared/data``.

Downloads come from a loopback ``http.server`` serving fixture files written into tmp_path
(these machines reach no data source); the commands run through the parser that
:func:`rnnkit.data.commands.add_parser` builds, as the CLI will.
"""

import argparse
import gzip
import hashlib
import http.server
import io
import json
import re
import socket
import stat
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from rnnkit.data import catalog, commands
from rnnkit.data.archives import ArchiveError, check_tar, check_zip
from rnnkit.data.catalog import Dataset, File

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HASH_LIMIT = 500 * 10**6  # bytes: above this the table test checks sizes only


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Loopback requests never go through a proxy the machine may name."""
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "RNNKIT_DATA_MIRROR",
    ):
        monkeypatch.delenv(name, raising=False)


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list  # each server's handler class gets its own list

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """(base URL, folder it serves, the paths requested) of a loopback HTTP server."""
    served = tmp_path / "served"
    served.mkdir()
    requests = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served, requests
    httpd.shutdown()
    httpd.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def spec(path: str, url: str, data: bytes, **options) -> File:
    return File(path, url, len(data), sha(data), **options)


def use(monkeypatch, *entries: Dataset) -> None:
    """Make ``entries`` the whole catalog."""
    monkeypatch.setattr(catalog, "CATALOG", {e.name: e for e in entries})


def dataset(name: str, *files: File) -> Dataset:
    return Dataset(name, name, "a fixture", "https://example.org/", "CC0", ("none",), files)


def cli(capsys, *argv):
    """(exit status, stdout, stderr) of ``rnnkit data ARGV``."""
    parser = argparse.ArgumentParser(prog="rnnkit")
    commands.add_parser(parser.add_subparsers(dest="command", required=True))
    code = commands.run(parser.parse_args(["data", *argv]))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert err.startswith("rnnkit data: error: ") and err.count("\n") == 1, err
    return err


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


A, B = b"alpha\nbeta\n", bytes(range(256)) * 40


def test_get_downloads_checks_and_then_skips(server, tmp_path, capsys, monkeypatch):
    base, served, requests = server
    (served / "a.txt").write_bytes(A)
    (served / "b.bin").write_bytes(B)
    use(monkeypatch, dataset("fixture", spec("a.txt", f"{base}/a.txt", A), spec("sub/b.bin", f"{base}/b.bin", B)))
    root = tmp_path / "data"
    code, out, err = cli(capsys, "get", "fixture", "--dir", str(root))
    assert code == 0, err
    assert "fixture: 2 files downloaded and checked, 0 already there" in out
    assert "downloading " in err  # progress on stderr
    assert (root / "fixture" / "a.txt").read_bytes() == A and (root / "fixture/sub/b.bin").read_bytes() == B
    assert listing(root / "fixture") == ["a.txt", "sub", "sub/b.bin"]  # no temporary left
    assert catalog.status(catalog.CATALOG["fixture"], root).state == "present"
    requests.clear()
    code, out, _ = cli(capsys, "get", "fixture", "--data-dir", str(root), "--quiet")
    assert code == 0 and "0 files downloaded and checked, 2 already there" in out and requests == []


def test_checksum_mismatch_keeps_nothing(server, tmp_path, capsys, monkeypatch):
    base, served, _ = server
    (served / "a.txt").write_bytes(b"alpha\nBETA\n")  # same size, other bytes
    use(monkeypatch, dataset("fixture", spec("a.txt", f"{base}/a.txt", A)))
    root = tmp_path / "data"
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(root), "--quiet")
    assert code == 2
    one_line_error(err)
    assert "fixture: a.txt: checksum mismatch" in err and sha(A) in err and sha(b"alpha\nBETA\n") in err
    assert not (root / "fixture").exists()  # the folder it made is gone, nothing partial in it
    (root / "fixture").mkdir(parents=True)
    assert cli(capsys, "get", "fixture", "--dir", str(root), "--quiet")[0] == 2
    assert listing(root / "fixture") == []


def test_a_longer_answer_is_cut_and_refused(server, tmp_path, capsys, monkeypatch):
    base, served, _ = server
    (served / "a.txt").write_bytes(A * 1000)
    use(monkeypatch, dataset("fixture", spec("a.txt", f"{base}/a.txt", A)))
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet")
    assert code == 2 and f"got more than {len(A)} bytes" in one_line_error(err)
    assert listing(tmp_path / "fixture") == []


def test_http_404_is_one_line(server, tmp_path, capsys, monkeypatch):
    base, _, _ = server
    use(monkeypatch, dataset("fixture", spec("a.txt", f"{base}/gone.txt", A)))
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path / "root"), "--quiet")
    assert code == 2 and "fixture: a.txt: HTTP 404" in one_line_error(err) and f"{base}/gone.txt" in err
    assert listing(tmp_path / "root") == []


def test_no_network_and_timeout(tmp_path, capsys, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    use(monkeypatch, dataset("fixture", spec("a.txt", f"http://127.0.0.1:{port}/a.txt", A)))
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet")
    assert code == 2 and "cannot reach" in one_line_error(err) and "--mirror" in err
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        use(monkeypatch, dataset("fixture", spec("a.txt", f"http://127.0.0.1:{silent.getsockname()[1]}/a", A)))
        code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet", "--timeout", "0.3")
    assert code == 2 and "0.3 s" in one_line_error(err)
    assert listing(tmp_path) == []


def test_present_file_is_kept_and_other_content_needs_force(server, tmp_path, capsys, monkeypatch):
    base, served, requests = server
    use(monkeypatch, dataset("fixture", spec("a.txt", f"{base}/a.txt", A)))
    target = tmp_path / "fixture" / "a.txt"
    target.parent.mkdir()
    target.write_bytes(A)  # right: kept, never downloaded (the server has no a.txt)
    code, out, _ = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet")
    assert code == 0 and "1 already there" in out and requests == []
    target.write_bytes(b"edited by hand\n")
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet")
    assert code == 2 and "--force" in one_line_error(err) and str(target) in err
    assert target.read_bytes() == b"edited by hand\n"
    (served / "a.txt").write_bytes(A)
    code, out, _ = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet", "--force")
    assert code == 0 and target.read_bytes() == A and "1 file downloaded" in out


def test_list_shows_present_missing_and_the_corrupt_file(tmp_path, capsys, monkeypatch):
    here, gone = (
        dataset("here", spec("a.txt", "https://example.org/a", A), spec("b.bin", "https://example.org/b", B)),
        dataset("gone", spec("a.txt", "https://example.org/a", A)),
    )
    use(monkeypatch, here, gone)
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "a.txt").write_bytes(A)
    (tmp_path / "here" / "b.bin").write_bytes(B)
    code, out, _ = cli(capsys, "list", "--data-dir", str(tmp_path))
    assert code == 0
    assert re.search(r"^here +present +\d+ kB +CC0 +https://example.org/$", out, re.MULTILINE), out
    assert re.search(r"^gone +missing ", out, re.MULTILINE) and "rnnkit data get NAME" in out
    (tmp_path / "here" / "b.bin").write_bytes(B[:-1])
    out = cli(capsys, "list", "--data-dir", str(tmp_path))[1]
    assert re.search(r"^here +corrupt ", out, re.MULTILINE) and f"    b.bin: expected {len(B)} bytes" in out
    (tmp_path / "here" / "b.bin").unlink()
    assert catalog.status(here, tmp_path).state == "incomplete"
    listed = json.loads(cli(capsys, "list", "--data-dir", str(tmp_path), "--json")[1])
    first = listed["datasets"][0]
    assert first["state"] == "incomplete" and first["problems"] == {"b.bin": "missing"}
    assert first["files"][0]["sha256"] == sha(A) and first["get"] == "rnnkit data get here"


def test_unknown_name_lists_the_names(tmp_path, capsys, monkeypatch):
    use(monkeypatch, dataset("fixture", spec("a.txt", "https://example.org/a", A)))
    code, _, err = cli(capsys, "get", "fixture", "nope", "--dir", str(tmp_path))
    assert code == 2 and "'nope'" in one_line_error(err) and "expected one of: fixture (or all)" in err
    assert commands.fetch_hint("ptb") == "rnnkit data get ptb"


def _tar(members: dict, links: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return buffer.getvalue()


def _zip(members: dict, links: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def test_archives_gzip_zip_and_tar(server, tmp_path, capsys, monkeypatch):
    base, served, requests = server
    (served / "set.zip").write_bytes(_zip({"data/a.txt": A, "data/b.bin": B, "data/": b""}))
    (served / "set.tar.gz").write_bytes(_tar({"x/a.txt": A}))
    (served / "b.bin.gz").write_bytes(gzip.compress(B))
    use(
        monkeypatch,
        dataset(
            "fixture",
            spec("a.txt", f"{base}/set.zip", A, unpack="zip", member="data/a.txt"),
            spec("b.bin", f"{base}/set.zip", B, unpack="zip", member="data/b.bin"),
            spec("t.txt", f"{base}/set.tar.gz", A, unpack="tar", member="x/a.txt"),
            spec("g.bin", f"{base}/b.bin.gz", B, unpack="gzip"),
        ),
    )
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet")
    assert code == 0, err
    assert listing(tmp_path / "fixture") == ["a.txt", "b.bin", "g.bin", "t.txt"]  # no archive left
    assert sorted(requests) == ["/b.bin.gz", "/set.tar.gz", "/set.zip"]  # the zip fetched once for both
    assert catalog.status(catalog.CATALOG["fixture"], tmp_path).state == "present"


@pytest.mark.parametrize(
    "kind, archive",
    [
        ("tar", _tar({"data/a.txt": A, "../evil.txt": b"x"})),
        ("tar", _tar({"data/a.txt": A, "/tmp/evil.txt": b"x"})),
        ("tar", _tar({"data/a.txt": A}, links={"data/link": "/etc/passwd"})),
        ("zip", _zip({"data/a.txt": A, "data/../../evil.txt": b"x"})),
        ("zip", _zip({"data/a.txt": A}, links={"data/link": "/etc/passwd"})),
    ],
    ids=["tar-dotdot", "tar-absolute", "tar-symlink", "zip-dotdot", "zip-symlink"],
)
def test_unsafe_archives_are_refused_whole(server, tmp_path, capsys, monkeypatch, kind, archive):
    base, served, _ = server
    (served / f"set.{kind}").write_bytes(archive)
    use(monkeypatch, dataset("fixture", spec("a.txt", f"{base}/set.{kind}", A, unpack=kind, member="data/a.txt")))
    root = tmp_path / "root"
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(root), "--quiet")
    assert code == 2 and "unsafe archive" in one_line_error(err)
    assert listing(root) == [] and not (tmp_path / "evil.txt").exists()
    if kind == "tar":
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar, pytest.raises(ArchiveError, match="unsafe archive"):
            check_tar(tar)
    else:
        with zipfile.ZipFile(io.BytesIO(archive)) as zip_, pytest.raises(ArchiveError, match="unsafe archive"):
            check_zip(zip_)


def test_a_missing_member_names_what_the_archive_holds(server, tmp_path, capsys, monkeypatch):
    base, served, _ = server
    (served / "set.zip").write_bytes(_zip({"other.txt": A}))
    use(monkeypatch, dataset("fixture", spec("a.txt", f"{base}/set.zip", A, unpack="zip", member="data/a.txt")))
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet")
    assert code == 2 and "no member 'data/a.txt'" in one_line_error(err) and "other.txt" in err


def test_mirror_option_and_environment(server, tmp_path, capsys, monkeypatch):
    base, served, requests = server
    (served / "data.example.invalid" / "set").mkdir(parents=True)
    (served / "data.example.invalid" / "set" / "a.txt").write_bytes(A)
    use(monkeypatch, dataset("fixture", spec("a.txt", "https://data.example.invalid/set/a.txt", A)))
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path / "one"), "--mirror", base + "/", "--quiet")
    assert code == 0, err
    monkeypatch.setenv("RNNKIT_DATA_MIRROR", base)
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path / "two"), "--quiet")
    assert code == 0, err
    assert requests == ["/data.example.invalid/set/a.txt"] * 2
    assert (tmp_path / "two" / "fixture" / "a.txt").read_bytes() == A


def test_a_mirror_that_is_no_address_is_one_line_and_makes_nothing(tmp_path, capsys, monkeypatch):
    use(monkeypatch, dataset("fixture", spec("a.txt", "https://example.org/a", A)))
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path / "dl"), "--mirror", "notaurl")
    assert code == 2 and "--mirror notaurl: expected an http://, https:// or file:// address" in one_line_error(err)
    monkeypatch.setenv("RNNKIT_DATA_MIRROR", "ftp://x")
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path / "dl"))
    assert code == 2 and "$RNNKIT_DATA_MIRROR ftp://x: expected" in one_line_error(err)
    assert not (tmp_path / "dl").exists()


def test_a_recompressed_gzip_with_the_same_content_is_accepted(server, tmp_path, capsys, monkeypatch):
    base, served, _ = server
    ours, theirs = gzip.compress(B, compresslevel=9, mtime=0), gzip.compress(B, compresslevel=1, mtime=1)
    assert ours != theirs
    (served / "b.gz").write_bytes(theirs)
    use(monkeypatch, dataset("fixture", spec("b.gz", f"{base}/b.gz", ours, gunzipped=(len(B), sha(B)))))
    code, _, err = cli(capsys, "get", "fixture", "--dir", str(tmp_path), "--quiet")
    assert code == 0, err
    assert (tmp_path / "fixture" / "b.gz").read_bytes() == theirs
    assert catalog.status(catalog.CATALOG["fixture"], tmp_path).state == "present"


def test_the_table_refuses_paths_that_leave_their_folder():
    for bad in ("../x", "/etc/x", "a/../../x", "C:x"):
        with pytest.raises(ValueError, match="leaves its folder"):
            catalog.check_table([dataset("bad", spec(bad, "https://example.org/x", A))])
    with pytest.raises(ValueError, match="member"):
        catalog.check_table([dataset("bad", spec("x", "https://example.org/x", A, unpack="zip"))])


def test_the_catalog_matches_the_shared_data():
    """Every file of every data set is in ../shared/data with the table's size and sha256, and
    every md5 a folder's README gives is the md5 of one of its files (or of its content)."""
    if not SHARED.is_dir():
        pytest.skip(f"no shared data folder at {SHARED} (the table is checked where the data is)")
    total = sum(entry.size for entry in catalog.DATASETS)
    for entry in catalog.DATASETS:
        folder = SHARED / entry.folder
        for spec_ in entry.files:
            assert (folder / spec_.path).stat().st_size == spec_.size, f"{entry.name}: {spec_.path}"
        if total <= HASH_LIMIT:  # ~120 MB today: hashed in well under a second
            assert catalog.status(entry, SHARED).state == "present", str(catalog.status(entry, SHARED))
            _readme_md5s_agree(folder)
    unlisted = {p.name for p in SHARED.iterdir() if p.is_dir()} - {e.folder for e in catalog.DATASETS}
    assert not unlisted, f"data folders in {SHARED} that rnnkit.data.catalog does not list: {sorted(unlisted)}"


def _readme_md5s_agree(folder: Path) -> None:
    readme = folder / "README.md"
    if not readme.exists():
        return
    given = set(re.findall(r"\b[0-9a-f]{32}\b", readme.read_text(encoding="utf-8")))
    # the wikitext-2 README also gives the md5 of the archive its train.txt was rebuilt from
    unmatched = given - {"96158abf59961f28c77a8173f7018f7f"}
    files = [path for path in folder.iterdir() if path.name != "README.md" and path.is_file()]
    if unmatched:
        unmatched -= {hashlib.md5(path.read_bytes()).hexdigest() for path in files}
    if unmatched:  # a README that gives the md5 of the decompressed content (fashion-mnist)
        unmatched -= {hashlib.md5(gzip.decompress(p.read_bytes())).hexdigest() for p in files if p.suffix == ".gz"}
    assert not unmatched, f"{readme}: md5 sums that match no file: {sorted(unmatched)}"


def test_the_table_loads_from_its_json_and_refuses_an_ill_formed_one():
    shipped = (Path(catalog.__file__).parent / "catalog.json").read_text(encoding="utf-8")
    assert catalog.load_table(shipped) == catalog.DATASETS
    assert list(catalog.CATALOG) == [entry.name for entry in catalog.DATASETS]
    entry = {"name": "x", "folder": "x", "description": "d", "source": "s", "licence": "l", "recipes": ["none"]}
    good = {"path": "a.txt", "url": "https://example.org/a", "size": len(A), "sha256": sha(A)}
    loaded = catalog.load_table(json.dumps({"datasets": [{**entry, "files": [good]}]}))
    assert loaded[0].files == (spec("a.txt", good["url"], A),)
    for files, match in (
        ([{**good, "size": "1"}], "data set 'x': a file: field 'size': expected int"),
        ([{**good, "extra": 1}], "field 'extra' unknown"),
        ([{**good, "gunzipped": [1]}], r"expected gunzipped as \[size, sha256\]"),
        ([{**good, "path": "../a"}], "leaves its folder"),
    ):
        with pytest.raises(ValueError, match=match):
            catalog.load_table(json.dumps({"datasets": [{**entry, "files": files}]}))
    with pytest.raises(ValueError, match="catalog.json: not a table of data sets"):
        catalog.load_table("[]")
