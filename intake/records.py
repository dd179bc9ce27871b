"""Reading and parsing intake records, and resolving the files they name.

* **Streamed.** ``read_records`` yields one record at a time, so memory stays flat in the
  number of records (a JSON Lines file of 100,000 applications is never held whole).  A
  single JSON document may span many lines (pretty-printed); it is gathered up to
  ``MAX_RECORD_CHARS``, and a line longer than that is reported, not read into memory.
* **Strict JSON.** A key given twice in one object is an error (parsers disagree on which
  one wins), and a document nested too deeply for the parser is a field-named error, not
  a crash.
* **Nothing is stored for a bad record.** A record is validated as given first; files are
  put into the document store only when the whole record is valid.
* **Files are read safely.** Only regular files directly in ``--documents DIR`` are read:
  a symbolic link, a FIFO or a sub-path is refused (opened with ``O_NOFOLLOW``, checked on
  the open descriptor, so nothing can be swapped in between), and the size is checked
  before a byte is stored.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from pydantic import ValidationError

from activities.document_store import DocumentStore, inspect_file
from domain.checklist import StoredFile
from domain.identifiers import V_NUMBER_DIGITS, application_id_is_valid
from domain.models import Application, Model
from intake.errors import FieldError, Refused, UsageError, errors_of

# A record is one application or one event body: far below Temporal's 2 MiB payload limit.
MAX_RECORD_CHARS = 1024 * 1024
_SHA256_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Record:
    """One record of an intake file: its first line number and its text (empty when too long)."""

    line: int
    text: str
    too_long: bool = False


# --- reading --------------------------------------------------------------------------------


@contextmanager
def _open_text(source: str) -> Iterator[IO[str]]:
    if source == "-":
        yield sys.stdin
        return
    try:
        with Path(source).open(encoding="utf-8", errors="strict") as fh:
            yield fh
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{source}: is a directory") from None


def _lines(fh: IO[str], limit: int) -> Iterator[tuple[int, str, bool]]:
    """(number, text, too_long); a line over ``limit`` characters is skipped, never held."""
    number = 0
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith("\n"):
            while (rest := fh.readline(limit)) and not rest.endswith("\n"):
                pass
            yield number, "", True
        else:
            yield number, line, False


def _complete(text: str) -> bool:
    """Whether ``text`` is one JSON value (however malformed its content may be for us)."""
    try:
        json.loads(text)
    except RecursionError:
        return True  # a value, only too deep: ``load_json`` names that
    except ValueError:
        return False
    return True


def read_records(source: str, limit: int = MAX_RECORD_CHARS) -> Iterator[Record]:
    """One application (a JSON document, possibly over many lines) or many (JSON Lines); ``-`` is stdin.

    A decoding error (not UTF-8) is a usage error of the whole file.
    """
    try:
        with _open_text(source) as fh:
            yield from _records(_lines(fh, limit), limit)
    except UnicodeDecodeError:
        raise UsageError(f"{source}: not UTF-8 text") from None


def _records(lines: Iterator[tuple[int, str, bool]], limit: int) -> Iterator[Record]:  # noqa: C901  # a streaming reader: JSON document or JSON Lines, limits per record
    pending: list[tuple[int, str]] = []  # lines of a document that spans several lines
    size = 0

    def one_per_line() -> Iterator[Record]:
        for n, text in pending:
            if text.strip():
                yield Record(n, text.strip())

    json_lines = False  # once a line held a whole record, every line is one (no second parse)
    for number, line, too_long in lines:
        if too_long:
            yield from one_per_line()
            pending, size = [], 0
            yield Record(number, "", too_long=True)
            continue
        if not pending:
            if not line.strip():
                continue
            if json_lines or _complete(line):  # JSON Lines (or a document on one line)
                json_lines = True
                yield Record(number, line.strip())
                continue
            pending, size = [(number, line)], len(line)
            continue
        if line[:1] in "{[" and _complete(line):
            # A whole record on a line of its own: this is JSON Lines after a broken line.
            yield from one_per_line()
            pending, size = [], 0
            yield Record(number, line.strip())
            continue
        pending.append((number, line))
        size += len(line)
        if line[:1] in "}]":
            text = "".join(t for _, t in pending)
            if _complete(text):
                yield Record(pending[0][0], text.strip())
                pending, size = [], 0
                continue
        if size > limit:
            yield from one_per_line()
            pending, size = [], 0
    if pending:
        text = "".join(t for _, t in pending)
        if _complete(text):
            yield Record(pending[0][0], text.strip())
        else:
            yield from one_per_line()


# --- parsing --------------------------------------------------------------------------------


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKeyError(key)
        obj[key] = value
    return obj


# C0 controls but tab, line feed and carriage return; DEL; unpaired surrogates ("\ud800" in
# JSON parses to one, and no UTF-8 encoder, database or PDF can take it).
_BAD_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _bad_text(value: Any) -> FieldError | None:
    """The first string (or key) holding a character no record should hold, by field."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _BAD_CHARACTERS.search(node):
                return FieldError(path or "(record)", "holds a control character or an unpaired surrogate")
        elif isinstance(node, dict):
            for key, item in node.items():
                where = f"{path}.{key}" if path else key
                if _BAD_CHARACTERS.search(key):
                    return FieldError(
                        f"{path}.(key)" if path else "(key)", "a key holds a control character or an unpaired surrogate"
                    )
                stack.append((item, where))
        elif isinstance(node, list):
            stack.extend((item, f"{path}.{n}" if path else str(n)) for n, item in enumerate(node))
    return None


def load_json(text: str) -> tuple[Any, list[FieldError]]:
    """Parse strict JSON: a key twice in one object, a document nested too deeply, or a control
    character or unpaired surrogate in a string is an error naming the field."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError as err:
        key = err.key if len(err.key) <= 64 and err.key.isprintable() else "(a key)"
        return None, [FieldError(key, "given twice in one object")]
    except json.JSONDecodeError as err:
        return None, [FieldError("(json)", f"malformed JSON: {err.msg} at line {err.lineno} column {err.colno}")]
    except RecursionError:
        return None, [FieldError("(json)", "nested too deeply: a record is a few levels of objects and lists")]
    except ValueError as err:  # e.g. a number with thousands of digits
        return None, [FieldError("(json)", f"not valid JSON ({type(err).__name__})")]
    bad = _bad_text(value)
    return (None, [bad]) if bad is not None else (value, [])


def _record_errors(record: Record) -> list[FieldError]:
    if record.too_long:
        return [FieldError("(record)", f"longer than {MAX_RECORD_CHARS} characters")]
    return []


@dataclass
class DocumentFiles:
    """Documents named by a record or an event, resolved against ``--documents DIR`` and the store.

    ``resolve`` fills in ``sha256`` and ``size_bytes`` of each document that names a file in
    ``directory`` (reading the file, storing nothing), and checks a given ``sha256``
    against the store; ``inspected`` says what each file is.  ``ingest`` then puts the
    resolved files into the store (the caller does so only once the whole record is
    valid); ``added`` lists those that were not there before, so that a refused event can
    take them back out.
    """

    store: DocumentStore
    directory: Path | None
    max_bytes: int
    errors: list[FieldError] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    inspected: dict[str, StoredFile] = field(default_factory=dict)
    _pending: list[tuple[str, str, str]] = field(default_factory=list)  # (name, field, sha256)

    def resolve(self, docs: list[tuple[str, Any]]) -> None:
        """Resolve each ``(field, document)``; ``field`` names it in errors (``documents.2``)."""
        for where, doc in docs:
            if isinstance(doc, dict):
                self._resolve_one(doc, where)

    def _resolve_one(self, doc: dict[str, Any], where: str) -> None:
        if doc.get("sha256") is not None:
            self._check_stored(doc, where)
            return
        name = doc.get("filename")
        if not isinstance(name, str):
            return  # the model's own validation names it
        if self.directory is None:
            self.errors.append(FieldError(f"{where}.filename", "no --documents DIR given and no sha256/size_bytes recorded"))
            return
        with self._open(name, f"{where}.filename") as fh:
            if fh is None:
                return
            info = inspect_file(fh)
        self.inspected[info.sha256] = info
        doc["sha256"], doc["size_bytes"] = info.sha256, info.size_bytes
        self._pending.append((name, f"{where}.filename", info.sha256))

    def ingest(self) -> None:
        """Put the files ``resolve`` read into the store; a file changed since is an error."""
        for name, where, sha in self._pending:
            if self.store.exists(sha):
                continue
            with self._open(name, where) as fh:
                if fh is None:
                    continue
                # The store hashes while copying: what it stores is what was inspected, or nothing.
                stored, _, new = self.store.put_open(fh)
            if stored != sha:
                self.errors.append(FieldError(where, f"file {name!r} changed while it was being stored"))
            elif new:
                self.added.append(sha)
        self._pending.clear()
        if self.errors:
            self.take_back()

    @contextmanager
    def _open(self, name: str, where: str) -> Iterator[BinaryIO | None]:
        assert self.directory is not None
        if not name or Path(name).name != name or name in (".", ".."):
            self.errors.append(FieldError(where, "a file name in DIR, without a directory part"))
            yield None
            return
        path = self.directory / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            self.errors.append(FieldError(where, f"file {name!r} is missing from {self.directory}"))
            yield None
            return
        except OSError as err:
            reason = "is a symbolic link; only regular files in DIR are read" if err.errno == errno.ELOOP else "cannot be read"
            self.errors.append(FieldError(where, f"file {name!r} {reason}"))
            yield None
            return
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                self.errors.append(FieldError(where, f"file {name!r} is not a regular file"))
                yield None
            elif info.st_size > self.max_bytes:
                self.errors.append(
                    FieldError(
                        where, f"file {name!r} is {info.st_size} bytes; the limit is {self.max_bytes} (HASA_MAX_DOCUMENT_BYTES)"
                    )
                )
                yield None
            else:
                yield fh

    def _check_stored(self, doc: dict[str, Any], where: str) -> None:
        sha = doc.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64 or not _SHA256_HEX.issuperset(sha):
            self.errors.append(FieldError(f"{where}.sha256", "a sha256 is 64 lowercase hexadecimal characters"))
            return
        if not self.store.exists(sha):
            self.errors.append(FieldError(f"{where}.sha256", "no file with this sha256 in the document store"))
            return
        with self.store.open(sha) as fh:
            info = inspect_file(fh)
        self.inspected[sha] = info
        if doc.get("size_bytes") != info.size_bytes:
            self.errors.append(FieldError(f"{where}.size_bytes", "differs from the size of the stored file with this sha256"))

    def take_back(self) -> None:
        """Remove the files this resolver added to the store (for an event that was refused)."""
        for sha in self.added:
            self.store.remove(sha)
        self.added.clear()


def parse_application(  # noqa: PLR0911  # one early return per stage of validation
    text: str, files: DocumentFiles, *, ingest: bool, v_number_digits: int = V_NUMBER_DIGITS
) -> tuple[Application | None, list[FieldError]]:
    """Validate one record; files it names are ingested only when the whole record is valid.

    ``v_number_digits`` is the V-number's length, an unconfirmed value (HASA_V_NUMBER_DIGITS).
    """
    raw, errors = load_json(text)
    if errors:
        return None, errors
    if not isinstance(raw, dict):
        return None, [FieldError("(record)", "an application is a JSON object")]
    now = datetime.now(UTC)
    context = {"now": now, "v_number_digits": v_number_digits}
    # First validate as given (without hashes), so that nothing is stored for a bad record.
    try:
        Application.model_validate(raw, context=context)
    except ValidationError as err:
        return None, errors_of(err)
    value = raw.get("documents")
    docs = [(f"documents.{n}", d) for n, d in enumerate(value)] if isinstance(value, list) else []
    files.errors = []
    files.resolve(docs)
    if files.errors:
        return None, files.errors
    try:
        app = Application.model_validate(raw, context=context)
    except ValidationError as err:
        return None, errors_of(err)
    if ingest:
        files.ingest()
        if files.errors:
            return None, files.errors
    return app, []


def parse_record(
    record: Record, files: DocumentFiles, *, ingest: bool, v_number_digits: int = V_NUMBER_DIGITS
) -> tuple[Application | None, list[FieldError]]:
    """``parse_application`` for a record of ``read_records`` (a too-long line is an error of its own)."""
    errors = _record_errors(record)
    if errors:
        return None, errors
    return parse_application(record.text, files, ingest=ingest, v_number_digits=v_number_digits)


def peek_application_id(text: str) -> str | None:
    """The application id of a record, when it has a well-formed one (for reporting an invalid record)."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        return None
    value = raw.get("application_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and application_id_is_valid(value) else None


def read_body(body: str | None) -> str:
    """An event body as given on the command line: JSON, ``@FILE`` or ``@-`` (stdin); none is ``{}``."""
    text = body if body is not None else "{}"
    if text.startswith("@"):
        source = text[1:]
        if source == "-":
            text = sys.stdin.read(MAX_RECORD_CHARS + 1)
        else:
            try:
                with Path(source).open(encoding="utf-8") as fh:
                    text = fh.read(MAX_RECORD_CHARS + 1)
            except FileNotFoundError:
                raise UsageError(f"{source}: no such file") from None
            except UnicodeDecodeError:
                raise UsageError(f"{source}: not UTF-8 text") from None
    if len(text) > MAX_RECORD_CHARS:
        raise Refused(errors=[FieldError("(body)", f"longer than {MAX_RECORD_CHARS} characters")])
    return text


# Where an event body names document files: the field and whether it holds a list.
_EVENT_DOCUMENT_FIELDS = {"documents": ("documents", True), "interview-report": ("report_document", False)}


def parse_event_body(event: str, model: type[Model], text: str, files: DocumentFiles, *, ingest: bool) -> Model:
    """Validate an event body; its files are put into the store only once the body is valid.

    Raises :class:`Refused` with field-named errors.  With ``ingest``, ``files.added`` lists
    the files that were new to the store, for :meth:`DocumentFiles.take_back`.
    """
    raw, errors = load_json(text)
    if errors:
        raise Refused(errors=errors)
    try:
        model.model_validate(raw)
    except ValidationError as err:
        raise Refused(errors=errors_of(err)) from None
    assert isinstance(raw, dict)  # every event body is a model, so an object
    where = _EVENT_DOCUMENT_FIELDS.get(event)
    if where is not None:
        name, is_list = where
        value = raw.get(name)
        if is_list:
            docs = [(f"{name}.{n}", d) for n, d in enumerate(value)] if isinstance(value, list) else []
        else:
            docs = [(name, value)]
        files.resolve(docs)
        if files.errors:
            raise Refused(errors=files.errors)
    try:
        body = model.model_validate(raw)
    except ValidationError as err:
        raise Refused(errors=errors_of(err)) from None
    if ingest:
        files.ingest()
        if files.errors:
            raise Refused(errors=files.errors)
    return body
