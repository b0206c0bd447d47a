"""Loading, validating and exporting the YAML library (kb/services/library.py, kb/yamlio.py)."""
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from kb.errors import ValidationFailed
from kb.models import AuditEntry, Department, Indicator
from kb.services.library import export_library, indicator_to_dict, load_library, parse_library
from tests.conftest import SEED_PATHS, indicator_data


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def department_file(tmp_path, code="901", indicators=(), parent=None, name="测试局"):
    return write(tmp_path / f"{code}.yaml", {
        "department": {"code": code, "name": name, "parent": parent, "pilot": False, "functions": ["职能"]},
        "indicator_set": {"year": 2025, "status": "draft", "indicators": list(indicators)},
    })


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_seed_loads_whole_county(seeded):
    assert count(seeded, Department) == 77
    assert count(seeded, Indicator) >= 280
    pilots = seeded.scalars(select(Department).where(Department.pilot)).all()
    assert len(pilots) == 8 and all(d.indicators for d in pilots)
    school = seeded.scalar(select(Department).where(Department.code == "101001"))
    assert school.parent.code == "101"
    assert seeded.scalar(select(Indicator).where(Indicator.code == "GX-001")).is_common


def test_load_writes_audit_rows(seeded):
    assert count(seeded, AuditEntry) >= 77 + 303


def test_export_then_load_reproduces_the_library(seeded, tmp_path, engine, actor):
    export_library(seeded, tmp_path / "one")
    before = {i.code: (indicator_to_dict(i), i.department.code if i.department else None, i.position)
              for i in seeded.scalars(select(Indicator))}
    from kb.models import Base

    # Load the export into an empty library (same engine, cleared tables).
    seeded.close()
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    load_library(seeded, actor, parse_library(seeded, [tmp_path / "one"]))
    seeded.commit()
    after = {i.code: (indicator_to_dict(i), i.department.code if i.department else None, i.position)
             for i in seeded.scalars(select(Indicator))}
    assert after == before
    export_library(seeded, tmp_path / "two")
    for first in sorted((tmp_path / "one").rglob("*.yaml")):
        second = tmp_path / "two" / first.relative_to(tmp_path / "one")
        assert first.read_bytes() == second.read_bytes(), first


def test_seed_export_is_byte_identical_to_seed(seeded, tmp_path):
    export_library(seeded, tmp_path)
    for path in SEED_PATHS[0].glob("*.yaml"):
        assert (tmp_path / "departments" / path.name).read_bytes() == path.read_bytes()


def test_load_updates_by_code_and_counts(session, actor, tmp_path):
    path = department_file(tmp_path, indicators=[indicator_data()])
    report = load_library(session, actor, parse_library(session, [path]))
    assert (report.indicators_added, report.departments_added) == (1, 1)
    session.commit()
    department_file(tmp_path, indicators=[indicator_data(name="改过的名称")])
    report = load_library(session, actor, parse_library(session, [path]))
    session.commit()
    assert (report.indicators_added, report.indicators_updated) == (0, 1)
    assert session.scalar(select(Indicator.name)) == "改过的名称"
    report = load_library(session, actor, parse_library(session, [path]))
    assert report.indicators_unchanged == 1


def problems_for(session, *paths):
    with pytest.raises(ValidationFailed) as caught:
        parse_library(session, paths)
    return [str(p) for p in caught.value.problems]


def test_every_problem_reported_at_once_and_nothing_written(session, tmp_path):
    good = department_file(tmp_path, "901", [indicator_data(code="A-1")])
    bad = department_file(tmp_path, "902", [
        indicator_data(code="A-1"),  # duplicate across files
        indicator_data(code="B-1", level1="效益指标", level2="数量指标"),
        indicator_data(code="B-2", unit="", target="很多"),
    ], parent="999")
    problems = problems_for(session, good, bad)
    text = "\n".join(problems)
    assert "指标编码 A-1 重复" in text
    assert "指标 B-1，字段 level2" in text
    assert "指标 B-2，字段 unit" in text and "指标 B-2，字段 target" in text
    assert "上级部门 999 不存在" in text
    assert count(session, Department) == 0


def test_bad_yaml_syntax_has_line_number(session, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("department:\n  code: '1'\n  name: [未闭合\n", encoding="utf-8")
    [problem] = problems_for(session, path)
    assert "broken.yaml" in problem and "YAML 语法错误" in problem and "行" in problem


def test_object_constructing_tags_are_refused(session, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("department: !!python/object/apply:os.system ['echo pwned']\n", encoding="utf-8")
    [problem] = problems_for(session, path)
    assert "不允许的 YAML 标签" in problem


def test_non_utf8_file_is_refused(session, tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("department:\n  code: '1'\n  name: 县教育局\n".encode("gbk"))
    [problem] = problems_for(session, path)
    assert "不是 UTF-8 编码" in problem


def test_unknown_shape_and_missing_file(session, tmp_path):
    odd = write(tmp_path / "odd.yaml", ["a", "b"])
    problems = problems_for(session, odd, tmp_path / "missing.yaml")
    assert any("odd.yaml" in p and "不是指标库格式" in p for p in problems)
    assert any("missing.yaml" in p and "文件不存在" in p for p in problems)


def test_indicator_cannot_change_owner(seeded, tmp_path):
    path = department_file(tmp_path, "901", [indicator_data(code="JY-001")])
    [problem] = problems_for(seeded, path)
    assert "JY-001 在库中已属于部门 101" in problem


def test_legacy_framework_is_mapped_on_load(session, actor, tmp_path):
    path = department_file(tmp_path, indicators=[indicator_data(level1="产出指标", level2="成本指标", unit="元")])
    load_library(session, actor, parse_library(session, [path]))
    indicator = session.scalar(select(Indicator))
    assert (indicator.level1, indicator.level2) == ("成本指标", "经济成本指标")


def test_export_department_is_the_file_export_library_writes_without_writing_anything(
        session, make_department, make_indicator, tmp_path, monkeypatch):
    from kb.errors import NotFound
    from kb.services import library

    for code in ("901", "902"):
        department = make_department(code=code, name=f"测试局{code}")
        make_indicator(department, code=f"D{code}-1")
    make_indicator(None, code="CM-1")
    export_library(session, tmp_path)
    expected = (tmp_path / "departments" / "901.yaml").read_text(encoding="utf-8")

    def no_files(*args, **kwargs):
        raise AssertionError("exporting one department must not write the library to disk")

    monkeypatch.setattr(library, "write_yaml", no_files)
    text = library.export_department(session, "901")
    assert text == expected and "D901-1" in text and "D902-1" not in text and "CM-1" not in text
    with pytest.raises(NotFound, match="部门 999 不存在"):
        library.export_department(session, "999")
