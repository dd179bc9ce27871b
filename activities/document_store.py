"""A content-addressed store for the documents an applicant hands in.

A file is named by the SHA-256 of its bytes, so the name proves the content: the document
check re-hashes a file and compares, the same scan handed in twice is stored once, and
nothing about the applicant (file names, names) appears on disk.  Writes go to a temporary
file in the target directory and are moved into place with ``os.replace``, so a crash
never leaves a half-written file under a valid name.  Files fan out as ``ab/cd/<sha>`` to
keep directories small.

The intake side (``intake/``) puts files in; the document check activity reads them.  Both
judge a file with the one ``inspect_file`` below.  The store holds personal documents: its
folders are created 0700 and its files 0400 (owner-only, and read-only because they are
evidence).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import filetype

from domain.checklist import StoredFile

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
# filetype recognises every supported type from the first 261 bytes; read a little more.
HEAD_BYTES = 8192
DIR_MODE = 0o700
FILE_MODE = 0o400


def inspect_file(source: BinaryIO) -> StoredFile:
    """What a file is, in one pass from its start: SHA-256, size, and the type its content shows."""
    source.seek(0)
    digest = hashlib.sha256()
    size = 0
    head = b""
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        digest.update(chunk)
        size += len(chunk)
    kind = filetype.guess(head) if head else None
    return StoredFile(sha256=digest.hexdigest(), size_bytes=size, detected_media_type=str(kind.mime) if kind else None)


class DocumentStore:
    """Files under ``root``, addressed by the lowercase hex SHA-256 of their content."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a lowercase hex SHA-256")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def remove(self, sha256: str) -> None:
        """Take a file back out (intake does so for an event that was refused)."""
        self.path_for(sha256).unlink(missing_ok=True)

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def head(self, sha256: str, size: int = 8192) -> bytes:
        """The first bytes of a file: enough to judge its type by content."""
        with self.path_for(sha256).open("rb") as f:
            return f.read(size)

    def size(self, sha256: str) -> int:
        return self.path_for(sha256).stat().st_size

    def hash_of(self, sha256: str) -> str:
        """The SHA-256 of the stored bytes as they are now (to detect a damaged file)."""
        with self.path_for(sha256).open("rb") as f:
            return _sha256_of(iter(lambda: f.read(_CHUNK), b""))[0]

    def put(self, data: bytes) -> tuple[str, int]:
        """Store bytes; returns (sha256, size).  Storing the same bytes again is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if not target.is_file():
            self._write_atomically(target, [data], digest)
        return digest, len(data)

    def put_file(self, path: Path | str) -> tuple[str, int]:
        """Store a file's content without reading it into memory at once."""
        with Path(path).open("rb") as f:
            digest, size, _ = self.put_open(f)
        return digest, size

    def put_open(self, source: BinaryIO) -> tuple[str, int, bool]:
        """Store an open file's content (from its start); returns (sha256, size, newly stored)."""
        source.seek(0)
        digest, size = _sha256_of(iter(lambda: source.read(_CHUNK), b""))
        target = self.path_for(digest)
        if target.is_file():
            return digest, size, False
        source.seek(0)
        self._write_atomically(target, iter(lambda: source.read(_CHUNK), b""), digest)
        return digest, size, True

    def _write_atomically(self, target: Path, chunks: Iterable[bytes], digest: str) -> None:
        _make_private_dirs(self.root, target.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        tmp = Path(tmp_name)
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != digest:
                # The source changed between hashing and copying: never file it under a
                # name its content does not have.
                raise OSError("the file changed while it was being stored")
            # Stored documents are evidence: nobody should edit them in place; only the owner reads.
            tmp.chmod(FILE_MODE)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _make_private_dirs(root: Path, leaf: Path) -> None:
    """``mkdir -p`` with mode 0700 for the store's own folders (whatever the umask)."""
    for folder in [*reversed(leaf.relative_to(root).parents), leaf.relative_to(root)]:
        path = root / folder
        if not path.is_dir():
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            path.chmod(DIR_MODE)


def _sha256_of(chunks: Iterable[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    for chunk in chunks:
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size
