"""Download code, exercised with file:// URLs and a fake opener (never the network)."""

import hashlib
import io
import urllib.error

import pytest

from graphhyper._files import default_file_mode
from graphhyper.data.cards import FileEntry, get_card
from graphhyper.data.download import download_file, ensure_files, git_blob_sha1, verify_file
from graphhyper.errors import ChecksumError, DatasetError

PAYLOAD = b"0\t1\n1\t1\n" * 100


def _entry(urls, data=PAYLOAD, **kw):
    return FileEntry(path="x.edges", urls=tuple(urls), bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), **kw)


def test_file_url_download_verifies(tmp_path):
    src = tmp_path / "src.edges"
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "x.edges"
    download_file(_entry([src.as_uri()]), dest, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not list(dest.parent.glob("*.part"))
    assert dest.stat().st_mode & 0o777 == default_file_mode()  # readable as a plain write would leave it


def test_retry_then_mirror(tmp_path):
    calls = []

    def opener(url, timeout):
        calls.append(url)
        if "primary" in url:
            raise urllib.error.URLError("connection refused")
        return io.BytesIO(PAYLOAD)

    dest = tmp_path / "x.edges"
    download_file(_entry(["https://primary/x", "https://mirror/x"]), dest, opener=opener, backoff=0, progress=False)
    assert calls == ["https://primary/x"] * 3 + ["https://mirror/x"]
    assert dest.read_bytes() == PAYLOAD


def test_bad_checksum_download_leaves_nothing(tmp_path):
    bad = FileEntry(path="x", urls=("https://m/x",), bytes=len(PAYLOAD), sha256="0" * 64)
    dest = tmp_path / "x.edges"
    with pytest.raises(DatasetError, match="could not download x.edges"):
        download_file(bad, dest, opener=lambda url, timeout: io.BytesIO(PAYLOAD), retries=2, backoff=0, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_truncated_and_corrupt_files_name_the_fix(tmp_path):
    path = tmp_path / "x.edges"
    path.write_bytes(PAYLOAD[:-5])
    with pytest.raises(DatasetError, match=f"{path} is truncated.*Delete {path}"):
        verify_file(path, _entry([]))
    path.write_bytes(PAYLOAD[:-1] + b"X")
    with pytest.raises(ChecksumError, match=f"sha256 .*Delete {path}"):
        verify_file(path, _entry([]))


def test_git_blob_id():
    # `printf 'hello\n' | git hash-object --stdin`
    import pathlib
    import tempfile

    with tempfile.NamedTemporaryFile(delete=False) as fh:
        fh.write(b"hello\n")
    assert git_blob_sha1(pathlib.Path(fh.name)) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_ensure_files_downloads_missing_from_card(tmp_path, shared_data):
    """A missing Zoo file is fetched from a (fake) mirror and checked against the real card checksum."""
    card = get_card("zoo")
    real = {e.path: (shared_data / "hypergraph" / "zoo" / e.path).read_bytes() for e in card.files}
    fetched = []

    def opener(url, timeout):
        fetched.append(url)
        return io.BytesIO(real[url.rsplit("/", 1)[1]])

    folder = ensure_files(card, tmp_path, opener=opener)
    assert sorted(p.name for p in folder.iterdir()) == ["zoo.content", "zoo.edges"]
    assert all(u.startswith("https://raw.githubusercontent.com/ycq091044/LEGCN/") for u in fetched)
    ensure_files(card, tmp_path, opener=lambda *a, **k: pytest.fail("no second download"))
