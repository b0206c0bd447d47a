"""推进情况: the county-wide progress board — every department's set status, indicator counts by
level1, open comments, days in the current state — and its Excel export."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kb.models import Department, Indicator, IndicatorSet, ReviewAssignment, ReviewComment, ReviewRequest
from kb.models.base import utcnow
from kb.models.workflow import CommentKind, ReviewStatus
from kb.services.reviews import open_comment_counts
from kb.services.sets import state_entered
from kb.vocab import IndicatorState, SetStatus, taxonomy

NOT_STARTED = "not_started"
NOT_STARTED_LABEL = "未建立指标集"
# Board order of the statuses (the chart stacks them left to right, furthest along first).
STATUS_ORDER = (SetStatus.CERTIFIED.value, SetStatus.CONFIRMED.value, SetStatus.SUBMITTED.value,
                SetStatus.DRAFT.value, NOT_STARTED)


def status_label(status: str) -> str:
    return NOT_STARTED_LABEL if status == NOT_STARTED else SetStatus(status).label


@dataclass
class BoardRow:
    """One department on the board."""

    code: str
    name: str
    pilot: bool
    parent_name: str
    status: str
    status_label: str
    set_id: int | None
    year: int | None
    version: int | None
    counts: dict[str, int]
    total: int
    open_comments: int
    days_in_state: int | None
    experts: str = ""
    published: str = ""  # the latest certified version, e.g. "2025 年第 1 版"


@dataclass
class Board:
    rows: list[BoardRow]
    level1_names: tuple[str, ...]
    generated_at: dt.datetime
    status_counts: dict[str, int] = field(default_factory=dict)
    pilot_status_counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.rows)

    def chart(self, width: int = 600) -> list[dict]:
        """Stacked-bar segments (全县 and 试点部门) for a server-side SVG: status, label, count, x, width."""
        bars = []
        for title, counts in (("全县", self.status_counts), ("试点部门", self.pilot_status_counts)):
            total = sum(counts.values()) or 1
            x, segments = 0.0, []
            for status in STATUS_ORDER:
                count = counts.get(status, 0)
                w = width * count / total
                segments.append({"status": status, "label": status_label(status), "count": count,
                                 "x": round(x, 1), "width": round(w, 1)})
                x += w
            bars.append({"title": title, "total": sum(counts.values()), "segments": segments})
        return bars


def progress_board(session: Session, *, pilots_only: bool = False, status: str | None = None,
                   today: dt.date | None = None) -> Board:
    """The board for the whole county (pilot departments first), optionally filtered."""
    today = today or utcnow().date()
    level1_names = taxonomy().level1_names()
    departments = session.scalars(
        select(Department).options(selectinload(Department.indicator_sets), selectinload(Department.parent))
        .order_by(Department.pilot.desc(), Department.code)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for department_id, level1, count in session.execute(
        select(Indicator.department_id, Indicator.level1, func.count())
        .where(Indicator.department_id.is_not(None), Indicator.state == IndicatorState.ACTIVE)
        .group_by(Indicator.department_id, Indicator.level1)
    ):
        counts.setdefault(department_id, {})[level1] = count
    open_counts = open_comment_counts(session)
    # One query each for every department's open review and last return (not one per department).
    reviews = {review.set_id: review for review in session.scalars(
        select(ReviewRequest).where(ReviewRequest.status == ReviewStatus.OPEN)
        .options(selectinload(ReviewRequest.assignments).selectinload(ReviewAssignment.expert)))}
    returned_at = dict(session.execute(
        select(ReviewComment.set_id, func.max(ReviewComment.created_at))
        .where(ReviewComment.kind == CommentKind.RETURN).group_by(ReviewComment.set_id)).all())
    rows, status_counts, pilot_counts = [], {}, {}
    for department in departments:
        row = _row(department, counts.get(department.id, {}), open_counts, reviews, returned_at, level1_names,
                   today)
        status_counts[row.status] = status_counts.get(row.status, 0) + 1
        if department.pilot:
            pilot_counts[row.status] = pilot_counts.get(row.status, 0) + 1
        if (pilots_only and not department.pilot) or (status and row.status != status):
            continue
        rows.append(row)
    return Board(rows, level1_names, utcnow(), status_counts, pilot_counts)


def _row(department: Department, counts, open_counts, reviews, returned_at, level1_names, today) -> BoardRow:
    current: IndicatorSet | None = department.current_set
    status = current.status.value if current else NOT_STARTED
    days = None
    experts = ""
    certified = [s for s in department.indicator_sets if s.status == SetStatus.CERTIFIED]
    published = f"{certified[-1].year} 年第 {certified[-1].version} 版" if certified else ""
    if current is not None:
        days = max(0, (today - state_entered(current, returned_at.get(current.id)).date()).days)
        review = reviews.get(current.id)
        if review is not None:
            experts = "、".join(a.expert.display_name or a.expert.username for a in review.assignments)
    return BoardRow(
        code=department.code, name=department.name, pilot=department.pilot,
        parent_name=department.parent.name if department.parent else "",
        status=status, status_label=status_label(status), set_id=current.id if current else None,
        year=current.year if current else None, version=current.version if current else None,
        counts={name: counts.get(name, 0) for name in level1_names}, total=sum(counts.values()),
        open_comments=open_counts.get(current.id, 0) if current else 0, days_in_state=days, experts=experts,
        published=published,
    )


def _safe(value):
    """Neutralise spreadsheet formulas: text starting with = + - @ is written as plain text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def board_workbook(board: Board) -> bytes:
    """The board as an .xlsx file (opens in Excel and WPS)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "推进情况"
    sheet.append([_safe(f"襄垣县预算绩效指标体系梳理推进情况（{board.generated_at.astimezone(_CHINA):%Y-%m-%d %H:%M}）")])
    sheet["A1"].font = Font(bold=True, size=14)
    headers = ["部门编码", "部门名称", "主管部门", "试点", "状态", "年度", "版本", *board.level1_names, "指标合计",
               "待答复意见", "当前状态天数", "评审专家", "已发布版本"]
    sheet.append(headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    pilot_fill = PatternFill("solid", fgColor="FFF4D6")
    for row in board.rows:
        sheet.append([_safe(v) for v in (
            row.code, row.name, row.parent_name, "是" if row.pilot else "", row.status_label, row.year, row.version,
            *(row.counts[name] for name in board.level1_names), row.total, row.open_comments, row.days_in_state,
            row.experts, row.published)])
        if row.pilot:
            for cell in sheet[sheet.max_row]:
                cell.fill = pilot_fill
    widths = [10, 26, 20, 6, 14, 8, 6, *([10] * len(board.level1_names)), 10, 10, 12, 20, 16]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "C3"
    summary = workbook.create_sheet("汇总")
    summary.append(["状态", "全县部门数", "试点部门数"])
    for status in STATUS_ORDER:
        summary.append([status_label(status), board.status_counts.get(status, 0),
                        board.pilot_status_counts.get(status, 0)])
    summary.column_dimensions["A"].width = 16
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


_CHINA = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
