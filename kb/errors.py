"""Domain errors. Messages are Chinese and say where the problem is and how to fix it."""
from __future__ import annotations

from dataclasses import dataclass, field


class KbError(Exception):
    """Base of every domain error; ``str(error)`` is a message for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(KbError):
    """The thing asked for does not exist (404)."""


class PermissionDenied(KbError):
    """The actor may not do this (403)."""


class InvalidTransition(KbError):
    """A workflow step that is not allowed from the current state (409)."""


@dataclass
class EditConflict(KbError):
    """Someone else saved first (optimistic locking, 409); ``changes`` lists what they changed."""

    entity: str
    expected_version: int
    current_version: int
    changes: dict[str, tuple[object, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fields = "、".join(self.changes) if self.changes else "内容"
        super().__init__(
            f"{self.entity} 已被他人修改（您编辑的是第 {self.expected_version} 版，当前为第 "
            f"{self.current_version} 版，改动了：{fields}）。请刷新页面查看最新内容后再保存，"
            "您的修改没有保存。"
        )


@dataclass(frozen=True)
class Problem:
    """One problem in input: where (file or sheet, entry or row, field) and what to do."""

    message: str
    source: str = ""
    entry: str = ""
    field: str = ""

    def __str__(self) -> str:
        where = "，".join(part for part in (self.source, self.entry, self._field_label()) if part)
        return f"{where}：{self.message}" if where else self.message

    def _field_label(self) -> str:
        return f"字段 {self.field}" if self.field else ""


class ValidationFailed(KbError):
    """Input had problems; nothing was written. ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"发现 {len(self.problems)} 处问题，未写入任何数据：\n"
            + "\n".join(f"- {problem}" for problem in self.problems)
        )


class ImportFailed(ValidationFailed):
    """The file has problems; nothing was written. ``warnings`` are notes that were not fatal."""

    def __init__(self, problems: list[Problem], warnings: list[Problem] | None = None) -> None:
        super().__init__(problems)
        self.warnings = list(warnings or [])


class PreviewOutdated(InvalidTransition):
    """The library changed between the preview and the confirmation; the user must look again."""
