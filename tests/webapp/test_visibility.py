"""Other departments' drafts do not leak (issue 14 item 6): a set that is not certified is read only
by its department, finance and the experts assigned to it; every read path applies kb.visibility."""
from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from kb.indexing import rebuild_index
from kb.models import Department, Indicator, ReviewAssignment, ReviewRequest, User
from kb.vocab import SetStatus

SECRET = "保密草稿措辞甲乙丙"
CODE = "WJ-006"  # an indicator of 县卫生健康局 (102)


@pytest.fixture
def draft_102(world):
    """102's set back to a draft, one indicator reworded as only its draft says it."""
    state = world.extensions["kb"]
    with state.sessions() as session:
        department = session.scalar(select(Department).where(Department.code == "102"))
        department.current_set.status = SetStatus.DRAFT
        session.scalar(select(Indicator).where(Indicator.code == CODE)).name = SECRET
        session.commit()
        rebuild_index(session, state.search)
    return world


def assign_expert(app, username: str) -> None:
    with app.extensions["kb"].sessions() as session:
        department = session.scalar(select(Department).where(Department.code == "102"))
        expert = session.scalar(select(User).where(User.username == username))
        request = ReviewRequest(set_id=department.current_set.id, due_on=dt.date(2030, 1, 1))
        request.assignments.append(ReviewAssignment(expert_id=expert.id))
        session.add(request)
        session.commit()


def sees_draft(client) -> dict[str, bool]:
    """What each read path shows of 102's draft."""
    seen = {}
    page = client.get(f"/?q={SECRET}").get_data(as_text=True)
    seen["search page"] = f"/indicators/{CODE}" in page  # (the query itself is echoed in the box)
    api = client.get(f"/api/v1/search?q={SECRET}").get_json()
    seen["api hits"] = any(hit["code"] == CODE for hit in api["hits"])
    facets = client.get("/api/v1/search?q=&department=102").get_json()
    seen["facet counts"] = facets["total"] > 0 or "102" in facets["facets"].get("department", {})
    browse = client.get("/api/v1/search?q=高血压").get_json()
    seen["department facet"] = "102" in browse["facets"].get("department", {})
    seen["suggestions"] = any(s["code"] == CODE for s in client.get(f"/api/v1/suggest?q={SECRET[:4]}").get_json())
    recommended = client.get(f"/api/v1/recommend?text={SECRET}").get_json()
    seen["recommend"] = any(hit["code"] == CODE for hit in recommended["hits"])
    seen["indicator page"] = client.get(f"/indicators/{CODE}").status_code == 200
    seen["api indicator"] = client.get(f"/api/v1/indicators/{CODE}").status_code == 200
    seen["department xlsx"] = client.get("/sheets/export/department/102.xlsx").status_code == 200
    seen["department yaml"] = client.get("/sheets/export/department/102.yaml").status_code == 200
    library = openpyxl.load_workbook(io.BytesIO(client.get("/sheets/export/library.xlsx").data))
    seen["library xlsx"] = any(cell.value == SECRET for row in library["指标梳理表"].iter_rows() for cell in row)
    archive = zipfile.ZipFile(io.BytesIO(client.get("/sheets/export/library-yaml.zip").data))
    seen["library yaml"] = "departments/102.yaml" in archive.namelist()
    seen["department page"] = SECRET in client.get("/departments/102").get_data(as_text=True)
    seen["compare"] = SECRET in client.get(f"/compare?codes={CODE}&codes=JY-001").get_data(as_text=True)
    seen["catalogue"] = SECRET in client.get("/sheets/catalogue").get_data(as_text=True)
    return seen


def test_another_department_sees_nothing_of_the_draft(draft_102, client, make_user, login):
    make_user("department", "101", username="jiaoyu")
    login(client, "jiaoyu")
    seen = sees_draft(client)
    assert not any(seen.values()), [path for path, shown in seen.items() if shown]
    assert client.get(f"/indicators/{CODE}").status_code == 403
    assert "尚未审定发布" in client.get(f"/api/v1/indicators/{CODE}").get_json()["message"]
    # Certified sets and common indicators stay visible to everyone.
    assert client.get("/api/v1/search?q=学生资助").get_json()["total"] > 0
    assert client.get("/indicators/JY-001").status_code == 200


@pytest.mark.parametrize("who", ["own department", "finance", "assigned expert"])
def test_its_department_finance_and_assigned_experts_see_it(draft_102, client, make_user, login, who):
    if who == "own department":
        make_user("department", "102", username="weijian")
        login(client, "weijian")
    elif who == "finance":
        make_user("finance", username="caizheng")
        login(client, "caizheng")
    else:
        make_user("expert", username="zhuanjia")
        assign_expert(draft_102, "zhuanjia")
        login(client, "zhuanjia")
    seen = sees_draft(client)
    assert all(seen.values()), [path for path, shown in seen.items() if not shown]


def test_an_expert_not_assigned_does_not_see_it(draft_102, client, make_user, login):
    make_user("expert", username="zhuanjia2")
    login(client, "zhuanjia2")
    assert not any(sees_draft(client).values())


def test_once_certified_everyone_sees_it(draft_102, client, make_user, login):
    state = draft_102.extensions["kb"]
    with state.sessions() as session:
        session.scalar(select(Department).where(Department.code == "102")).current_set.status = SetStatus.CERTIFIED
        session.commit()
        rebuild_index(session, state.search)
    make_user("department", "101", username="jiaoyu")
    login(client, "jiaoyu")
    assert all(sees_draft(client).values())
