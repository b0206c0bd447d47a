"""What auditors and clerks read: audit values and changes in Chinese, lists as lists, not JSON.

The audit log stores English keys and tokens (its CONTRACT shape); pages show them through these
labels. A key or token without a label is shown as stored, so nothing is ever hidden.
"""
from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import select

from kb.models.goal import GoalStatus, Verdict
from kb.models.workflow import ChangeKind, ChangeStatus, CommentKind, ReviewDecision
from kb.models import User
from kb.vocab import IndicatorState, Role, SetStatus
from webapp.db import get_session
from webapp.forms import FIELD_LABELS

ACTION_LABELS = {
    "create": "新增", "update": "修改", "retire": "停用（出库）", "restore": "恢复使用", "reorder": "调整顺序",
    "submit": "报送/提交", "department_confirm": "部门确认", "confirm": "财政确认", "expert_certify": "专家同意审定",
    "certify": "审定发布", "supersede": "被新版本取代", "return": "退回", "start_next": "开始新版本",
    "start_set": "建立指标集", "assign_experts": "分派评审专家", "comment": "评审意见", "answer": "答复意见",
    "propose": "提出申请/建议入库", "unpropose": "取消建议入库", "accept": "采纳申请", "decline": "不予采纳",
    "withdraw": "撤回申请", "login": "登录", "login_failed": "登录失败", "logout": "退出", "denied": "拒绝访问",
    "view": "查看", "import": "模版导入", "load": "载入 YAML", "copy": "复制", "add_indicators": "加入指标",
    "review": "评审", "approve": "审定通过", "lockout": "账户锁定", "unlock": "解除锁定",
    "password_change": "修改密码", "password_reset": "重置密码", "backup": "备份", "delete": "删除",
    "export": "导出", "import_refused": "导入被拒绝", "save_conflict": "保存冲突（被拒绝）", "upload": "上传文件",
}
ENTITY_LABELS = {
    "indicator": "指标", "indicator_set": "指标集", "department": "部门", "user": "账户", "goal": "绩效目标",
    "goal_row": "绩效目标指标行", "change_request": "变更申请", "audit_log": "审计日志", "route": "页面/操作",
    "database": "数据库", "upload": "上传文件", "export": "导出文件",
    "synonym_group": "检索同义词组", "synonym_groups": "检索同义词", "rejected_guess": "排除的检索猜测",
}
FIELDS = {
    **FIELD_LABELS,
    "status": "状态", "year": "年度", "version": "版本", "copied": "复制指标数", "expert": "专家",
    "decision": "决定", "comment": "意见编号", "kind": "类型", "indicator": "指标", "body": "内容",
    "answer": "答复", "reason": "理由", "codes": "指标编码", "username": "账号", "display_name": "姓名",
    "role": "角色", "department": "部门", "experts": "专家", "due_on": "截止日期", "note": "说明",
    "indicators": "指标数", "rule": "审定规则", "warnings": "提示数", "verdict": "审核结论", "summary": "意见",
    "overridden_comments": "未答复即审定的意见", "override_reason": "未答复即审定的理由", "added": "新增",
    "changed": "修改", "unchanged": "未变", "retired": "停用", "file": "文件", "rows": "行数", "order": "顺序",
    "active": "启用", "parent": "上级部门", "pilot": "试点部门", "functions": "三定职能", "goal": "绩效目标",
    "round": "评审轮次", "remote_addr": "来源地址", "endpoint": "页面", "method": "请求方式", "path": "地址",
    "from": "起始日期", "to": "截止日期", "actor": "人员", "action": "操作", "entity_type": "对象", "key": "编码",
    "terms": "同义词", "category": "分类", "groups": "组数", "source": "输入的词", "term": "指标库中的词",
    "project": "项目", "amount": "资金总额", "annual_objective": "年度目标", "long_term_objective": "总体目标",
}
# Tokens stored under a key, shown by their label.
_TOKENS: dict[str, dict[str, str]] = {
    "role": Role.labels(), "decision": ReviewDecision.labels(), "verdict": Verdict.labels(),
    "state": IndicatorState.labels(), "kind": {**CommentKind.labels(), **ChangeKind.labels()},
    "status": {**ChangeStatus.labels(), **GoalStatus.labels(), **SetStatus.labels()},
    "rule": {"all": "全部专家同意", "majority": "过半数专家同意"}, "action": ACTION_LABELS,
}


def field_label(key: str) -> str:
    return FIELDS.get(key, key)


def show(value: Any, key: str = "") -> str:
    """One stored value as a person reads it: lists joined with 、, sources as 类型：名称（文号）."""
    if value is None or value == "" or value == [] or value == {}:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str):
        return _TOKENS.get(key, {}).get(value, value)
    if isinstance(value, dict):
        if "title" in value:  # an indicator source
            kind = f"{value['kind']}：" if value.get("kind") else ""
            return f"{kind}{value['title']}" + (f"（{value['doc_no']}）" if value.get("doc_no") else "")
        return "；".join(f"{field_label(k)}：{show(v, k)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        separator = "；" if any(isinstance(item, dict) for item in value) else "、"
        return separator.join(show(item, key) for item in value)
    return str(value)


def compare(before: dict | None, after: dict | None) -> list[dict[str, Any]]:
    """Every field of an audit entry, before and after, with ``changed`` for those that differ."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [{"key": key, "label": field_label(key),
             "before": show(before[key], key) if key in before else "—",
             "after": show(after[key], key) if key in after else "—",
             "changed": bool(before) and bool(after) and before.get(key) != after.get(key)}
            for key in keys]


def person(username: str | None) -> str:
    """``person`` template filter: a login id as the person's name (``kb users add --display-name``).

    Records keep the login id (it is what the audit log and filters use); pages show the name, with
    the login id when the two differ, so an auditor can still match them.
    """
    if not username:
        return ""
    if "kb_display_names" not in g:
        g.kb_display_names = dict(get_session().execute(select(User.username, User.display_name)).all())
    name = g.kb_display_names.get(username) or ""
    return f"{name}（{username}）" if name and name != username else username
