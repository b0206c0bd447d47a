"""绩效自评 pages: a department uploads and sees its score, finance imports in bulk (all or nothing),
draws the sample, re-checks, reads the statistics; department scoping on every page."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from kb.models import SelfEvaluation, SpotCheck
from tests.kb.selfeval.builders import EXAMPLE_ROWS, filled_bytes
from tests.webapp.test_selfeval_api import import_tables


def upload(client, *files: tuple[str, bytes]):
    data = {"files": [(io.BytesIO(content), name) for name, content in files]}
    return client.open("/selfeval/upload", method="POST", data=data, content_type="multipart/form-data")


def count(app, model=SelfEvaluation) -> int:
    with app.extensions["kb"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_department_uploads_its_table_and_sees_score_and_grade(world, client, make_user, login):
    user = make_user("department", "101")
    login(client, user.username)
    response = upload(client, ("a.xlsx", filled_bytes()))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "91.36" in page and "优" in page and "10.42" in page
    listing = client.get("/selfeval/?year=2023").get_data(as_text=True)
    assert "职业技能培训补贴" in listing


def test_department_cannot_upload_or_read_another_departments_table(world, client, make_user, login):
    import_tables(world, [("卫生项目", "102", 2023)])
    user = make_user("department", "101")
    login(client, user.username)
    refused = upload(client, ("w.xlsx", filled_bytes(department="102", project="别人的")))
    assert refused.status_code == 422 and "本部门" in refused.get_data(as_text=True)
    with world.extensions["kb"].sessions() as session:
        other = session.scalar(select(SelfEvaluation.id).where(SelfEvaluation.project_name == "卫生项目"))
    assert client.get(f"/selfeval/{other}").status_code == 403
    assert "卫生项目" not in client.get("/selfeval/?year=2023").get_data(as_text=True)
    assert client.get("/selfeval/spot-checks").status_code == 403


def test_bulk_upload_with_one_bad_file_imports_nothing_and_locates_the_problem(world, client, make_user, login):
    login(client, make_user("finance").username)
    rows = [dict(row) for row in EXAMPLE_ROWS]
    rows[0]["explanation"] = ""
    response = upload(client, ("ok.xlsx", filled_bytes(project="好")), ("bad.xlsx", filled_bytes(project="坏", rows=rows)))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "bad.xlsx：自评表" in page and "第 10 行" in page and "H 列（偏差原因分析及改进措施）" in page
    assert count(world) == 0
    assert upload(client, ("ok.xlsx", filled_bytes(project="好")), ("b.xlsx", filled_bytes(project="另一个"))).status_code == 302
    assert count(world) == 2


def test_finance_draws_rechecks_and_reads_statistics(world, client, make_user, login):
    import_tables(world, [(f"项目{i}", "101", 2023) for i in range(10)])
    login(client, make_user("finance").username)
    drawn = client.post("/selfeval/spot-checks", data={"year": "2023", "percentage": "20", "seed": "7"})
    assert drawn.status_code == 302 and count(world, SpotCheck) == 2
    with world.extensions["kb"].sessions() as session:
        check = session.scalars(select(SpotCheck).order_by(SpotCheck.id)).first()
        check_id, first_row = check.id, check.evaluation.rows[0].id
    form = {f"score_{first_row}": "10", "problem_category": ["佐证不足", ""], "problem_row": [str(first_row), ""],
            "problem_text": ["无签到表", ""], "note": "扣分"}
    saved = client.post(f"/selfeval/spot-checks/{check_id}", data=form)
    assert saved.status_code == 302
    listing = client.get("/selfeval/spot-checks?year=2023").get_data(as_text=True)
    assert "89.36" in listing
    stats = client.get("/selfeval/statistics?year=2023").get_data(as_text=True)
    assert "县教育局" in stats and "2.00" in stats


def test_template_from_a_goal_carries_its_indicators(world, client, make_user, login):
    login(client, make_user("finance").username)
    blank = client.get("/selfeval/template.xlsx")
    assert blank.status_code == 200
    sheet = load_workbook(io.BytesIO(blank.data)).active
    assert sheet["A1"].value == "项目支出绩效自评表" and sheet["E9"].value == "实际完成值"


def test_expert_reads_but_does_not_upload_or_draw(world, client, make_user, login):
    login(client, make_user("expert").username)
    assert client.get("/selfeval/").status_code == 200
    assert client.get("/selfeval/statistics").status_code == 200
    assert client.post("/selfeval/spot-checks", data={"percentage": "10"}).status_code == 403
    assert upload(client, ("a.xlsx", filled_bytes())).status_code == 403


def _tables_with_actuals(app, actuals: list[str]) -> None:
    with app.extensions["kb"].sessions() as session:
        from kb.services import selfeval
        from kb.services.audit import Actor
        files = []
        for i, actual in enumerate(actuals):
            rows = [dict(row) for row in EXAMPLE_ROWS]
            rows[4].update(code="JY-003", name="就读率", target="≥90%", actual=actual, explanation="原因")
            files.append((f"{i}.xlsx", filled_bytes(project=f"2023年资助项目{i}", department="101", rows=rows)))
        selfeval.import_selfevaluations(session, Actor("财政", "finance"), files)
        session.commit()


def test_indicator_detail_shows_observed_values_chart_and_range(world, client, make_user, login):
    _tables_with_actuals(world, ["88%", "90%", "92%", "94%"])
    login(client, make_user("expert").username)
    page = client.get("/indicators/JY-003").get_data(as_text=True)
    assert 'id="observed-values"' in page and "<svg class=\"values-chart\"" in page
    assert "建议取值范围：<strong data-proposed-range>89.5–92.5%</strong>" in page
    assert "4 个实际完成值" in page and "<script" not in page.split('id="observed-values"')[1].split("</section>")[0]


def test_new_goal_for_the_same_project_shows_last_years_actual_and_warns(world, client, make_user, login):
    _tables_with_actuals(world, ["95%"])
    user = make_user("department", "101")
    login(client, user.username)
    created = client.post("/goals/new", data={"name": "2024年资助项目0", "year": "2024", "amount": "10",
                                              "kind": "延续", "indicator": "JY-003"})
    assert created.status_code == 302
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "上年实际（2023 年自评）：95%" in page
    goal_id = int(created.headers["Location"].split("/")[-2])
    body = client.post(f"/goals/{goal_id}/check", json={"project": {"name": "2024年资助项目0"}, "rows": [
        {"code": "JY-003", "name": "就读率", "operator": "≥", "target": "90", "unit": "%", "nature": "定量"}]}, headers={"X-CSRFToken": client.csrf_token()}).get_json()
    assert "below_last_actual" in {f["rule"] for f in body["findings"]}


def _approved_goal(app) -> int:
    """An approved goal of department 101 with three library indicators (as the review would leave it)."""
    from kb.models.goal import GoalStatus
    from kb.services import goals
    from kb.services.audit import Actor

    finance = Actor("财政", "finance")
    with app.extensions["kb"].sessions() as session:
        from kb.models import Department
        department = session.scalar(select(Department).where(Department.code == "101"))
        goal = goals.create_goal(session, finance, department, 2024, {"name": "2024年学生资助", "amount": "80"})
        goals.add_indicators(session, finance, goal, ["JY-001", "JY-003", "JY-006"])
        goal.status = GoalStatus.APPROVED
        session.commit()
        return goal.id


def test_department_fills_a_table_online_from_its_approved_goal(world, client, make_user, login):
    goal_id = _approved_goal(world)
    login(client, make_user("department", "101").username)
    assert f"/selfeval/fill/{goal_id}" in client.get("/selfeval/").get_data(as_text=True)
    page = client.get(f"/selfeval/fill/{goal_id}").get_data(as_text=True)
    assert "应享受学生覆盖率" in page
    form = {"budget": "80", "executed": "80", "actual_0": "99999999", "actual_1": "1", "actual_2": "100"}
    checked = client.post(f"/selfeval/fill/{goal_id}", data={**form, "action": "check"})
    assert checked.status_code == 422 and "偏差原因分析及改进措施" in checked.get_data(as_text=True)
    assert count(world) == 0
    form.update(explanation_1="覆盖不足；加强摸底", action="submit")
    saved = client.post(f"/selfeval/fill/{goal_id}", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    assert count(world) == 1


def test_another_department_cannot_fill_the_goal(world, client, make_user, login):
    goal_id = _approved_goal(world)
    login(client, make_user("department", "102").username)
    assert client.get(f"/selfeval/fill/{goal_id}").status_code == 403
