"""kb.services.selfeval: bulk import is all or nothing, scoped to the department, replaces re-imports."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb.errors import ImportFailed
from kb.models import SelfEvaluation, SelfEvaluationRow
from kb.services import selfeval
from kb.services.audit import Actor
from tests.kb.selfeval.builders import EXAMPLE_ROWS, filled_bytes

FINANCE = Actor("财政甲", "finance")


@pytest.fixture
def departments(session, make_department):
    return make_department("101", "县教育局"), make_department("102", "县卫生健康局")


def count(session, model=SelfEvaluation) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_import_writes_every_table_with_its_score(session, departments, make_indicator):
    make_indicator(departments[0], code="JY-900", name="就业率", level1="效益指标", level2="社会效益指标")
    files = [(f"{i}.xlsx", filled_bytes(project=f"项目{i}")) for i in range(3)]
    files.append(("w.xlsx", filled_bytes(project="卫生项目", department="102")))
    selfeval.import_selfevaluations(session, FINANCE, files)
    session.flush()
    assert count(session) == 4
    evaluation = session.scalar(select(SelfEvaluation).where(SelfEvaluation.project_name == "项目0"))
    assert (evaluation.total, evaluation.grade, evaluation.execution_score) == (91.36, "优", 9.5)
    assert evaluation.rows[4].indicator_code == "JY-900" and evaluation.rows[4].actual_value == 92
    assert session.scalar(select(SelfEvaluation.department_id).where(SelfEvaluation.project_name == "卫生项目")) == departments[1].id


def test_one_bad_file_refuses_the_whole_import_with_located_problems(session, departments):
    rows = [dict(row) for row in EXAMPLE_ROWS]
    rows[2]["explanation"] = ""
    files = [("good.xlsx", filled_bytes(project="好")), ("bad.xlsx", filled_bytes(project="坏", rows=rows)),
             ("broken.xlsx", b"not a workbook")]
    with pytest.raises(ImportFailed) as refused:
        selfeval.import_selfevaluations(session, FINANCE, files)
    sources = [str(problem) for problem in refused.value.problems]
    assert any(s.startswith("bad.xlsx：自评表，第 12 行") for s in sources)
    assert any(s.startswith("broken.xlsx") for s in sources)
    assert count(session) == 0 and count(session, SelfEvaluationRow) == 0


def test_unknown_department_and_duplicates_are_refused(session, departments):
    files = [("a.xlsx", filled_bytes(department="不存在局")), ("b.xlsx", filled_bytes()), ("c.xlsx", filled_bytes())]
    with pytest.raises(ImportFailed) as refused:
        selfeval.import_selfevaluations(session, FINANCE, files)
    text = "\n".join(map(str, refused.value.problems))
    assert "不存在局" in text and "c.xlsx" in text and "b.xlsx" in text


def test_a_department_imports_only_its_own(session, departments):
    own = Actor("教育", "department", 5, departments[0].id)
    with pytest.raises(ImportFailed, match="本部门"):
        selfeval.import_selfevaluations(session, own, [("w.xlsx", filled_bytes(department="县卫生健康局"))])
    selfeval.import_selfevaluations(session, own, [("e.xlsx", filled_bytes())])
    assert count(session) == 1


def test_reimport_replaces_and_dry_run_writes_nothing(session, departments):
    selfeval.import_selfevaluations(session, FINANCE, [("a.xlsx", filled_bytes())], dry_run=True)
    assert count(session) == 0
    selfeval.import_selfevaluations(session, FINANCE, [("a.xlsx", filled_bytes())])
    selfeval.import_selfevaluations(session, FINANCE, [("a.xlsx", filled_bytes(executed=80))])
    session.flush()
    assert count(session) == 1 and count(session, SelfEvaluationRow) == len(EXAMPLE_ROWS)
    assert session.scalar(select(SelfEvaluation.execution_score)) == 8.0
