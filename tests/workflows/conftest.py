"""One time-skipping test server for the whole session; a fresh task queue per test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.search_attributes import indexed_types
from infra.codec import KeyRing, data_converter
from tests.conftest import binary
from tests.support.temporal import worker as support_worker


async def start_environment(keyring: KeyRing) -> WorkflowEnvironment:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(keyring),
    )
    with contextlib.suppress(RPCError):  # already registered earlier in this session
        await environment.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace="default", search_attributes=indexed_types())
        )
    return environment


@pytest.fixture(scope="session")
async def env(keyring: KeyRing) -> AsyncIterator[WorkflowEnvironment]:
    environment = await start_environment(keyring)
    yield environment
    await environment.shutdown()


@pytest.fixture
async def own_env(keyring: KeyRing) -> AsyncIterator[WorkflowEnvironment]:
    """A test server of the test's own, for a test that skips weeks of time.

    The shared server's clock can stop skipping late in a long session (its
    `unlock_time_skipping_with_sleep` then times out; seen with temporal-test-server 1.40
    after some twenty cases), so a test that needs `env.sleep` late runs on its own.
    """
    environment = await start_environment(keyring)
    yield environment
    await environment.shutdown()


@pytest.fixture
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture
def new_worker(client: Client) -> Callable[..., Worker]:
    def make(workflows: Sequence[type], activities: Sequence[Callable[..., Any]]) -> Worker:
        return support_worker(client, workflows, activities)

    return make
