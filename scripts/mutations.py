"""Break the code on purpose, one change at a time, and check that a test fails.

Each mutation replaces one piece of text in a scratch copy of the tree (the files git
tracks or would track, as they are in the working tree) and runs the tests it names; the
mutation is *caught* when they fail and *survives* when they pass.  The run first checks
that every named test passes on the unmutated copy, and that the copy (not this checkout)
is what the tests import.  ``docs/decisions/0032-mutations-the-suite-catches.md`` lists the
results; ``tests/unit/test_mutations.py`` keeps this list in step with the code.

    .venv/bin/python -m scripts.mutations                 # every mutation (3 to 5 minutes)
    .venv/bin/python -m scripts.mutations --only NAME ...  # some

Not part of ``make test``: each mutation runs its tests once more, which is too slow for CI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A mutant may leave a test waiting for something that never comes: that fails the test
# too, after this long (pytest-timeout), instead of the suite's 300 s.
MUTANT_TIMEOUT_SECONDS = 90

_APP = "tests/workflows/test_application.py::"
_PERMIT = "tests/workflows/test_permit.py::"


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str  # the breakage, in words
    path: str
    old: str  # must occur exactly once in path
    new: str
    tests: tuple[str, ...]
    also: tuple[tuple[str, str], ...] = ()  # more (old, new) in the same file, for a check made twice

    @property
    def changes(self) -> tuple[tuple[str, str], ...]:
        return ((self.old, self.new), *self.also)

    def apply(self, source: str) -> str:
        """``source`` with every change made; each text to change must occur exactly once."""
        for old, new in self.changes:
            if source.count(old) != 1:
                msg = f"{self.name}: {old!r} does not occur exactly once in {self.path}"
                raise ValueError(msg)
            source = source.replace(old, new)
        return source


MUTATIONS: tuple[Mutation, ...] = (
    # --- what operators see and the event desk (issue 10's two breakages and their kin) ---
    Mutation(
        "one-event-at-a-time",
        "the event desk lets a second event in while one is parked",
        "workflows/common.py",
        "        if self.pending is not None:\n            busy =",
        "        if False:\n            busy =",
        (_APP + "test_concurrent_events_one_accepted_one_refused",),
    ),
    Mutation(
        "decision-due-by",
        "DecisionDueBy no longer published",
        "domain/case_state.py",
        "DECISION_DUE_BY.name: decide_by.due if decide_by else None,",
        "DECISION_DUE_BY.name: None,",
        (_APP + "test_granted_without_interview",),
    ),
    Mutation(
        "interview-at",
        "InterviewAt no longer published",
        "domain/case_state.py",
        "INTERVIEW_AT.name: self.interview.starts_at if self.phase is Phase.INTERVIEW_BOOKED else None,",
        "INTERVIEW_AT.name: None,",
        (_APP + "test_granted_after_interview",),
    ),
    Mutation(
        "phase-stuck",
        "ApplicationPhase stuck at its first value",
        "domain/case_state.py",
        "APPLICATION_PHASE.name: self.phase.value,",
        "APPLICATION_PHASE.name: Phase.REGISTERING.value,",
        (_APP + "test_granted_without_interview",),
    ),
    Mutation(
        "application-details",
        "the application's current details no longer set",
        "workflows/application.py",
        "            workflow.set_current_details(details)\n",
        "            pass\n",
        (_APP + "test_granted_without_interview",),
    ),
    Mutation(
        "fired-deadline",
        "a fired deadline no longer refuses its events",
        "workflows/common.py",
        "if fired is not None and trigger in fired.refuses:",
        "if False:",
        ("tests/workflows/test_deadline_races.py::test_documents_after_the_repair_period_are_refused",),
    ),
    Mutation(
        "application-table",
        "the application's validator skips the transition table",
        "workflows/application.py",
        "        if not allowed(self._state.phase, trigger):",
        "        if False:",
        (_APP + "test_rejected_events_leave_the_case_unchanged",),
    ),
    Mutation(
        "permit-table",
        "the permit's validator skips the transition table (the rules still refuse, but encrypted)",
        "workflows/permit.py",
        "if not allowed(self._state.status, trigger):",
        "if False:",
        (_PERMIT + "test_validators_reject_without_changing_the_state",),
    ),
    Mutation(
        "permit-recheck",
        "the permit no longer checks an event again under its lock",
        "workflows/permit.py",
        "                self.validate_event(trigger, body)\n",
        "                pass\n",
        (_PERMIT + "test_two_decisions_at_once_grant_one_extension",),
    ),
    Mutation(
        "permit-search-attributes",
        "the permit's search attributes no longer upserted",
        "workflows/permit.py",
        "self._published = upsert_changed(sa.PERMIT, wanted, self._published)",
        "self._published = self._published",
        (_PERMIT + "test_a_refusal_after_expiry_waits_for_the_appeal_before_the_permit_expires",),
    ),
    Mutation(
        "permit-details",
        "the permit's current details no longer set",
        "workflows/permit.py",
        "        workflow.set_current_details(details_markdown(state))\n",
        "        pass\n",
        (_PERMIT + "test_search_attributes_and_details_hold_no_personal_data",),
    ),
    # --- once and only once: a retried activity writes nothing twice ---
    Mutation(
        "register-twice",
        "register_case no longer finds the case it registered before",
        "activities/registry.py",
        "            if case is not None:\n                if case.received_at",
        "            if False:\n                if case.received_at",
        ("tests/unit/test_registry_activities.py",),
    ),
    Mutation(
        "slot-twice",
        "book_slot no longer finds the slot it booked before (at its first look and in the claiming transaction)",
        "activities/registry.py",
        "    return session.scalar(select(SlotRow).filter_by(booked_by=application_id, purpose=purpose))",
        "    return None",
        ("tests/unit/test_registry_activities.py::test_same_purpose_returns_the_same_slot",),
    ),
    Mutation(
        "permit-twice",
        "issue_permit no longer finds the permit it issued before",
        "activities/registry.py",
        '                    if row is not None:\n                        log.info("permit_already_issued"',
        '                    if False:\n                        log.info("permit_already_issued"',
        ("tests/unit/test_registry_activities.py",),
    ),
    Mutation(
        "letter-twice",
        "send_letter no longer finds the letter it wrote before (at its first look and when it records the letter)",
        "activities/letters.py",
        "            done = existing.get(recipient.value)\n",
        "            done = None\n",
        ("tests/unit/test_letters.py::test_send_writes_a_pdf_and_a_row_once",),
        also=(
            (
                "            if row is None:\n                row = new_row(",
                "            if True:\n                row = new_row(",
            ),
        ),
    ),
    Mutation(
        "fine-maximum",
        "the registry no longer checks a fine against its legal maximum",
        "activities/permits.py",
        "            if amount > Decimal(row.fine_maximum_eur):",
        "            if False:",
        ("tests/unit/test_permit_activities.py",),
    ),
    # --- the law: periods and dates ---
    Mutation(
        "atw-weekend",
        "a period may end on a Saturday or Sunday (Atw art. 1)",
        "domain/deadlines.py",
        "return day.weekday() < _SATURDAY and day not in holidays_of_year",
        "return day not in holidays_of_year",
        ("tests/unit/test_deadlines.py",),
    ),
    Mutation(
        "atw-holiday",
        "a period may end on a recognised holiday (Atw art. 3)",
        "domain/deadlines.py",
        "return day.weekday() < _SATURDAY and day not in holidays_of_year",
        "return day.weekday() < _SATURDAY",
        ("tests/unit/test_deadlines.py",),
    ),
    Mutation(
        "policy-boundary",
        "an application received on a version's first day falls under the version before",
        "domain/policy.py",
        "if version.effective_from <= day:",
        "if version.effective_from < day:",
        ("tests/unit/test_domain.py",),
    ),
    Mutation(
        "replacement-boundary",
        "a replacement is refused only with less than 6 months left, not at exactly 6",
        "domain/permit/rules.py",
        "if add_months(today, REPLACEMENT_MIN_MONTHS_LEFT) > valid_until:",
        "if add_months(today, REPLACEMENT_MIN_MONTHS_LEFT) >= valid_until:",
        ("tests/unit/test_permit_rules.py",),
    ),
    # --- privacy ---
    Mutation(
        "no-encryption",
        "the codec passes payloads through unencrypted",
        "infra/codec.py",
        "return [self.encrypt(p) for p in payloads]",
        "return list(payloads)",
        ("tests/unit/test_codec.py",),
    ),
)


def _tree_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def _copy_tree(into: Path) -> None:
    for name in _tree_files():
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def _run_tests(tree: Path, tests: tuple[str, ...], timeout: int | None = None) -> tuple[bool, float, str]:
    """Whether ``tests`` pass in ``tree``, how long they took, and pytest's line for the first failure."""
    begun = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
        + ([f"--timeout={timeout}"] if timeout else [])
        + list(tests),
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "400"},  # pytest cuts its summary line to the terminal's width
    )
    failed = next((line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))), "")
    return done.returncode == 0, time.monotonic() - begun, failed[:300]


def _check_copy_is_imported(tree: Path) -> None:
    where = subprocess.run(
        [sys.executable, "-c", "import domain; print(domain.__file__)"],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        msg = f"the tests would import {where}, not the scratch copy in {tree}"
        raise SystemExit(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=[m.name for m in MUTATIONS])
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.only is None or m.name in args.only]

    survivors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hasa-mutations-") as scratch:
        tree = Path(scratch)
        _copy_tree(tree)
        _check_copy_is_imported(tree)
        every_test = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        passed, seconds, _ = _run_tests(tree, every_test)
        if not passed:
            print(f"the named tests fail without any mutation ({seconds:.0f} s): fix them first", file=sys.stderr)
            return 2
        print("| mutation | where | caught |")
        print("|---|---|---|")
        for mutation in chosen:
            file = tree / mutation.path
            original = file.read_text()
            file.write_text(mutation.apply(original))
            try:
                passed, seconds, failed = _run_tests(tree, mutation.tests, MUTANT_TIMEOUT_SECONDS)
            finally:
                file.write_text(original)
            verdict = "SURVIVED" if passed else f"yes ({seconds:.0f} s): {failed}"
            if passed:
                survivors.append(mutation.name)
            print(f"| {mutation.name}: {mutation.what} | `{mutation.path}` | {verdict} |", flush=True)
    if survivors:
        print(f"survived: {', '.join(survivors)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
