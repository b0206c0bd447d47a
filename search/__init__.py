"""Full-text search engine: plain documents in, ranked hits out. Knows nothing of the domain.

Backends are chosen by dotted path (``search.null.NullBackend``, ``search.whoosh_backend.WhooshBackend``)
with :func:`load_backend`.
"""
from __future__ import annotations

import importlib
from typing import Any

from search.base import BaseBackend, Document, FieldSpec, Hit, IndexBusy, SearchQuery, SearchResults

__all__ = ["BaseBackend", "Document", "FieldSpec", "Hit", "IndexBusy", "SearchQuery", "SearchResults", "load_backend"]


def load_backend(dotted_path: str, **options: Any) -> BaseBackend:
    """Instantiate the backend class named by ``dotted_path`` with ``options``."""
    module_name, _, class_name = dotted_path.rpartition(".")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
        raise TypeError(f"{dotted_path} is not a search backend")
    return backend_class(**options)
