"""The content-addressed blob store that keeps attachments, oversized bodies and raw mails
outside Kafka."""

from __future__ import annotations

import hashlib

import pytest

from shared.blobs import BlobNotFound, BlobStore, InMemoryBlobStore


@pytest.fixture(params=["files", "memory"])
def store(request, tmp_path):
    return BlobStore(tmp_path / "attachments") if request.param == "files" else InMemoryBlobStore()


def test_a_blob_is_named_by_the_sha256_of_its_bytes(store):
    blob = store.put(b"%PDF-1.4 invoice", "application/pdf", "Rechnung.pdf")
    assert blob.sha256 == hashlib.sha256(b"%PDF-1.4 invoice").hexdigest()
    assert (blob.size, blob.content_type, blob.filename) == (16, "application/pdf", "Rechnung.pdf")
    assert store.read(blob.sha256) == b"%PDF-1.4 invoice"


def test_storing_the_same_bytes_twice_keeps_one_copy(tmp_path):
    store = BlobStore(tmp_path)
    first = store.put(b"same", "text/plain", "a.txt")
    second = store.put(b"same", "text/plain", "b.txt")
    assert first.sha256 == second.sha256
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [first.sha256]


def test_a_blob_is_found_again_by_hash_for_download(tmp_path):
    blob = BlobStore(tmp_path).put(b"\x89PNG image bytes", "image/png")
    with BlobStore(tmp_path).open(blob.sha256) as handle:
        assert handle.read() == b"\x89PNG image bytes"


def test_an_unknown_or_malformed_hash_is_not_found(store):
    with pytest.raises(BlobNotFound):
        store.read("0" * 64)
    with pytest.raises(BlobNotFound):
        store.read("../../etc/passwd")


def test_no_temporary_file_is_left_behind(tmp_path):
    store = BlobStore(tmp_path)
    with store.durable_batch():
        for n in range(20):
            store.put(f"blob {n}".encode())
    leftovers = [p for p in tmp_path.rglob(".incoming-*")]
    assert leftovers == []
    assert sum(1 for p in tmp_path.rglob("*") if p.is_file()) == 20



def test_a_leftover_temporary_file_of_an_earlier_process_does_not_stop_a_put(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a process killed mid-put leaves `.incoming-<pid>-<n>`; a later process may get that pid
    import itertools
    import os

    from shared import blobs as blob_module

    store = BlobStore(tmp_path)
    data = b"the same bytes"
    folder = store.path_of(hashlib.sha256(data).hexdigest()).parent
    folder.mkdir(parents=True)
    leftover = folder / f".incoming-{os.getpid()}-7"
    leftover.write_bytes(b"half a blob")
    monkeypatch.setattr(blob_module, "_INCOMING", itertools.count(7))
    stored = store.put(data)
    assert store.read(stored.sha256) == data
    assert leftover.read_bytes() == b"half a blob"  # not this put's to remove
