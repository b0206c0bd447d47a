"""Loading and exporting the whole library as YAML (``kb init``, ``kb load``, ``kb export``).

Parse and validate everything first, then write everything: a load with any problem writes nothing.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.errors import NotFound, Problem, ValidationFailed
from kb.models import Department, Indicator, IndicatorBasis, IndicatorSet
from kb.schemas import CommonFileSchema, DepartmentFileSchema, DepartmentSchema, IndicatorSchema, problems_from
from kb.services.audit import Actor, record_change
from kb.services.synonyms import seed_synonyms
from kb.vocab import BasisKind, IndicatorState, Nature, SetStatus
from kb.yamlio import dump_yaml, read_yaml_files, write_yaml

Progress = Callable[[int], None]
_INDICATOR_SCHEMA = IndicatorSchema()  # one instance: building schemas per row dominated large loads
COMMON_FILE_HEADER = "# 共性指标：各部门均可选用，由财政部门统一制定和维护。\n"


@dataclass
class ParsedLibrary:
    """Validated content of a set of YAML files, ready to be written."""

    departments: list[dict[str, Any]] = field(default_factory=list)
    common: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # indicator or department code → file
    rejected_departments: list[dict[str, Any]] = field(default_factory=list)  # only for cross-checks

    @property
    def indicator_count(self) -> int:
        sets = [d["indicator_set"] for d in self.departments if d.get("indicator_set")]
        return len(self.common) + sum(len(s["indicators"]) for s in sets)


@dataclass
class LoadReport:
    departments_added: int = 0
    departments_updated: int = 0
    indicators_added: int = 0
    indicators_updated: int = 0
    indicators_unchanged: int = 0
    changed_codes: list[str] = field(default_factory=list)


def parse_library(session: Session, paths: Iterable[Path]) -> ParsedLibrary:
    """Read and validate files; raise :class:`ValidationFailed` listing every problem found."""
    files, problems = read_yaml_files(paths)
    parsed = ParsedLibrary()
    for file in files:
        source = str(file.path)
        data = file.data
        if not isinstance(data, dict) or not ({"department", "indicators"} & set(data)):
            problems.append(Problem(
                "文件内容不是指标库格式：部门文件以 department: 开头，共性指标文件以 indicators: 开头。", source
            ))
            continue
        for code in _raw_indicator_codes(data):
            _claim(parsed.sources, code, source, problems, f"指标编码 {code} 重复")
        schema = DepartmentFileSchema() if "department" in data else CommonFileSchema()
        try:
            loaded = schema.load(data)
        except ValidationError as error:
            problems.extend(problems_from(error, source))
            _keep_department_for_checks(parsed, data, source)
            continue
        if "department" in loaded:
            parsed.departments.append(loaded)
            _claim(parsed.sources, "department:" + loaded["department"]["code"], source, problems,
                   f"部门编码 {loaded['department']['code']} 重复")
        else:
            parsed.common.extend(loaded["indicators"])
    problems.extend(_cross_check(session, parsed))
    if problems:
        raise ValidationFailed(problems)
    return parsed


def _keep_department_for_checks(parsed: ParsedLibrary, data: dict, source: str) -> None:
    """A file with bad indicators still gets its department checked (parent, duplicates)."""
    try:
        department = DepartmentSchema().load(data.get("department"))
    except (ValidationError, TypeError):
        return
    parsed.rejected_departments.append(department)
    parsed.sources.setdefault("department:" + department["code"], source)


def _raw_indicator_codes(data: dict) -> list[str]:
    """Codes as written, so duplicates are found even in files that have other problems."""
    container = data.get("indicator_set") if "department" in data else data
    items = container.get("indicators") if isinstance(container, dict) else None
    if not isinstance(items, list):
        return []
    return [str(item["code"]) for item in items if isinstance(item, dict) and isinstance(item.get("code"), (str, int))]


def _claim(sources: dict[str, str], key: str, source: str, problems: list[Problem], what: str) -> None:
    if key in sources:
        problems.append(Problem(f"{what}（也出现在 {sources[key]}），编码在整个指标库中必须唯一。", source))
    else:
        sources[key] = source


def _cross_check(session: Session, parsed: ParsedLibrary) -> list[Problem]:
    """Checks that need every file or the database: parents exist, codes do not change owner."""
    problems: list[Problem] = []
    departments = [d["department"] for d in parsed.departments] + parsed.rejected_departments
    known = set(session.scalars(select(Department.code))) | {d["code"] for d in departments}
    for department in departments:
        parent = department.get("parent_code")
        source = parsed.sources["department:" + department["code"]]
        if parent is not None and parent not in known:
            problems.append(Problem(
                f"上级部门 {parent} 不存在：请先导入该部门，或把 parent 改为已有部门编码（主管部门填 null）。",
                source, f"部门 {department['code']}", "parent",
            ))
        if parent == department["code"]:
            problems.append(Problem("部门不能是自己的上级部门。", source, f"部门 {department['code']}", "parent"))
    owners = dict(session.execute(
        select(Indicator.code, Department.code).outerjoin(Department, Indicator.department_id == Department.id)
    ).all())
    for document in parsed.departments:
        for item in (document.get("indicator_set") or {}).get("indicators", []):
            _check_owner(problems, parsed, owners, item["code"], document["department"]["code"])
    for item in parsed.common:
        _check_owner(problems, parsed, owners, item["code"], None)
    return problems


def _check_owner(problems, parsed, owners, code, department_code) -> None:
    if code in owners and owners[code] != department_code:
        owner = f"部门 {owners[code]}" if owners[code] else "共性指标"
        problems.append(Problem(
            f"编码 {code} 在库中已属于{owner}，不能改到别处；如确需调整，请换一个新编码。",
            parsed.sources[code], f"指标 {code}", "code",
        ))


def load_library(
    session: Session, actor: Actor, parsed: ParsedLibrary, progress: Progress | None = None
) -> LoadReport:
    """Insert or update departments, sets and indicators by code; flush, never commit."""
    report = LoadReport()
    departments = {d.code: d for d in session.scalars(select(Department))}
    for document in parsed.departments:
        _upsert_department(session, actor, departments, document["department"], report)
    session.flush()
    for document in parsed.departments:
        data = document["department"]
        parent_code = data.get("parent_code")
        departments[data["code"]].parent = departments[parent_code] if parent_code else None
    indicators = {
        i.code: i for i in session.scalars(select(Indicator).options(selectinload(Indicator.basis)))
    }
    for document in parsed.departments:
        department = departments[document["department"]["code"]]
        if document.get("indicator_set"):
            _upsert_set(session, actor, department, document["indicator_set"])
            for position, item in enumerate(document["indicator_set"]["indicators"]):
                _upsert_indicator(session, actor, indicators, item, department, position, report)
                if progress:
                    progress(1)
    for position, item in enumerate(parsed.common):
        _upsert_indicator(session, actor, indicators, item, None, position, report)
        if progress:
            progress(1)
    seed_synonyms(session, actor)  # the search synonyms of synonyms.yaml, while none are in the database
    session.flush()
    return report


def _upsert_department(session, actor, departments, data, report) -> None:
    fields = {"name": data["name"], "pilot": data["pilot"], "functions": data["functions"]}
    department = departments.get(data["code"])
    if department is None:
        department = Department(code=data["code"], **fields)
        session.add(department)
        departments[data["code"]] = department
        report.departments_added += 1
        record_change(session, actor, "create", "department", data["code"], after=data, summary=data["name"])
        return
    before = {key: getattr(department, key) for key in fields}
    if before != fields or department.parent_code != data.get("parent_code"):
        for key, value in fields.items():
            setattr(department, key, value)
        report.departments_updated += 1
        record_change(session, actor, "update", "department", data["code"], before=before, after=fields)


def _upsert_set(session, actor, department: Department, data) -> IndicatorSet:
    sets = {s.version: s for s in department.indicator_sets}
    indicator_set = sets.get(data["version"])
    status = SetStatus(data["status"])
    if indicator_set is None:
        for older in sets.values():
            older.is_current = False
        session.flush()  # release the one-current-set index before the new current set arrives
        indicator_set = IndicatorSet(
            department=department, year=data["year"], version=data["version"], status=status, is_current=True
        )
        session.add(indicator_set)
        record_change(session, actor, "create", "indicator_set", f"{department.code} v{data['version']}",
                      after={"year": data["year"], "status": status.value})
    elif (indicator_set.year, indicator_set.status) != (data["year"], status):
        before = {"year": indicator_set.year, "status": indicator_set.status.value}
        indicator_set.year, indicator_set.status = data["year"], status
        record_change(session, actor, "update", "indicator_set", f"{department.code} v{data['version']}",
                      before=before, after={"year": data["year"], "status": status.value})
    return indicator_set


def _upsert_indicator(session, actor, indicators, item, department, position, report) -> None:
    indicator = indicators.get(item["code"])
    if indicator is None:
        indicator = Indicator(code=item["code"], department=department, position=position)
        apply_indicator_fields(indicator, item)
        session.add(indicator)
        indicators[item["code"]] = indicator
        report.indicators_added += 1
        report.changed_codes.append(item["code"])
        record_change(session, actor, "create", "indicator", item["code"], after=item, summary=item["name"])
        return
    before = indicator_to_dict(indicator)
    if before == _INDICATOR_SCHEMA.dump(item) and indicator.position == position:
        report.indicators_unchanged += 1
        return
    apply_indicator_fields(indicator, item)
    indicator.position = position
    report.indicators_updated += 1
    report.changed_codes.append(item["code"])
    record_change(session, actor, "update", "indicator", item["code"], before=before,
                  after=_INDICATOR_SCHEMA.dump(item), summary=item["name"])


INDICATOR_SCALARS = (
    "name", "level1", "level2", "nature", "operator", "target", "unit", "definition",
    "formula", "data_source", "evidence", "remarks",
)


def apply_indicator_fields(indicator: Indicator, data: dict[str, Any]) -> None:
    """Copy loaded (validated) indicator fields onto the model, replacing the basis list."""
    for key in INDICATOR_SCALARS:
        setattr(indicator, key, data[key])
    indicator.nature = Nature(data["nature"])
    indicator.projects = list(data["projects"])
    indicator.keywords = list(data["keywords"])
    indicator.state = IndicatorState(data["state"])
    indicator.basis = [
        IndicatorBasis(position=i, kind=BasisKind(b["kind"]), title=b["title"], doc_no=b.get("doc_no", ""))
        for i, b in enumerate(data["basis"])
    ]


def indicator_to_dict(indicator: Indicator) -> dict[str, Any]:
    """The indicator in its YAML/API form (the same schema for every channel)."""
    return _INDICATOR_SCHEMA.dump(indicator)


def _departments_for_export(session: Session, code: str | None = None) -> list[Department]:
    query = select(Department).options(
        selectinload(Department.indicators).selectinload(Indicator.basis),
        selectinload(Department.indicator_sets),
        selectinload(Department.parent),
    ).order_by(Department.code)
    if code is not None:
        query = query.where(Department.code == code)
    return list(session.scalars(query))


def department_document(department: Department) -> dict[str, Any]:
    """One department's YAML file (CONTRACT §4): the department and its current indicator set."""
    document: dict[str, Any] = {"department": DepartmentFileSchema().dump({"department": department})["department"]}
    current = department.current_set
    if current is not None:
        document["indicator_set"] = {
            "year": current.year,
            "version": current.version,
            "status": current.status.value,
            "indicators": [indicator_to_dict(i) for i in department.indicators],
        }
    return document


def export_department(session: Session, code: str) -> str:
    """The YAML text of one department's file, exactly as :func:`export_library` writes it."""
    departments = _departments_for_export(session, code)
    if not departments:
        raise NotFound(f"部门 {code} 不存在，请从部门列表进入。")
    return dump_yaml(department_document(departments[0]))


def export_library(session: Session, directory: Path) -> int:
    """Write every department and the common indicators as YAML; return the number of files."""
    count = 0
    for department in _departments_for_export(session):
        write_yaml(directory / "departments" / f"{department.code}.yaml", department_document(department))
        count += 1
    common = session.scalars(
        select(Indicator).where(Indicator.department_id.is_(None))
        .options(selectinload(Indicator.basis)).order_by(Indicator.position, Indicator.code)
    ).all()
    write_yaml(directory / "indicators" / "common.yaml",
               {"indicators": [indicator_to_dict(i) for i in common]}, header=COMMON_FILE_HEADER)
    return count + 1
