"""Tests that register algorithms leave the registry as they found it."""

import pytest

from gpucluster.auto import candidates


@pytest.fixture(autouse=True)
def restore_registry():
    saved = dict(candidates._REGISTRY)
    yield
    candidates._REGISTRY.clear()
    candidates._REGISTRY.update(saved)
