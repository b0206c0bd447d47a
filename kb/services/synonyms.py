"""检索同义词组: finance adds, edits and retires synonym groups (audited); the database is the live
source, ``kb/indicators/synonyms.yaml`` the seed and the exported form.

The table is seeded from the YAML file while it is empty (:func:`seed_synonyms`, run by ``kb init``,
by loading the library and before the first edit), so the YAML file's groups stay in force until then.
Every change checks the whole group first (at least two distinct terms, none empty, none already in
another active group) and writes nothing when one check fails. :func:`export_synonyms` writes the
exact form of the YAML file (its header, its ``# ---- 分类 ----`` sections, one flow list per group).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb import vocab
from kb.db import serialize_writers
from kb.errors import EditConflict, NotFound, PermissionDenied, Problem, ValidationFailed
from kb.models import AuditEntry, Indicator
from kb.models.base import utcnow
from kb.models.synonym_group import SynonymGroup
from kb.permissions import can_edit_synonyms
from kb.services.audit import Actor, record_change
from kb.vocab import IndicatorState
from search.analysis import normalize

SYNONYMS_PATH = vocab.REFERENCE_DIR / "synonyms.yaml"
ENTITY = "synonym_group"
SYNONYM_LOCK = 7240532  # serialize_writers key: changes that check terms against the other groups go one at a time
MAX_TERM_LENGTH = 30
MAX_NOTE_LENGTH = 500
MAX_CATEGORY_LENGTH = 50
STATUSES = {"active": "启用", "retired": "已停用", "all": "全部"}
FIELD_LABELS = {"terms": "同义词", "category": "分类", "note": "说明", "active": "状态"}
DEFAULT_HEADER = ("# 检索同义词：每组内的词在检索时互相扩展（查询时扩展，不改变索引）。\n"
                  "# 由财政部门在网页“同义词”中维护；本文件是种子数据和导出格式（kb synonyms export）。\n")
_SECTION = re.compile(r"^\s*#\s*-{2,}\s*(.+?)\s*-{2,}\s*$")
_GROUP_LINE = re.compile(r"^\s*-\s")
# What a person may type between terms: 、，, ；; and any whitespace, one group per form field.
_SEPARATORS = re.compile(r"[、，,；;\s]+")


@dataclass(frozen=True)
class SeedGroup:
    terms: list[str]
    category: str = ""


@dataclass(frozen=True)
class SynonymsFile:
    """A synonyms YAML file read: its leading comment lines and its groups with their sections."""

    header: str
    groups: list[SeedGroup]


def read_synonyms_file(path: Path = SYNONYMS_PATH) -> SynonymsFile:
    """Groups of ``path`` with the section (``# ---- 卫生健康 ----``) each sits under."""
    if not path.exists():
        return SynonymsFile(DEFAULT_HEADER, [])
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    groups = [[str(term) for term in group] for group in data.get("groups") or []]
    lines = text.splitlines()
    comments = _leading_comments(lines)
    header = "".join(f"{line}\n" for line in comments) or DEFAULT_HEADER
    sections: list[str] = []
    section = ""
    for line in lines[len(comments):]:
        match = _SECTION.match(line)
        if match:
            section = match.group(1)
        elif _GROUP_LINE.match(line):
            sections.append(section)
    if len(sections) != len(groups):  # a layout this reader does not know: keep the groups, drop the sections
        sections = [""] * len(groups)
    return SynonymsFile(header, [SeedGroup(terms, category) for terms, category in zip(groups, sections)])


def _leading_comments(lines: list[str]) -> list[str]:
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    return header


def split_terms(text: str) -> list[str]:
    """Terms typed in one field, separated by 、，, ；; or spaces (``满意度、满意率`` → two terms)."""
    return [term for term in _SEPARATORS.split(text or "") if term]


# --- reading ------------------------------------------------------------------------------------

def get_group(session: Session, group_id: int) -> SynonymGroup:
    group = session.get(SynonymGroup, group_id)
    if group is None:
        raise NotFound(f"没有编号为 {group_id} 的同义词组，请从同义词列表重新打开。")
    return group


def list_groups(session: Session, *, text: str = "", status: str = "active", category: str = "") -> list[SynonymGroup]:
    """Groups in the order of the file (id order), narrowed by a term fragment, status and category."""
    query = select(SynonymGroup).order_by(SynonymGroup.id)
    if status == "active":
        query = query.where(SynonymGroup.active.is_(True))
    elif status == "retired":
        query = query.where(SynonymGroup.active.is_(False))
    if category:
        query = query.where(SynonymGroup.category == category)
    groups = list(session.scalars(query))
    wanted = normalize(text or "").replace(" ", "")
    if wanted:  # terms are a JSON list: match in Python, the same on SQLite and PostgreSQL
        groups = [group for group in groups if any(wanted in normalize(term) for term in group.terms)]
    return groups


def groups_of_words(session: Session, words: Iterable[str]) -> dict[str, SynonymGroup]:
    """Each of ``words`` (normalised) that is a term of an active group → that group (a word belongs to one
    active group at most: :func:`add_group` refuses a second)."""
    wanted = {normalize(word) for word in words}
    return {normalize(term): group for group in list_groups(session) for term in group.terms
            if normalize(term) in wanted}


def groups_in_text(session: Session, text: str) -> list[SynonymGroup]:
    """Active groups with a term occurring in ``text``: the groups a search for ``text`` expands by. A
    one-character term (率, 村) counts only standing alone, as search.analysis.Synonyms.expand counts it."""
    text = normalize(text or "")
    words, compact = set(text.split()), text.replace(" ", "")

    def occurs(term: str) -> bool:
        return term in compact if len(term) > 1 else term in words

    return [group for group in list_groups(session) if any(occurs(normalize(term)) for term in group.terms)]


def categories(session: Session) -> list[str]:
    """The categories in use, in the order they first appear."""
    seen: dict[str, None] = {}
    for name in session.scalars(select(SynonymGroup.category).order_by(SynonymGroup.id)):
        if name:
            seen.setdefault(name, None)
    return list(seen)


def synonyms_generation(session: Session) -> tuple[int, int]:
    """A value that changes with every add, edit, retire or restore (rows are never deleted and each
    change raises one row's version): ``(rows, sum of versions)``, one small aggregate query."""
    count, total = session.execute(
        select(func.count(SynonymGroup.id), func.coalesce(func.sum(SynonymGroup.row_version), 0))).one()
    return int(count), int(total)


def live_groups(session: Session) -> list[list[str]] | None:
    """The active groups' terms search should expand, or ``None`` while the table is not seeded
    (search then keeps the YAML file's groups)."""
    if not session.scalar(select(func.count(SynonymGroup.id))):
        return None
    return [list(terms) for terms in session.scalars(
        select(SynonymGroup.terms).where(SynonymGroup.active.is_(True)).order_by(SynonymGroup.id))]


def reach_counts(session: Session, groups: Iterable[SynonymGroup]) -> dict[int, int]:
    """For each group, how many indicators in use mention one of its terms (name, keywords, projects,
    definition or formula): what an expansion by the group can reach."""
    texts = [normalize(" ".join([name, *(keywords or []), *(projects or []), definition or "", formula or ""]))
             for name, keywords, projects, definition, formula in session.execute(
                 select(Indicator.name, Indicator.keywords, Indicator.projects, Indicator.definition, Indicator.formula)
                 .where(Indicator.state != IndicatorState.RETIRED))]
    counts = {}
    for group in groups:
        terms = [normalize(term) for term in group.terms]
        counts[group.id] = sum(1 for text in texts if any(term in text for term in terms))
    return counts


# --- writing ------------------------------------------------------------------------------------

def seed_synonyms(session: Session, actor: Actor, path: Path = SYNONYMS_PATH) -> int:
    """Load the groups of ``synonyms.yaml`` while the table is empty (as they are: the seed is taken on
    trust, edits are checked); returns how many were added (0 when the table already has groups)."""
    if session.scalar(select(func.count(SynonymGroup.id))):
        return 0
    seed = read_synonyms_file(path)
    now = utcnow()
    for group in seed.groups:
        row = SynonymGroup(terms=group.terms, category=group.category[:MAX_CATEGORY_LENGTH], note="", active=True)
        row.touch(actor.username, now)
        session.add(row)
    if seed.groups:
        session.flush()
        record_change(session, actor, "load", "synonym_groups", path.name, after={"groups": len(seed.groups)},
                      summary=f"从 {path.name} 导入 {len(seed.groups)} 组检索同义词")
    return len(seed.groups)


def add_group(session: Session, actor: Actor, terms: Sequence[str], *, note: str = "", category: str = "") -> SynonymGroup:
    """A new active group; audited. :class:`ValidationFailed` lists every problem, nothing is written."""
    require_keeper(actor)
    serialize_writers(session, SYNONYM_LOCK)
    seed_synonyms(session, actor)
    terms, note, category = _checked(session, terms, note, category, None)
    group = SynonymGroup(terms=terms, note=note, category=category, active=True)
    group.touch(actor.username, utcnow())
    session.add(group)
    session.flush()
    record_change(session, actor, "create", ENTITY, str(group.id), after=_audit_form(group), summary=group.label)
    return group


def edit_group(session: Session, actor: Actor, group_id: int, terms: Sequence[str], *, note: str | None = None,
               category: str | None = None, expected_version: int) -> SynonymGroup:
    """Replace a group's terms (and its note and category unless ``None``); :class:`EditConflict` when
    someone saved since ``expected_version`` (nothing is overwritten). A retired group stays retired."""
    require_keeper(actor)
    serialize_writers(session, SYNONYM_LOCK)
    group = get_group(session, group_id)
    _check_version(session, group, expected_version)
    note = group.note if note is None else note
    category = group.category if category is None else category
    terms, note, category = _checked(session, terms, note, category, group, overlap=group.active)
    before = _audit_form(group)
    group.terms, group.note, group.category = terms, note, category
    group.touch(actor.username, utcnow())
    session.flush()
    record_change(session, actor, "update", ENTITY, str(group.id), before=before, after=_audit_form(group),
                  summary=group.label)
    return group


def retire_group(session: Session, actor: Actor, group_id: int, *, reason: str, expected_version: int) -> SynonymGroup:
    """Stop expanding a group (kept, with the reason, for history and restoring); audited."""
    require_keeper(actor)
    group = get_group(session, group_id)
    _check_version(session, group, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed([Problem("请填写停用理由（例如：扩展后检索结果变差、两个词含义不同）。",
                                        "停用同义词组", group.label, "reason")])
    if not group.active:
        raise ValidationFailed([Problem("该同义词组已经停用。", "停用同义词组", group.label)])
    before = _audit_form(group)
    group.active, group.retired_reason = False, reason[:MAX_NOTE_LENGTH]
    group.touch(actor.username, utcnow())
    session.flush()
    record_change(session, actor, "retire", ENTITY, str(group.id), before=before,
                  after={**_audit_form(group), "reason": group.retired_reason}, summary=group.label)
    return group


def restore_group(session: Session, actor: Actor, group_id: int, *, expected_version: int) -> SynonymGroup:
    """Expand a retired group again (its terms are checked against the active groups first); audited."""
    require_keeper(actor)
    serialize_writers(session, SYNONYM_LOCK)
    group = get_group(session, group_id)
    _check_version(session, group, expected_version)
    if group.active:
        raise ValidationFailed([Problem("该同义词组正在使用，无需恢复。", "恢复同义词组", group.label)])
    _checked(session, group.terms, group.note, group.category, group)
    before = _audit_form(group)
    group.active, group.retired_reason = True, ""
    group.touch(actor.username, utcnow())
    session.flush()
    record_change(session, actor, "restore", ENTITY, str(group.id), before=before, after=_audit_form(group),
                  summary=group.label)
    return group


def require_keeper(actor: Actor) -> None:
    if not can_edit_synonyms(actor):
        raise PermissionDenied("只有财政部门（或管理员）可以维护检索同义词。")


def _audit_form(group: SynonymGroup) -> dict:
    return {"terms": list(group.terms), "category": group.category, "note": group.note, "active": group.active}


def _checked(session: Session, terms: Sequence[str], note: str, category: str,
             group: SynonymGroup | None, overlap: bool = True) -> tuple[list[str], str, str]:
    """The cleaned ``(terms, note, category)``, or :class:`ValidationFailed` with every problem.
    ``overlap``: also refuse a term of another active group (a retired group is checked on restoring)."""
    source, entry = ("修改同义词组", group.label) if group is not None else ("新增同义词组", "")
    problems: list[Problem] = []
    cleaned: list[str] = []
    seen: dict[str, str] = {}
    for position, raw in enumerate(terms, start=1):
        term = str(raw).strip()
        if not term:
            problems.append(Problem(f"第 {position} 个词为空，请填写词语或删除它。", source, entry, "terms"))
            continue
        if len(term) > MAX_TERM_LENGTH:
            problems.append(Problem(f"词“{term}”超过 {MAX_TERM_LENGTH} 个字，同义词应是短词，请缩短。",
                                    source, entry, "terms"))
        key = normalize(term)
        if key in seen:
            problems.append(Problem(f"“{term}”在组内重复出现（与“{seen[key]}”相同），请只保留一个。",
                                    source, entry, "terms"))
            continue
        seen[key] = term
        cleaned.append(term)
    if len(cleaned) < 2:
        have = f"现有“{cleaned[0]}”一个" if cleaned else "现在没有词"
        problems.append(Problem(f"一组同义词至少要有两个不同的词（{have}），请再填写与之同义的词。",
                                source, entry, "terms"))
    others = select(SynonymGroup).where(SynonymGroup.active.is_(True))
    if group is not None:
        others = others.where(SynonymGroup.id != group.id)
    for other in session.scalars(others.order_by(SynonymGroup.id)) if overlap else ():
        taken = {normalize(term) for term in other.terms}
        for term in cleaned:
            if normalize(term) in taken:
                problems.append(Problem(
                    f"“{term}”已在另一个启用的同义词组（第 {other.id} 组：{other.label}）中；一个词只能属于一个启用的组，"
                    "请把词加到那一组，或先修改、停用那一组。", source, entry, "terms"))
    note, category = (note or "").strip(), (category or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        problems.append(Problem(f"说明超过 {MAX_NOTE_LENGTH} 个字，请精简。", source, entry, "note"))
    if len(category) > MAX_CATEGORY_LENGTH:
        problems.append(Problem(f"分类超过 {MAX_CATEGORY_LENGTH} 个字，请精简。", source, entry, "category"))
    if problems:
        raise ValidationFailed(problems)
    return cleaned, note, category


def _check_version(session: Session, group: SynonymGroup, expected_version: int) -> None:
    if group.row_version == expected_version:
        return
    changes: dict[str, tuple[object, object]] = {}
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.entity_type == ENTITY, AuditEntry.entity_key == str(group.id))
        .order_by(AuditEntry.id.desc()).limit(max(1, group.row_version - expected_version))).all()
    for entry in reversed(entries):
        for key, value in (entry.after or {}).items():
            old = (entry.before or {}).get(key)
            if key in FIELD_LABELS and old != value:
                changes[FIELD_LABELS[key]] = (changes.get(FIELD_LABELS[key], (old, None))[0], value)
    raise EditConflict(entity=f"同义词组“{group.label}”", expected_version=expected_version,
                       current_version=group.row_version, changes=changes)


# --- export -------------------------------------------------------------------------------------

def export_synonyms(session: Session, path: Path = SYNONYMS_PATH) -> str:
    """The active groups in the exact form of ``synonyms.yaml``: its header comment, ``groups:``, a
    ``# ---- 分类 ----`` line where the category changes, one flow list per group (a note follows as a
    comment). Before the table is seeded, the file's own groups."""
    seed = read_synonyms_file(path)
    if session.scalar(select(func.count(SynonymGroup.id))):
        rows = [(group.terms, group.category, group.note) for group in session.scalars(
            select(SynonymGroup).where(SynonymGroup.active.is_(True)).order_by(SynonymGroup.id))]
    else:
        rows = [(group.terms, group.category, "") for group in seed.groups]
    lines = [seed.header, "groups:\n"]
    section = ""
    for terms, category, note in rows:
        if category and category != section:
            lines.append(f"  # ---- {category} ----\n")
        section = category or section
        comment = f"  # {' '.join(note.split())}" if note else ""
        lines.append(f"  - [{', '.join(_scalar(term) for term in terms)}]{comment}\n")
    return "".join(lines)


def _scalar(term: str) -> str:
    """A term as a plain YAML scalar when it reads back as the same string, else double-quoted."""
    try:
        if yaml.safe_load(f"[{term}]") == [term] and "#" not in term:
            return term
    except yaml.YAMLError:
        pass
    return json.dumps(term, ensure_ascii=False)


__all__ = [
    "add_group", "edit_group", "export_synonyms", "get_group", "list_groups", "live_groups", "reach_counts",
    "read_synonyms_file", "restore_group", "retire_group", "seed_synonyms", "split_terms", "synonyms_generation",
]
