"""The one set of fakes implements the same interface as the real activities.

Every ``@activity.defn`` method of the real activity classes (the ones ``worker.py``
registers) has a fake in ``tests.support.fakes.FakeWorld`` with the same activity name,
the same request type and the same result type, and the fakes hold nothing more: a fake
that drifts from the real contract fails here, not in a workflow test that passes for the
wrong reason.
"""

from __future__ import annotations

import inspect
from typing import Any

from temporalio import activity

from activities.documents import DocumentActivities
from activities.letters import LetterActivities
from activities.permits import PermitActivities
from activities.registry import RegistryActivities
from tests.support.fakes import FakeWorld

REAL_CLASSES = (RegistryActivities, DocumentActivities, LetterActivities, PermitActivities)


def contracts(cls: type) -> dict[str, tuple[str, list[Any], Any]]:
    """Activity name -> (method name, argument types, result type) of every activity method of a class."""
    found: dict[str, tuple[str, list[Any], Any]] = {}
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        definition = activity._Definition.from_callable(member)
        if definition is None:
            continue
        assert definition.name is not None
        found[definition.name] = (name, list(definition.arg_types or []), definition.ret_type)
    return found


def test_the_fakes_have_the_real_names_and_signatures() -> None:
    real: dict[str, tuple[str, list[Any], Any]] = {}
    for cls in REAL_CLASSES:
        real.update(contracts(cls))
    fake = contracts(FakeWorld)
    assert len(real) >= 12
    assert fake == real


def test_the_world_hands_every_fake_to_the_worker() -> None:
    world = FakeWorld()
    names = {activity._Definition.must_from_callable(fn).name for fn in world.activities()}
    assert names == set(contracts(FakeWorld))
