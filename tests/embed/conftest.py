"""Fixtures of the embedding tests: no download ever, and one tiny CLIP model per module."""

import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Pin huggingface_hub offline for every test: it reads HF_HUB_OFFLINE once, at
    import, so the environment alone is not enough when another module imported it first."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        import huggingface_hub.constants
    except ImportError:
        return
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def tiny():
    """The random-weight test model (open_clip config `gpucluster-tiny`), on the CPU."""
    pytest.importorskip("open_clip")
    from gpucluster.embed.models import TINY_MODEL, load_model

    return load_model(TINY_MODEL, None)
