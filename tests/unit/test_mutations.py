"""The mutation list (scripts/mutations.py) stays in step with the code it breaks."""

from __future__ import annotations

import pytest

from scripts.mutations import MUTATIONS, ROOT, Mutation


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_each_mutation_breaks_one_place_and_names_tests_that_exist(mutation: Mutation) -> None:
    source = (ROOT / mutation.path).read_text()
    mutant = mutation.apply(source)  # raises unless each text to break occurs exactly once
    assert mutant != source
    compile(mutant, mutation.path, "exec")  # the mutant still runs
    for test in mutation.tests:
        path, _, name = test.partition("::")
        text = (ROOT / path).read_text()
        assert not name or f"def {name}(" in text, f"{mutation.name}: no test {test}"


def test_mutation_names_are_unique() -> None:
    names = [m.name for m in MUTATIONS]
    assert len(names) == len(set(names))
