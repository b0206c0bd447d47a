"""Real files for the spreadsheet tests: workbooks written with openpyxl, CSV in several encodings,
and conversions by LibreOffice (``soffice --headless --convert-to``)."""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import openpyxl

from kb.spreadsheets.columns import COLUMNS

HEADERS = [column.header for column in COLUMNS[:17]]  # the 17 columns of the issue, in order


def filled(**overrides: Any) -> dict[str, Any]:
    """A valid new indicator as one row of the template (header → cell value)."""
    row: dict[str, Any] = {
        "指标编码": "", "一级指标": "产出指标", "二级指标": "数量指标", "三级指标名称": "培训人次",
        "指标性质": "定量", "指标方向": "≥", "指标值": 300, "计量单位": "人次",
        "指标解释": "全年组织业务培训的参训人次。", "计算公式": "各期参训人数之和",
        "指标来源类型": "计划标准", "指标来源文件": "年度培训计划", "文号": "",
        "数据来源": "培训签到表", "适用项目": "业务培训", "关键词": "培训、人次", "备注": "",
    }
    row.update(overrides)
    return row


def xlsx_bytes(rows: list[dict[str, Any]], headers: list[str] | None = None, *, title: str | None = "梳理表",
               sheet: str = "指标梳理表", edit=None) -> bytes:
    """A workbook with an optional title row, a header row and ``rows``; ``edit(ws)`` may mess it up."""
    headers = headers or HEADERS
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    if title:
        worksheet.append([title])
    worksheet.append(headers)
    for row in rows:
        worksheet.append([row.get(header, "") for header in headers])
    if edit:
        edit(worksheet)
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def csv_bytes(rows: list[dict[str, Any]], encoding: str, headers: list[str] | None = None, delimiter: str = ",") -> bytes:
    headers = headers or HEADERS
    stream = io.StringIO(newline="")
    writer = csv.writer(stream, delimiter=delimiter)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(header, "") for header in headers])
    return stream.getvalue().encode(encoding)


def rezip(content: bytes, add: dict[str, bytes] | None = None, replace: dict[str, bytes] | None = None) -> bytes:
    """The same workbook with members added or replaced (for hostile files)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = (replace or {}).get(item.filename, source.read(item.filename))
            target.writestr(item, data)
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def soffice_convert(path: Path, target: str, out_dir: Path, infilter: str | None = None) -> Path:
    """Convert ``path`` with LibreOffice (a real third-party writer of xlsx); returns the new file."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is required (make test installs libreoffice-calc-nogui)"
    profile = out_dir / "lo-profile"
    command = [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
               "--convert-to", target, "--outdir", str(out_dir)]
    if infilter:
        command.insert(-4, f"--infilter={infilter}")
    command.append(str(path))
    subprocess.run(command, check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": str(out_dir)})
    converted = out_dir / (path.stem + "." + target.split(":")[0])
    assert converted.exists(), f"LibreOffice did not write {converted}"
    return converted
