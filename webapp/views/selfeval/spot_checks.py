"""抽查复核 (finance): draw the sample, re-check one table, problem statistics by department."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from kb.errors import ValidationFailed
from kb.models.selfeval import ProblemCategory
from kb.services import selfeval, spot_checks
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.views.selfeval import bp
from webapp.views.selfeval.evaluations import _default_year


def _year() -> int:
    years = selfeval.evaluation_years(get_session())
    return request.values.get("year", type=int) or (years[0] if years else _default_year())


@bp.route("/spot-checks", methods=["GET", "POST"], endpoint="spot_checks")
def spot_checks_page():
    """抽查：按比例随机抽取（记录随机种子，可重复），并加入监控红灯项目；列出抽中的自评表。"""
    session, year = get_session(), _year()
    problems = []
    if request.method == "POST":
        seed = request.form.get("seed", "").strip()
        try:
            percentage = float(request.form.get("percentage") or 0)
            draw = spot_checks.draw_sample(session, current_actor(), year, percentage,
                                           seed=int(seed) if seed.isdigit() else None)
            session.commit()
        except ValueError:
            problems = ["抽查比例应为数字（百分比），例如 10。"]
        except ValidationFailed as error:
            session.rollback()
            problems = [str(p) for p in error.problems]
        else:
            flash(f"已抽取 {len(draw.checks)} 份自评表（随机种子 {draw.seed}）。", "success")
            return redirect(url_for("selfeval.spot_checks", year=year))
    return render_template("selfeval/spot_checks.html", year=year, checks=spot_checks.checks_of(session, year),
                           draws=spot_checks.draws_of(session, year), problems=problems,
                           years=selfeval.evaluation_years(session)), 422 if problems else 200


@bp.route("/spot-checks/<int:check_id>", methods=["GET", "POST"])
def recheck(check_id: int):
    """复核一份自评表：与自评不同的得分、发现的问题（按类别）、复核意见。"""
    session = get_session()
    check = spot_checks.get_check(session, check_id)
    problems = []
    if request.method == "POST":
        scores = {row.id: request.form.get(f"score_{row.id}", "").strip() for row in check.evaluation.rows}
        lines = zip(request.form.getlist("problem_category"), request.form.getlist("problem_row"),
                    request.form.getlist("problem_text"))
        entries = [(category, int(row) if row.isdigit() else None, text) for category, row, text in lines
                   if category or text.strip()]
        try:
            spot_checks.record_check(session, current_actor(), check, row_scores=scores, problems=entries,
                                     note=request.form.get("note", ""))
            session.commit()
        except ValidationFailed as error:
            session.rollback()
            problems = [str(p) for p in error.problems]
        else:
            flash(f"复核已保存：复核得分 {check.rechecked_total:.2f}（{check.rechecked_grade}）。", "success")
            return redirect(url_for("selfeval.spot_checks", year=check.evaluation.year))
    rechecked = {int(k): v for k, v in (check.row_scores or {}).items()}
    return render_template("selfeval/recheck.html", check=check, evaluation=check.evaluation, rechecked=rechecked,
                           categories=ProblemCategory, problems=problems), 422 if problems else 200


@bp.get("/statistics")
def statistics():
    """抽查发现的问题：按部门和类别统计，自评与复核得分之差。"""
    session, year = get_session(), _year()
    return render_template("selfeval/statistics.html", year=year, stats=spot_checks.problem_statistics(session, year),
                           categories=ProblemCategory, years=selfeval.evaluation_years(session))
