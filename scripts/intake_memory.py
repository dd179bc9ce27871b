"""Peak memory of reading and validating N JSON Lines records, before and after streaming.

    .venv/bin/python -m scripts.intake_memory [N]       # default 100000

Writes N copies of the example application (without document files) to a temporary
JSON Lines file and runs, each in a fresh process (peak RSS from ``getrusage``):

* ``baseline``: the interpreter with the intake modules imported, reading nothing;
* ``before``: the way ``starter.py submit`` read its input before issue 8 (the whole file
  read, split into lines, every record kept in a list), then each record validated;
* ``after``: ``intake.records.read_records`` (streamed) with each record validated and
  dropped, a window at a time as ``starter.py submit`` does.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "application.json"


def _old_read_records(source: str) -> Iterator[tuple[int, str]]:
    """``starter.read_records`` as it was (commit 4626b9c)."""
    text = Path(source).read_text(encoding="utf-8")
    stripped = text.strip()
    if not stripped:
        return
    try:
        json.loads(stripped)
    except json.JSONDecodeError:
        pass
    else:
        yield 1, stripped
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _child(mode: str, source: str) -> None:
    import itertools

    from activities.document_store import DocumentStore
    from intake.records import DocumentFiles, parse_record, read_records

    files = DocumentFiles(DocumentStore(tempfile.mkdtemp()), None, 20 * 1024 * 1024)
    valid = 0
    started = time.monotonic()
    if mode == "before":
        from intake.records import parse_application

        records = list(_old_read_records(source))  # as `submit` did: list(read_records(source))
        for _, text in records:
            valid += parse_application(text, files, ingest=False)[0] is not None
    elif mode == "after":
        stream = read_records(source)
        while chunk := list(itertools.islice(stream, 128)):
            for record in chunk:
                valid += parse_record(record, files, ingest=False)[0] is not None
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(
        json.dumps(
            {"mode": mode, "peak_mib": round(peak_kib / 1024), "valid": valid, "seconds": round(time.monotonic() - started, 1)}
        )
        + "\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--child":
        _child(argv[1], argv[2])
        return 0
    count = int(argv[0]) if argv else 100_000
    raw = json.loads(EXAMPLE.read_text())
    raw["documents"] = []
    raw["new_elements"] = [dict(e, evidence=[]) for e in raw["new_elements"]]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "batch.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for n in range(count):
                raw["application_id"] = f"HASA-2026-{n % 1_000_000:06d}"
                out.write(json.dumps(raw) + "\n")
        size_mib = source.stat().st_size / 1024 / 1024
        sys.stdout.write(f"{count} records, {size_mib:.0f} MiB of JSON Lines\n")
        for mode in ("baseline", "before", "after"):
            result = subprocess.run(
                [sys.executable, "-m", "scripts.intake_memory", "--child", mode, str(source)],
                capture_output=True,
                text=True,
                check=True,
            )
            sys.stdout.write(result.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
