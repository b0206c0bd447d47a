"""Reading indicators: the detail page, side-by-side comparison, the common indicators."""
from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import permissions
from kb.models import AuditEntry, Department, Indicator, IndicatorSet
from kb.searching import similar_indicators
from kb.services import personal, workflow
from kb.services.goal_usage import usage_count
from kb.services.indicators import get_indicator
from kb.visibility import can_read, check_can_read, hidden_for, visible_to
from webapp.auth import current_actor, current_user
from webapp.db import get_search, get_session
from webapp.permissions import can_open
from webapp.templating import local_today
from webapp.views import readable
from webapp.views.departments import group_by_levels
from webapp.views.indicators import bp
from webapp.views.indicators.observed import observed_context

MAX_COMPARE = 6
ACTION_LABELS = {"create": "新增", "update": "修改", "retire": "停用", "restore": "恢复使用", "load": "导入",
                 "import": "导入", "copy": "复制"}


def history(code: str) -> list[dict]:
    """The indicator's changes from the audit log, newest first, with the fields that changed."""
    entries = get_session().scalars(
        select(AuditEntry).where(AuditEntry.entity_type == "indicator", AuditEntry.entity_key == code)
        .order_by(AuditEntry.id.desc()).limit(50)
    ).all()
    rows = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changes = [
            {"field": readable.field_label(key), "before": readable.show(before.get(key), key),
             "after": readable.show(after.get(key), key)}
            for key in after if before and before.get(key) != after.get(key)
        ]
        rows.append({"entry": entry, "action": ACTION_LABELS.get(entry.action, entry.action), "changes": changes})
    return rows


def sets_containing(indicator: Indicator) -> list[IndicatorSet]:
    """Published (frozen) versions that contain the indicator, plus the live set it belongs to."""
    if indicator.department is None:
        return []
    found = []
    for indicator_set in indicator.department.indicator_sets:
        frozen = indicator_set.frozen_indicators
        if indicator_set.is_current or (frozen and any(item.get("code") == indicator.code for item in frozen)):
            found.append(indicator_set)
    return found


def goal_usage(code: str) -> int:
    """How many project goals reuse the indicator."""
    return usage_count(get_session(), code)


@bp.get("/indicators/<code>")
def detail(code: str):
    """指标详情。"""
    session = get_session()
    indicator = get_indicator(session, code)
    user = current_user()
    actor = current_actor()
    check_can_read(session, actor, indicator)
    personal.record_view(session, user, indicator)
    session.commit()
    own_department = user.department if permissions.sees_only_own_department(actor) else None
    copy_targets = []
    if own_department is not None and permissions.can_add_indicator(actor, own_department):
        copy_targets = [own_department]
    elif permissions.can_keep_library(actor):
        copy_targets = session.scalars(select(Department).order_by(Department.code)).all()
    # A department whose set is frozen gets told why 修改/复制 are missing, with the way on.
    frozen_set = None
    if own_department is not None and not permissions.can_add_indicator(actor, own_department):
        frozen_set = own_department.current_set
    return render_template(
        "indicators/detail.html",
        frozen_set=frozen_set,
        start_years=workflow.next_version_years(frozen_set, local_today().year) if frozen_set else None,
        indicator=indicator,
        history=history(code),
        sets=sets_containing(indicator),
        goal_count=goal_usage(code),
        similar=similar_indicators(session, get_search(), indicator.code, hidden=hidden_for(session, actor)),
        favourite=personal.is_favourite(session, user, indicator),
        can_edit=permissions.can_edit_indicator(actor, indicator),
        copy_targets=copy_targets,
        own_department=own_department,
        **observed_context(session, indicator),
    )


@bp.get("/compare")
def compare():
    """比较：把两项或多项指标并排对照。"""
    session = get_session()
    codes = [code for code in dict.fromkeys(request.args.getlist("codes")) if code][:MAX_COMPARE]
    extra = request.args.get("add", "").strip()
    if extra and extra not in codes:
        codes.append(extra)
    found = {i.code: i for i in session.scalars(
        select(Indicator).where(Indicator.code.in_(codes)).options(selectinload(Indicator.basis),
                                                                   selectinload(Indicator.department)))}
    visible = visible_to(session, current_actor())
    found = {code: i for code, i in found.items() if can_read(visible, i)}  # drafts of others: as unknown
    missing = [code for code in codes if code not in found]
    indicators = [found[code] for code in codes if code in found]
    rows = [
        ("部门", lambda i: i.department.name if i.department else "共性指标（财政）"),
        ("一级指标", lambda i: i.level1), ("二级指标", lambda i: i.level2), ("指标性质", lambda i: i.nature.value),
        ("指标值", lambda i: f"{'' if i.operator == '定性' else i.operator}{i.target}{i.unit}"),
        ("计量单位", lambda i: i.unit), ("指标解释", lambda i: i.definition), ("计算公式", lambda i: i.formula),
        ("指标来源", lambda i: "\n".join(f"{b.kind.value}：{b.title}{'（' + b.doc_no + '）' if b.doc_no else ''}" for b in i.basis)),
        ("数据来源", lambda i: i.data_source), ("适用项目", lambda i: "、".join(i.projects or [])),
        ("关键词", lambda i: "、".join(i.keywords or [])),
        ("状态", lambda i: "在用" if i.is_active else "已停用"),
    ]
    table = [(label, [getter(i) for i in indicators]) for label, getter in rows]
    differs = {label: len(set(values)) > 1 for label, values in table}
    return render_template("indicators/compare.html", indicators=indicators, table=table, differs=differs,
                           missing=missing, codes=codes, max_compare=MAX_COMPARE)


@bp.get("/common")
def common():
    """共性指标（财政统一制定，各部门通用）。"""
    indicators = get_session().scalars(
        select(Indicator).where(Indicator.department_id.is_(None)).options(selectinload(Indicator.basis))
        .order_by(Indicator.position, Indicator.code)
    ).all()
    active = [i for i in indicators if i.is_active]
    return render_template("indicators/common.html", groups=group_by_levels(active),
                           retired=[i for i in indicators if not i.is_active], ordered=indicators,
                           can_edit=can_open("indicators.new_common"))

