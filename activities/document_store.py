"""A content-addressed store for the documents an applicant hands in.

A file is named by the SHA-256 of its bytes, so the name proves the content: the document
check re-hashes a file and compares, the same scan handed in twice is stored once, and
nothing about the applicant (file names, names) appears on disk.  Writes go to a temporary
file in the target directory and are moved into place with ``os.replace``, so a crash
never leaves a half-written file under a valid name.  Files fan out as ``ab/cd/<sha>`` to
keep directories small.

The intake side (``starter.py``) puts files in; the document check activity reads them.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024


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
        source = Path(path)
        with source.open("rb") as f:
            digest, size = _sha256_of(iter(lambda: f.read(_CHUNK), b""))
        target = self.path_for(digest)
        if not target.is_file():
            with source.open("rb") as f:
                self._write_atomically(target, iter(lambda: f.read(_CHUNK), b""), digest)
        return digest, size

    def _write_atomically(self, target: Path, chunks: Iterable[bytes], digest: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
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
            # Stored documents are evidence: nobody should edit them in place.
            tmp.chmod(0o444)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _sha256_of(chunks: Iterable[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    for chunk in chunks:
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size
