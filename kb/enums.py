"""The one way the project attaches a Chinese label to a stored enum value.

Every enum whose members people see is a :class:`LabelledEnum`: the member is declared as
``NAME = "stored value", "标签"``. The stored value is what the database, YAML, CSV and the API carry
(unchanged by a label edit, so no migration); ``member.label`` is what pages and messages show.
"""
from __future__ import annotations

import enum


class LabelledEnum(enum.StrEnum):
    """A ``StrEnum`` whose members carry a ``label``; ``Member("value")`` and ``str(member)`` as usual."""

    label: str

    def __new__(cls, value: str, label: str | None = None) -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label if label is not None else value
        return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        """``{value: label}`` for every member (choices of a form, a template's lookup)."""
        return {member.value: member.label for member in cls}
