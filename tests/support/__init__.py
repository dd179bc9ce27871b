"""Shared test helpers: the one set of activity fakes, workers on fresh task queues, polling, and
assertions on what operators see (search attributes and current details)."""
