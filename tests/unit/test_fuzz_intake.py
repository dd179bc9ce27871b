"""Fuzzed intake: records generated from the published JSON Schema, then mutated, through
``starter.py check`` and ``starter.py submit``.

The generator walks ``Application.model_json_schema()`` (what ``starter.py schema``
publishes: ``$ref``, objects with required and optional keys, arrays, patterns, formats,
enums, bounds) into hypothesis strategies, so most records have the right shape and reach
the deeper rules (``hypothesis-jsonschema`` was tried: its 0.23 breaks on current
hypothesis internals); a mutation then breaks one thing: a wrong type somewhere, a huge string, a NUL
byte, an unpaired surrogate or other unicode, deep nesting, a key given twice, a truncated
or non-JSON line.  The commands run in-process (``starter.main``) with Temporal replaced by
a recorder, so many examples fit in a few seconds.  For every record:

* no traceback and no "internal error": exit 0 or 1, one JSON line per record on stdout;
* an invalid record has exit 1 and errors that each name a field and say what is wrong;
* nothing is started for an invalid record, and nothing is stored for it;
* ``check`` and ``submit`` agree on what is valid.

``HYPOTHESIS_PROFILE=fuzz-long`` runs many more examples locally.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import starter
from domain.models import Application
from intake import cases

# The recorder fixture is reset by the test itself for each example.
_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
settings.register_profile("fuzz-ci", max_examples=100, deadline=None, suppress_health_check=_CHECKS)
settings.register_profile("fuzz-long", max_examples=1000, deadline=None, suppress_health_check=_CHECKS)
PROFILE = "fuzz-long" if __import__("os").environ.get("HYPOTHESIS_PROFILE") == "fuzz-long" else "fuzz-ci"
COUNTS = {"records": 0, "valid": 0, "invalid": 0}

SCHEMA = Application.model_json_schema()


def from_schema(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:  # noqa: C901, PLR0911  # one strategy per JSON Schema construct
    """A strategy for the JSON values ``node`` (a pydantic JSON Schema subset) accepts."""
    if "$ref" in node:
        return st.deferred(lambda: from_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs))
    if "anyOf" in node:
        return st.one_of([from_schema(option, defs) for option in node["anyOf"]])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, defs) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, defs) for k, v in properties.items() if k not in required},
        )
    if kind == "array":
        return st.lists(
            from_schema(node.get("items", {}), defs), min_size=node.get("minItems", 0), max_size=min(node.get("maxItems", 4), 4)
        )
    if kind == "string":
        if node.get("format") == "date":
            return st.dates().map(lambda d: d.isoformat())
        if node.get("format") == "date-time":
            return st.datetimes(timezones=st.sampled_from([__import__("datetime").UTC])).map(lambda d: d.isoformat())
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True)
        return st.text(min_size=node.get("minLength", 0), max_size=min(node.get("maxLength", 40), 40))
    if kind == "integer":
        return st.integers(min_value=node.get("minimum"), max_value=node.get("maximum"))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return st.from_type(object).filter(lambda v: isinstance(v, str | int | bool))


def valid_base() -> dict[str, Any]:
    """The example application without document files (which need --documents): valid as it is."""
    from tests.conftest import EXAMPLE

    raw: dict[str, Any] = json.loads(EXAMPLE.read_text())
    raw["documents"] = []
    raw["new_elements"] = [dict(e, evidence=[]) for e in raw["new_elements"]]
    Application.model_validate(raw)
    return raw


# Half from the schema (shape right, content random), half from a valid record: the
# mutations then break one thing of something otherwise valid.
records = st.one_of(from_schema(SCHEMA, SCHEMA["$defs"]), st.just(valid_base()))

WEIRD_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\ud800",
        "\u202eevil",
        "🙂" * 10,
        "HASA-２０２６-０００１２３",  # full-width digits
        "٣١٤١٥٩٢٦٥٣",
        "\u0000\u0001\u001f",
        "é" * 5000,
        "x" * 200_000,
        "",
        " ",
        "null",
    ]
)
WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    WEIRD_TEXT,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def replace_at(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy: Any = dict(node) if isinstance(node, dict) else list(node)
    copy[head] = replace_at(copy[head], tuple(rest), value)
    return copy


@st.composite
def mutated(draw: st.DrawFn) -> str:  # noqa: PLR0911  # one return per kind of mutation
    """One JSON line: a schema-shaped record, mostly with one thing broken."""
    record = draw(records)
    kind = draw(
        st.sampled_from(["none", "none", "value", "value", "text", "deep", "duplicate", "truncate", "not-json", "top-level"])
    )
    if kind == "none":
        return json.dumps(record)
    if kind in ("value", "text"):
        where = draw(st.sampled_from(list(paths(record))[1:] or [()]))
        value = draw(WRONG_VALUES if kind == "value" else WEIRD_TEXT)
        return json.dumps(replace_at(record, where, value))
    if kind == "deep":
        depth = draw(st.sampled_from([50, 900, 5000, 100_000]))
        return json.dumps({**record, "applicant": "__DEEP__"}).replace('"__DEEP__"', "[" * depth + "]" * depth)
    if kind == "duplicate":
        text = json.dumps(record)
        return text[:-1] + ', "application_id": "HASA-2026-000999"}' if text.endswith("}") else text
    if kind == "truncate":
        text = json.dumps(record)
        return text[: draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))] or "{"
    if kind == "not-json":
        return draw(st.sampled_from(["nope", "{'single': 'quotes'}", "[1, 2", '"\\x"', "NaN", "\ufeff{}", "1e999999"]))
    return json.dumps(draw(st.sampled_from([[record], "text", 12, None, True])))


class Recorder:
    """Stands in for Temporal: records which cases would have been started."""

    def __init__(self) -> None:
        self.started: list[str] = []

    async def start_case(self, client: Any, settings: Any, app: Application) -> str:
        self.started.append(app.application_id)
        return "started"


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Recorder:
    recorder = Recorder()

    async def connect(settings: Any) -> object:
        return object()

    monkeypatch.setattr(starter, "_connect", connect)
    monkeypatch.setattr(cases, "start_case", recorder.start_case)
    monkeypatch.setenv("HASA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HASA_DOCUMENT_STORE", str(tmp_path / "documents"))
    return recorder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code = starter.main(list(argv))
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return code, lines, err


def assert_field_named(errors: list[dict[str, str]]) -> None:
    assert errors, "an invalid record names at least one error"
    for error in errors:
        assert set(error) == {"field", "message"}
        assert error["field"].strip(), error
        assert error["message"].strip(), error


@pytest.mark.timeout(3600 if PROFILE == "fuzz-long" else 300)  # pyproject's 300 s is CI's budget
@settings(settings.get_profile(PROFILE))
@given(line=mutated())
def test_fuzzed_records_through_check_and_submit(
    line: str, recorder: Recorder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / f"record-{random.randrange(1 << 30)}.jsonl"
    source.write_text(line + "\n", encoding="utf-8", errors="surrogatepass")
    recorder.started.clear()

    code, checked, err = run(capsys, "check", str(source))
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    if not line.strip():
        return
    assert code in (0, 1)
    assert len(checked) >= 1
    valid = all(c.get("valid") for c in checked)
    assert code == (0 if valid else 1)
    for c in checked:
        if not c["valid"]:
            assert_field_named(c["errors"])

    code, submitted, err = run(capsys, "submit", str(source))
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    assert [s["result"] == "started" for s in submitted] == [bool(c["valid"]) for c in checked]
    for s in submitted:
        if s["result"] == "invalid":
            assert_field_named(s["errors"])
    assert code == (0 if valid else 1)
    assert len(recorder.started) == sum(1 for s in submitted if s["result"] == "started")
    if not valid:
        store = tmp_path / "documents"
        assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))
    COUNTS["records"] += 1
    COUNTS["valid" if valid else "invalid"] += 1


def test_report_fuzz_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints how many records the fuzz test ran (it runs after it, in file order)."""
    with capsys.disabled():
        sys.stdout.write(
            f"\nfuzzed intake ({PROFILE}): {COUNTS['records']} records through check and submit, "
            f"{COUNTS['valid']} valid, {COUNTS['invalid']} invalid\n"
        )
