"""The content-addressed document store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from activities.document_store import DocumentStore


def test_put_returns_hash_and_size_and_fans_out(store: DocumentStore) -> None:
    sha, size = store.put(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    assert size == 5
    assert store.path_for(sha) == store.root / sha[:2] / sha[2:4] / sha
    assert store.exists(sha)
    assert store.read(sha) == b"hello"
    assert store.hash_of(sha) == sha
    assert store.size(sha) == 5


def test_put_twice_stores_once(store: DocumentStore) -> None:
    assert store.put(b"same") == store.put(b"same")
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert len(files) == 1


def test_no_temporary_files_are_left(store: DocumentStore) -> None:
    store.put(b"x" * 10_000)
    assert not list(store.root.rglob(".tmp-*"))


def test_put_file_streams_a_file(store: DocumentStore, tmp_path: Path) -> None:
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF-1.4 " + b"z" * 3_000_000)
    sha, size = store.put_file(source)
    assert size == source.stat().st_size
    assert store.read(sha) == source.read_bytes()


def test_unknown_hash_does_not_exist(store: DocumentStore) -> None:
    assert not store.exists("0" * 64)


def test_path_for_rejects_anything_but_a_hash(store: DocumentStore) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        store.path_for("../../etc/passwd")
    with pytest.raises(ValueError, match="SHA-256"):
        store.path_for("A" * 64)
