"""Full-text search engine: plain documents in, ranked hits out. Knows nothing of the domain.

Backends are chosen by dotted path (``search.null.NullBackend``, ``search.whoosh_backend.WhooshBackend``)
with :func:`load_backend`.
"""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from search.base import BaseBackend, Document, FieldSpec, Hit, IndexBusy, SearchQuery, SearchResults, UnknownOption

__all__ = ["BaseBackend", "Document", "FieldSpec", "Hit", "IndexBusy", "SearchQuery", "SearchResults",
           "UnknownOption", "load_backend"]


def load_backend(dotted_path: str, *, locations: Mapping[str, Any] | None = None, **options: Any) -> BaseBackend:
    """Instantiate the backend class named by ``dotted_path`` with ``options`` (all checked).

    ``locations`` are the places an installation offers for an index (``index_dir`` for file engines,
    ``database_url`` for database engines): each is passed only to a backend that names it as a parameter.
    """
    module_name, _, class_name = dotted_path.rpartition(".")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
        raise TypeError(f"{dotted_path} is not a search backend")
    parameters = inspect.signature(backend_class.__init__).parameters
    wanted = {name: value for name, value in (locations or {}).items() if name in parameters}
    return backend_class(**wanted, **options)
