"""Checks on uploaded files before any parser sees them (security.md SEC-UP-1…4, SEC-CSVIN-1).

An ``.xlsx`` is a ZIP of XML: its members are sized and counted before openpyxl opens it (zip
bombs), openpyxl parses XML through defusedxml (entity bombs), and macro workbooks, old ``.xls``,
encrypted files and HTML saved as ``.xls`` are refused with a message saying what to do instead.
"""
from __future__ import annotations

import html
import io
import re
import zipfile
from dataclasses import dataclass

from openpyxl.xml import DEFUSEDXML

from kb.errors import Problem, ValidationFailed

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
MAX_COMPRESSION_RATIO = 100
MAX_ROWS = 20_000
MAX_COLUMNS = 100
MAX_CSV_FIELD = 64 * 1024
#: Rows holding a value a sheet may have before it is refused unparsed: the data limit plus room for
#: title rows, the header and a signature block under the table.
MAX_SHEET_ROWS = MAX_ROWS + 100
_CHUNK = 1024 * 1024
# A row start, or a cell value (<v>, inline string <is>); namespaced spellings (<x:row>) count too.
_ROW_OR_VALUE = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,20}:)?(row|v|is)[\s>/]")
_TAG_MAX = 32
_SHEET_PATH = re.compile(r"^xl/worksheets/[^/]+\.xml$")

ZIP_MAGIC = b"PK\x03\x04"
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE: old .xls, or an encrypted .xlsx
NESTED_ARCHIVES = (".zip", ".xlsx", ".xlsm", ".jar", ".gz", ".7z", ".rar")
SAVE_AS_XLSX = "请在 Excel 或 WPS 中打开，选择“另存为 → Excel 工作簿（*.xlsx）”后再导入。"


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed the checks: ``kind`` is ``xlsx`` or ``csv``; ``text`` is the decoded CSV."""

    kind: str
    content: bytes
    text: str = ""
    encoding: str = ""


def require_defusedxml() -> None:
    """openpyxl guards against XML entity bombs only when defusedxml is installed (SEC-UP-3)."""
    if not DEFUSEDXML:  # pragma: no cover - defusedxml is a pinned dependency
        raise RuntimeError("defusedxml is not active in openpyxl: refusing to read uploaded workbooks")


def check_upload(content: bytes, filename: str) -> CheckedFile:
    """Decide what the file is from its content and refuse anything unsafe or unreadable."""
    source = filename or "上传的文件"
    fail = lambda message: ValidationFailed([Problem(message, source)])  # noqa: E731 - one-line helper
    if not content:
        raise fail("文件是空的，请选择填好的模版文件。")
    if len(content) > MAX_FILE_BYTES:
        raise fail(f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB，请删除无关的工作表或图片，或拆分成几个文件分别导入。")
    lower = filename.lower()
    if lower.endswith((".xlsm", ".xltm", ".xlam")):
        raise fail("这是启用宏的文件（.xlsm），为安全起见不能导入。" + SAVE_AS_XLSX)
    if content.startswith(CFB_MAGIC):
        raise fail("这是旧版 .xls 文件或设置了打开密码的 Excel 文件，无法读取。请取消密码，并" + SAVE_AS_XLSX)
    if content.startswith(ZIP_MAGIC):
        _check_zip(content, source)
        require_defusedxml()
        return CheckedFile("xlsx", content)
    head = content[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<table")) or b"<html" in head:
        raise fail("这不是真正的 Excel 文件（是网页格式，常见于从其他系统“导出为 Excel”的文件）。" + SAVE_AS_XLSX)
    if lower.endswith((".xlsx", ".xls", ".et", ".ods")):
        raise fail("文件内容不是 Excel 工作簿（可能已损坏或扩展名被改过）。" + SAVE_AS_XLSX)
    if not lower.endswith((".csv", ".txt")):
        raise fail("只能导入 .xlsx 或 .csv 文件。请使用下载的梳理模版填写。")
    text, encoding = decode_csv(content, source)
    return CheckedFile("csv", content, text, encoding)


def _check_zip(content: bytes, source: str) -> None:
    def fail(message: str) -> ValidationFailed:
        return ValidationFailed([Problem(message, source)])

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise fail("文件已损坏，无法作为 Excel 工作簿打开。" + SAVE_AS_XLSX) from None
    names = {member.filename for member in members}
    if len(members) > MAX_ZIP_ENTRIES:
        raise fail(f"工作簿内部包含 {len(members)} 个部件，超过上限 {MAX_ZIP_ENTRIES}，可能不是正常的模版文件。")
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise fail("工作簿中含有宏（VBA），为安全起见不能导入。" + SAVE_AS_XLSX)
    if "mimetype" in names and "xl/workbook.xml" not in names:
        raise fail("这是 WPS/LibreOffice 的 .ods/.et 格式，不能直接导入。" + SAVE_AS_XLSX)
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise fail("文件不是 Excel 工作簿（缺少工作簿部件）。" + SAVE_AS_XLSX)
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise fail("工作簿内部被加密，无法读取。请取消密码后" + SAVE_AS_XLSX)
        if member.filename.lower().endswith(NESTED_ARCHIVES):
            raise fail(f"工作簿中嵌入了压缩包或其他工作簿（{member.filename}），为安全起见不能导入。请删除嵌入的对象后再试。")
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        # Small parts of real workbooks compress well too; only sizeable parts are judged by ratio.
        if member.file_size > 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO:
            raise fail(f"工作簿部件 {member.filename} 的压缩比异常（{ratio:.0f} 倍），可能是恶意构造的文件，已拒绝。")
    if total > MAX_UNCOMPRESSED_BYTES:
        raise fail(
            f"工作簿解压后超过 {MAX_UNCOMPRESSED_BYTES // 1024 // 1024} MB，内容过大。请删除无关的工作表、图片或空白格式后再导入。"
        )
    if "macroEnabled" in _content_types(archive):
        raise fail("工作簿中含有宏（VBA），为安全起见不能导入。" + SAVE_AS_XLSX)
    _check_row_counts(archive, source)


def _check_row_counts(archive: zipfile.ZipFile, source: str) -> None:
    """Count the rows holding a value by streaming each sheet's XML (SEC-UP-4): openpyxl would build
    every cell of a 500 000-row sheet in memory (hundreds of MB, half a minute) before the row limit
    applied. Reading stops at the first sheet past :data:`MAX_SHEET_ROWS`; memory stays one chunk."""
    names = _sheet_names(archive)
    for member in archive.infolist():
        if not _SHEET_PATH.match(member.filename):
            continue
        rows = _rows_with_values(archive, member, MAX_SHEET_ROWS)
        if rows > MAX_SHEET_ROWS:
            sheet = names.get(member.filename, member.filename)
            raise ValidationFailed([Problem(
                f"工作表“{sheet}”有超过 {MAX_SHEET_ROWS} 行内容，超过单次导入上限 {MAX_ROWS} 行，已停止读取。"
                "请删除多余的行，或拆分成几个文件分别导入。", source, sheet,
            )])


def _rows_with_values(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> int:
    """Rows of ``member`` with at least one value, counted up to ``limit + 1`` (then reading stops)."""
    count, in_row, counted, tail = 0, False, False, b""
    with archive.open(member) as stream:
        while count <= limit:
            chunk = stream.read(_CHUNK)
            data = tail + chunk
            # A tag may straddle two chunks: matches starting in the last bytes wait for the next round.
            end = len(data) - _TAG_MAX if chunk else len(data)
            for match in _ROW_OR_VALUE.finditer(data):
                if match.start() >= end:
                    break
                if match.group(1) == b"row":
                    in_row, counted = True, False
                elif in_row and not counted:
                    count, counted = count + 1, True
            tail = data[max(end, 0):]
            if not chunk:
                break
    return count


def _sheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet part (``xl/worksheets/sheet1.xml``) → the name on its tab, for the message."""
    try:
        workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    except (KeyError, OSError, zipfile.BadZipFile):
        return {}
    targets = {}
    for tag in re.findall(r"<(?:\w+:)?Relationship\b[^>]*>", rels):
        rid, target = re.search(r'\bId="([^"]+)"', tag), re.search(r'\bTarget="([^"]+)"', tag)
        if rid and target:
            path = target.group(1)
            targets[rid.group(1)] = path.lstrip("/") if path.startswith("/") else "xl/" + path
    names = {}
    for tag in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", workbook):
        name, rid = re.search(r'\bname="([^"]*)"', tag), re.search(r'\br:id="([^"]+)"', tag)
        if name and rid and rid.group(1) in targets:
            names[targets[rid.group(1)]] = html.unescape(name.group(1))
    return names


def _content_types(archive: zipfile.ZipFile) -> str:
    info = archive.getinfo("[Content_Types].xml")
    if info.file_size > 1024 * 1024:
        return ""
    return archive.read(info).decode("utf-8", errors="replace")


def decode_csv(content: bytes, source: str) -> tuple[str, str]:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a superset of GBK); never mojibake.

    The rule: a UTF-8 BOM or valid UTF-8 wins; a UTF-16 BOM means UTF-16 (Excel's “Unicode 文本”);
    otherwise the bytes must decode as GB18030 without private-use characters, which real text
    never contains but misread bytes often do. Anything else is refused.
    """
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, encoding = content.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise ValidationFailed([Problem("文件编码无法识别。请另存为“CSV UTF-8（逗号分隔）”后再导入。", source)]) from None
    else:
        try:
            text, encoding = content.decode("utf-8-sig"), "UTF-8"
        except UnicodeDecodeError:
            try:
                text, encoding = content.decode("gb18030"), "GB18030"
            except UnicodeDecodeError:
                raise ValidationFailed([Problem(
                    "文件编码无法识别（既不是 UTF-8，也不是 GBK/GB18030）。请另存为“CSV UTF-8（逗号分隔）”后再导入。", source
                )]) from None
            if any("\ue000" <= char <= "\uf8ff" for char in text):
                raise ValidationFailed([Problem(
                    "文件编码无法可靠识别（按 GBK 读取出现乱码）。请另存为“CSV UTF-8（逗号分隔）”后再导入。", source
                )])
    if "\x00" in text:
        raise ValidationFailed([Problem("文件中含有空字符（NUL），不是正常的文本 CSV。请另存为“CSV UTF-8（逗号分隔）”后再导入。", source)])
    return text, encoding
