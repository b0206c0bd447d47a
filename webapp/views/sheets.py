"""模版导入: download the 梳理模版, upload a filled one (report → preview → confirm), exports and
the printable catalogue.

Uploads are kept by :class:`kb.services.uploads.UploadStore` under ``$KB_DATA_DIR/uploads`` until
confirmed or cancelled; the preview is recomputed from the file, and confirming re-checks that the
library did not change since (fingerprint). A confirmed upload remembers its result, so a second submit
(double click, retry) shows the first result instead of importing twice (REL-2).
"""
from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from kb import permissions
from kb.errors import NotFound, PermissionDenied, PreviewOutdated, Problem, ValidationFailed
from kb.models import Department
from kb.services.audit import record_change
from kb.services.imports import confirm_import, preview_import
from kb.services.library import export_department as department_yaml, export_library
from kb.services.uploads import UploadStore, check_import_rate, check_upload_rate, record_upload
from kb.spreadsheets.safety import MAX_FILE_BYTES, MAX_ROWS
from kb.spreadsheets.template import TEMPLATE_TITLE, build_workbook, workbook_bytes
from kb.spreadsheets.writer import (
    catalogue as catalogue_groups,
    common_workbook,
    department_workbook,
    get_department,
    library_workbook,
    safe_filename,
)
from kb.visibility import HIDDEN, visible_to
from kb.vocab import Role
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.permissions import SIGNED_IN, allow, register
from webapp.templating import local_today

bp = Blueprint("sheets", __name__, url_prefix="/sheets")

IMPORTERS = (Role.DEPARTMENT, Role.FINANCE, Role.ADMIN)  # as kb.permissions.can_import
register({
    "sheets.index": SIGNED_IN,
    "sheets.template": SIGNED_IN,
    "sheets.export_department": SIGNED_IN,
    "sheets.export_common": SIGNED_IN,
    "sheets.export_library": SIGNED_IN,
    "sheets.export_yaml": SIGNED_IN,
    "sheets.export_yaml_library": SIGNED_IN,
    "sheets.catalogue": SIGNED_IN,
    "sheets.upload": allow(*IMPORTERS, write=True),
    "sheets.preview": allow(*IMPORTERS),
    "sheets.confirm": allow(*IMPORTERS, write=True),
    "sheets.cancel": allow(*IMPORTERS, write=True),
})

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BY_COLUMN = "*"  # the upload form's choice “按表中所属部门列”


# --- pages --------------------------------------------------------------------------------------

@bp.get("/")
def index():
    """模版下载、上传导入、导出与打印目录。"""
    actor = current_actor()
    departments = get_session().scalars(select(Department).order_by(Department.code)).all()
    own = next((d for d in departments if d.id == actor.department_id), None)
    own_status = own.current_set.status.label if own and own.current_set else ""
    return render_template("sheets/index.html", departments=departments, own=own, by_column=BY_COLUMN,
                           can_import=permissions.can_import_anything(actor),
                           chooses_department=permissions.can_choose_import_department(actor),
                           own_open=own is not None and permissions.can_add_indicator(actor, own), own_status=own_status,
                           max_mb=MAX_FILE_BYTES // 1024 // 1024, max_rows=MAX_ROWS, title=TEMPLATE_TITLE)


@bp.post("/upload")
def upload():
    """接收填好的模版，检查后转到报告或预览页（此时不写入任何数据）。"""
    actor = current_actor()
    file = request.files.get("file")
    if file is None or not file.filename:
        flash("请选择要上传的文件（.xlsx 或 .csv）。", "error")
        return redirect(url_for(".index"))
    content = file.read(MAX_FILE_BYTES + 1)
    department = _chosen_department(actor)
    session = get_session()
    check_import_rate(session, actor)
    check_upload_rate(session, actor)
    name = _display_name(file.filename)
    token = _uploads().add(content, {"filename": name, "department": department,
                                     "user_id": actor.user_id, "status": "uploaded"})
    record_upload(session, actor, token, name, len(content), department)
    session.commit()
    return redirect(url_for(".preview", token=token))


@bp.get("/imports/<token>")
def preview(token: str):
    """逐行检查报告，或将新增、修改（逐项对比）和保持不变的指标。"""
    meta = _load_meta(token)
    if meta["status"] == "done":
        return render_template("sheets/done.html", meta=meta, result=meta["result"])
    if meta["status"] == "rejected":
        return _report(meta, token)
    session = get_session()
    try:
        plan = preview_import(session, current_actor(), _uploads().content(token), meta["filename"], meta["department"])
    except (PermissionDenied, NotFound):
        _uploads().remove(token)  # refused outright: nothing to keep (SEC-UP-6)
        raise
    except ValidationFailed as error:
        session.rollback()
        record_change(session, current_actor(), "import_refused", "import", meta["filename"][:100],
                      summary=f"{len(error.problems)} 个问题：" + "；".join(p.message for p in error.problems[:3]),
                      result="refused", department=meta["department"])
        session.commit()
        # The file is useless now: delete it (SEC-UP-6), keep the report for a reload.
        meta.update(status="rejected", problems=[_as_dict(p) for p in _sorted(error.problems)],
                    warnings=[_as_dict(p) for p in getattr(error, "warnings", [])])
        _uploads().drop_file(token)
        _uploads().save(token, meta)
        return _report(meta, token)
    session.rollback()
    # Kept for the confirmation: applied as is when the library did not change (no second read).
    _uploads().save_plan(token, plan)
    return render_template("sheets/preview.html", meta=meta, token=token, plan=plan,
                           department=_department_label(meta["department"]))


def _report(meta: dict, token: str):
    problems = [Problem(**p) for p in meta.get("problems", [])]
    warnings = [Problem(**p) for p in meta.get("warnings", [])]
    return render_template("sheets/report.html", meta=meta, token=token, problems=problems, warnings=warnings,
                           department=_department_label(meta["department"]), **_upload_form_context()), 422


def _as_dict(problem: Problem) -> dict:
    return {"message": problem.message, "source": problem.source, "entry": problem.entry, "field": problem.field}


@bp.post("/imports/<token>/confirm")
def confirm(token: str):
    """确认导入：全部写入或全部不写。"""
    meta = _load_meta(token)
    if meta["status"] != "uploaded":  # a second click or a retry: show the first result
        return redirect(url_for(".preview", token=token))
    actor = current_actor()
    session = get_session()
    check_import_rate(session, actor)
    try:
        result = confirm_import(session, actor, _uploads().content(token), meta["filename"], meta["department"],
                                request.form.get("fingerprint", ""), saved=_uploads().plan(token))
        session.commit()
    except PreviewOutdated as error:
        session.rollback()
        flash(error.message, "warning")
        return redirect(url_for(".preview", token=token))
    except ValidationFailed:
        session.rollback()
        return redirect(url_for(".preview", token=token))
    meta.update(status="done", result={"added": result.added, "changed": result.changed,
                                       "unchanged": result.unchanged, "codes": result.codes[:200]})
    _uploads().save(token, meta)
    _uploads().drop_file(token)
    flash(f"导入完成：新增 {result.added} 项、修改 {result.changed} 项、未变 {result.unchanged} 项。", "success")
    return redirect(url_for(".preview", token=token))


@bp.post("/imports/<token>/cancel")
def cancel(token: str):
    """放弃这次上传（删除临时文件，不写入任何数据）。"""
    _load_meta(token)
    _uploads().remove(token)
    flash("已取消，本次上传的文件已删除，没有写入任何数据。", "info")
    return redirect(url_for(".index"))


# --- downloads ----------------------------------------------------------------------------------

@bp.get("/template")
def template():
    """空白梳理模版（含填表说明、示例行和资料清单）。"""
    # Not _xlsx: a blank form holds no library data, its download is not audited.
    return send_file(io.BytesIO(workbook_bytes(build_workbook())), mimetype=XLSX, as_attachment=True,
                     download_name=f"{TEMPLATE_TITLE}.xlsx")


@bp.get("/export/department/<code>.xlsx")
def export_department(code: str):
    """部门指标集（梳理模版格式，带出现有指标，可修改后再导入）。"""
    session = get_session()
    department = get_department(session, code)
    return _xlsx(department_workbook(session, code, visible_to(session, current_actor())),
                 f"{TEMPLATE_TITLE}_{department.code}{safe_filename(department.name)}.xlsx")


@bp.get("/export/common.xlsx")
def export_common():
    """共性指标（梳理模版格式）。"""
    return _xlsx(common_workbook(get_session()), "共性指标.xlsx")


@bp.get("/export/library.xlsx", endpoint="export_library")
def export_library_xlsx():
    """整个指标库（梳理模版格式，带“所属部门”列）。"""
    session = get_session()
    return _xlsx(library_workbook(session, visible_to(session, current_actor())), f"指标库全库_{local_today():%Y%m%d}.xlsx")


@bp.get("/export/department/<code>.yaml")
def export_yaml(code: str):
    """部门 YAML 文件（CONTRACT §4 格式，与 kb export 相同）。"""
    session = get_session()
    if not visible_to(session, current_actor()).allows(get_department(session, code).id):
        raise PermissionDenied(HIDDEN)
    content = department_yaml(session, code).encode("utf-8")
    _record_export(f"{code}.yaml")
    return send_file(io.BytesIO(content), mimetype="application/x-yaml", as_attachment=True,
                     download_name=f"{code}.yaml")


@bp.get("/export/library-yaml.zip")
def export_yaml_library():
    """整个指标库的 YAML（kb export 的目录结构，打包为 zip；kb load 可原样导入）。"""
    stream = io.BytesIO()
    session = get_session()
    visible = visible_to(session, current_actor())
    with tempfile.TemporaryDirectory() as directory:
        export_library(session, Path(directory))
        with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(directory).rglob("*.yaml")):
                if path.parent.name == "departments" and path.stem not in visible.department_codes \
                        and not visible.everything:
                    continue  # another department's draft (kb.visibility)
                archive.write(path, path.relative_to(directory).as_posix())
    stream.seek(0)
    _record_export("library-yaml.zip")
    return send_file(stream, mimetype="application/zip", as_attachment=True,
                     download_name=f"指标库YAML_{local_today():%Y%m%d}.zip")


@bp.get("/catalogue")
def catalogue():
    """可打印的指标目录（按部门、一级和二级指标分组；浏览器中打印或另存为 PDF）。"""
    code = request.args.get("department") or None
    session = get_session()
    groups = catalogue_groups(session, code, visible=visible_to(session, current_actor()))
    return render_template("sheets/catalogue.html", groups=groups, standalone=False)


# --- helpers ------------------------------------------------------------------------------------

def _record_export(key: str) -> None:
    """Every download of library data is audited (issue 14 item 10): who took what, when."""
    session = get_session()
    record_change(session, current_actor(), "export", "export", key[:100], summary=request.path[:500])
    session.commit()


def _xlsx(content: bytes, name: str):
    _record_export(name)
    return send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=name)


def _chosen_department(actor) -> str | None:
    """Department users import into their own department; finance chooses (or “by column”)."""
    if not permissions.can_choose_import_department(actor):
        own = get_session().scalar(select(Department.code).where(Department.id == actor.department_id))
        if own is None:
            raise PermissionDenied("您的账号没有所属部门，不能导入。请联系系统管理员。")
        return own
    choice = (request.form.get("department") or "").strip()
    if choice == BY_COLUMN:
        return None
    if not choice:
        raise ValidationFailed([_problem("请选择要导入到哪个部门。")])
    get_department(get_session(), choice)  # NotFound → 404 page
    return choice


def _problem(message: str) -> Problem:
    return Problem(message, "上传")


def _display_name(name: str) -> str:
    """The user's file name, kept only for display (never used as a path)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(char for char in name if char.isprintable())[:120] or "上传的文件"


def _department_label(code: str | None) -> str:
    if code is None:
        return "按表中“所属部门”列"
    department = get_session().scalar(select(Department).where(Department.code == code))
    return f"{department.code} {department.name}" if department else code


def _sorted(problems):
    def key(problem):
        digits = "".join(ch for ch in problem.entry if ch.isdigit())
        return (problem.source, int(digits) if digits else 0)
    return sorted(problems, key=key)


def _upload_form_context() -> dict:
    actor = current_actor()
    chooses = permissions.can_choose_import_department(actor)
    departments = get_session().scalars(select(Department).order_by(Department.code)).all() if chooses else []
    return {"departments": departments, "by_column": BY_COLUMN, "chooses_department": chooses,
            "max_mb": MAX_FILE_BYTES // 1024 // 1024}


# --- upload storage ------------------------------------------------------------------------------

def _uploads() -> UploadStore:
    return UploadStore(Path(current_app.config["KB_DATA_DIR"]) / "uploads",
                       lifetime=dt.timedelta(minutes=int(current_app.config["UPLOAD_LIFETIME_MINUTES"])))


def _load_meta(token: str) -> dict:
    return _uploads().meta(token, current_actor().user_id)
