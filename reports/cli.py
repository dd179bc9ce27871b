"""The report commands of ``starter.py``: ``case-file`` (and the ``case-file`` schema).

``COMMANDS`` is spliced into ``starter.COMMANDS``; refusals are ``intake.errors.Refused``
(exit 1, printed as JSON) and never quote personal data.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from infra.client import connect, keyring_for
from infra.codec import CodecError, KeyConfigError, KeyRing
from infra.settings import Settings
from intake.cases import check_application_id
from intake.cli import Command
from intake.errors import Refused as ReportRefused


def _keyring(settings: Settings) -> KeyRing:
    try:
        return keyring_for(settings)
    except KeyConfigError as err:
        raise ReportRefused(
            "the case file holds personal data and needs the payload key, which is not configured: "
            f"{err}. Nothing was read or printed."
        ) from None


def _case_file_arguments(parser: Any) -> None:
    parser.add_argument("application_id")
    parser.add_argument("--format", choices=("json", "pdf"), default="json")
    parser.add_argument("--out", metavar="FILE", help="write to FILE (mode 0600) instead of standard output")


async def cmd_case_file(args: Any, settings: Settings) -> int:
    check_application_id(args.application_id)
    return await case_file(settings, args.application_id, args.format, args.out)


async def case_file(settings: Settings, application_id: str, fmt: str, out: str | None) -> int:
    from reports.casefile import CaseNotFound, build

    keyring = _keyring(settings)
    if fmt == "pdf" and out is None and sys.stdout.isatty():
        raise ReportRefused("a PDF is not printed on a terminal: give --out FILE or redirect the output")
    client = await connect(settings, keyring)
    try:
        result = await build(client, keyring, settings.registry_url, application_id)
    except CaseNotFound:
        raise ReportRefused(f"unknown application id {application_id!r}: no such case") from None
    except CodecError as err:
        raise ReportRefused(f"the case's history cannot be decrypted with the configured key: {err}") from None
    if fmt == "pdf":
        from reports.pdf import render

        data = render(result)
    else:
        data = (result.model_dump_json(indent=2) + "\n").encode("utf-8")
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        return 0
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The file holds special-category personal data: readable by its owner only.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    _emit({"application_id": application_id, "format": fmt, "out": str(target), "events": len(result.chronology)})
    return 0


def case_file_schema() -> dict[str, Any]:
    from reports.casefile_model import schema

    return schema()


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def _stats_arguments(parser: Any) -> None:
    parser.add_argument("--since", type=date.fromisoformat, metavar="DATE", help="cases started from this day on (YYYY-MM-DD)")
    parser.add_argument("--format", choices=("table", "json"), help="default: a table on a terminal, JSON otherwise")
    parser.add_argument("--chart", metavar="FILE", help="also draw decisions per week against the deadline (PNG)")


async def cmd_stats(args: Any, settings: Settings) -> int:
    from reports import stats

    # The figures hold no personal data, but the client still speaks the service's codec.
    client = await connect(settings)
    figures = await stats.collect(client, settings.registry_url, args.since)
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    if fmt == "table":
        sys.stdout.write(stats.table(figures))
    else:
        sys.stdout.write(figures.model_dump_json() + "\n")
    if args.chart:
        stats.chart(figures, args.chart)
    return 0


def _views_arguments(parser: Any) -> None:
    parser.add_argument(
        "--ui",
        default=os.environ.get("HASA_WEB_UI_URL", "http://localhost:8233"),
        help="the Web UI's address (default: HASA_WEB_UI_URL or http://localhost:8233)",
    )
    parser.add_argument("--format", choices=("table", "json"), help="default: a table on a terminal, JSON otherwise")


def cmd_views(args: Any, settings: Settings) -> int:
    from reports.views import VIEWS

    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    for view in VIEWS:
        url = view.url(args.ui, settings.temporal_namespace)
        if fmt == "json":
            _emit({"name": view.name, "query": view.query, "url": url, "meaning": view.meaning})
        else:
            sys.stdout.write(f"{view.name}: {view.meaning}\n  {view.query}\n  {url}\n\n")
    return 0


COMMANDS: list[Command] = [
    Command("views", "the operators' saved views: name, list query, Web UI address", cmd_views, _views_arguments),
    Command("stats", "management figures from visibility and the registry (no personal data)", cmd_stats, _stats_arguments),
    Command(
        "case-file",
        "the case file (dossier) of a case and its permit, JSON or PDF; needs the key",
        cmd_case_file,
        _case_file_arguments,
    ),
]
