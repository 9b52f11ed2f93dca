"""Lantern: cited answers from anti-trafficking handbooks, guidance and reports.

The public API is what this module exports; everything else may change.

    from assistant import Lantern
    with Lantern.open(store=".lantern") as lantern:
        answer = lantern.ask("What are the indicators of forced labour?")
        print(answer.text)
        for c in answer.citations:
            print(c.n, c.title, c.page, c.quote)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import (
    DatasetError,
    EmptyStore,
    EndpointError,
    FilterError,
    IngestError,
    LanternError,
    SettingsError,
    StoreError,
    StoreNotFound,
)
from core.settings import Settings
from core.types import Answer, Chunk, Citation, Hit, Page, RemovedCitation

if TYPE_CHECKING:  # imported lazily: opening a store loads Chroma and the model
    from .api import Lantern, Stream
    from .chat import Conversation
    from .retrieve import Filters

__all__ = [
    "Answer", "Chunk", "Citation", "Conversation", "DatasetError", "EmptyStore", "EndpointError", "FilterError",
    "Filters", "Hit", "IngestError", "Lantern", "LanternError", "Page", "RemovedCitation", "Settings",
    "SettingsError", "StoreError", "StoreNotFound", "Stream",
]

_LAZY = {"Lantern": "api", "Stream": "api", "Conversation": "chat", "Filters": "retrieve"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
