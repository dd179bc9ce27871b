"""Issue 8 defect 4: data at rest is owner-only.

Documents, letters and the registry's SQLite file (names, V-numbers, BSNs) were created
0444/0644 in 0755 folders.  Each test runs under the permissive umask 022 that a shell
usually has, so it shows the explicit modes, not only the processes' umask.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.document_store import DocumentStore
from activities.letters import LetterActivities
from activities.registry_db import Registry
from domain.messages import LetterKind
from domain.models import Application
from infra.settings import Settings
from tests.conftest import ROOT
from tests.unit.test_letters import letter


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stored_documents_are_owner_only(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path / "documents")
    sha, _ = store.put(b"%PDF-1.4 a scan")
    path = store.path_for(sha)
    assert mode(path) == 0o400
    for folder in (path.parent, path.parent.parent, store.root):
        assert mode(folder) == 0o700, folder


def test_letters_are_owner_only(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application, settings: Settings
) -> None:
    result = env.run(letter_activities.send_letter, letter(registered.application_id, LetterKind.ACKNOWLEDGEMENT))
    for ref in result.letters:
        path = Path(ref.path)
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700


def test_the_registry_file_is_owner_only(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'data' / 'registry.sqlite3'}")
    registry.migrate()
    registry.dispose()
    assert mode(tmp_path / "data" / "registry.sqlite3") == 0o600
    assert mode(tmp_path / "data") == 0o700


@pytest.mark.parametrize("entry", ["worker.py", "starter.py", "infra/devstack.py"])
def test_every_process_sets_an_owner_only_umask(entry: str) -> None:
    """The worker, the starter and the dev stack each set umask 077 before they create anything."""
    program = (
        "import os, runpy, sys\n"
        "import infra.settings as s\n"
        "real = s.restrict_umask\n"
        "def spy():\n"
        "    real(); print('umask', oct(os.umask(0o077))); sys.exit(0)\n"
        "s.restrict_umask = spy\n"
        f"sys.argv = [{entry!r}, 'run' if {entry!r}.endswith('devstack.py') else 'schema']\n"
        f"runpy.run_path({entry!r}, run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "umask 0o77" in result.stdout, result.stderr
