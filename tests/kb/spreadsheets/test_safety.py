"""Hostile and unreadable uploads are refused before any parser runs, with a message saying why."""
import io
import zipfile

import pytest

from kb.errors import ValidationFailed
from kb.spreadsheets import safety
from kb.spreadsheets.reader import read_table
from tests.kb.spreadsheets.builders import csv_bytes, filled, rezip, xlsx_bytes


def refused(content: bytes, filename: str = "填好的模版.xlsx") -> str:
    with pytest.raises(ValidationFailed) as caught:
        read_table(content, filename)
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert problem.source == filename
    return problem.message


def test_a_good_workbook_passes():
    table = read_table(xlsx_bytes([filled()]), "ok.xlsx")
    assert table.kind == "xlsx" and table.row_count == 1


def test_empty_file():
    assert "空的" in refused(b"")


def test_file_too_large(monkeypatch):
    monkeypatch.setattr(safety, "MAX_FILE_BYTES", 1000)
    assert "超过" in refused(xlsx_bytes([filled()] * 20))


def test_zip_bomb_is_refused_before_parsing():
    # One highly compressible 50 MiB member: refused from the ZIP directory, never decompressed.
    bomb = rezip(xlsx_bytes([filled()]), add={"xl/media/padding.bin": b"0" * (50 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    assert "压缩比异常" in refused(bomb)


def test_total_uncompressed_size_is_limited(monkeypatch):
    monkeypatch.setattr(safety, "MAX_UNCOMPRESSED_BYTES", 10_000)
    assert "解压后超过" in refused(xlsx_bytes([filled()] * 50))


def test_too_many_zip_entries(monkeypatch):
    monkeypatch.setattr(safety, "MAX_ZIP_ENTRIES", 5)
    assert "部件" in refused(xlsx_bytes([filled()]))


def test_nested_archive_is_refused():
    nested = rezip(xlsx_bytes([filled()]), add={"xl/embeddings/other.xlsx": b"PK\x03\x04inner"})
    assert "嵌入了压缩包" in refused(nested)


def test_xml_entity_bomb_is_refused():
    good = xlsx_bytes([filled()])
    sheet = zipfile.ZipFile(io.BytesIO(good)).read("xl/worksheets/sheet1.xml").decode()
    start = sheet.index("<worksheet")
    entities = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    bombed = (sheet[:start] + entities + sheet[start:]).replace("培训人次", "&lol2;")
    assert "不安全的 XML" in refused(rezip(good, replace={"xl/worksheets/sheet1.xml": bombed.encode()}))


def test_macro_workbook_by_extension():
    assert "宏" in refused(xlsx_bytes([filled()]), "模版.xlsm")


def test_macro_workbook_by_content():
    with_vba = rezip(xlsx_bytes([filled()]), add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"})
    assert "宏" in refused(with_vba, "看起来正常.xlsx")


def test_old_xls_or_encrypted_workbook():
    assert "旧版 .xls" in refused(safety.CFB_MAGIC + b"\x00" * 600, "旧模版.xls")


def test_html_saved_as_xls():
    assert "网页格式" in refused(b"<html><body><table><tr><td>1</td></tr></table></body></html>", "导出.xls")


def test_ods_is_refused_with_advice():
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    assert "另存为" in refused(stream.getvalue(), "表格.ods")


def test_zip_that_is_not_a_workbook():
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "缺少工作簿部件" in refused(stream.getvalue(), "a.xlsx")


def test_damaged_workbook():
    good = xlsx_bytes([filled()])
    assert "损坏" in refused(good[:200] + b"\x00" * 50, "坏.xlsx")


def test_renamed_file_that_is_not_excel():
    assert "不是 Excel 工作簿" in refused("随便一些文字".encode(), "改过扩展名.xlsx")


def test_other_file_types():
    assert "只能导入 .xlsx 或 .csv" in refused(b"%PDF-1.4", "说明.pdf")


def test_csv_with_nul_bytes():
    assert "空字符" in refused(csv_bytes([filled()], "utf-8") + b"\x00\x00", "表.csv")


def test_csv_in_unknown_encoding():
    # Valid in neither UTF-8 nor GB18030 (a lone lead byte at the end).
    assert "编码无法识别" in refused(csv_bytes([filled()], "utf-8")[:40] + b"\x81", "表.csv")


def test_csv_that_decodes_to_private_use_characters_is_refused():
    # Bytes that GB18030 maps into the private-use area: a sign the file was not GBK text.
    assert "乱码" in refused("指标,名称\n".encode("utf-8")[:0] + b"\xa1\xa1\xfe\xfe,\xaa\xa1\n", "表.csv")


def test_defusedxml_is_active():
    safety.require_defusedxml()


def test_zip_encrypted_member_is_refused():
    # Set the “encrypted” bit of one member in the central directory (what a password-protected zip has).
    content = bytearray(xlsx_bytes([filled()]))
    name = b"xl/worksheets/sheet1.xml"
    position = content.find(b"PK\x01\x02")
    while position != -1:
        name_length = int.from_bytes(content[position + 28:position + 30], "little")
        if content[position + 46:position + 46 + name_length] == name:
            content[position + 8] |= 0x1
        position = content.find(b"PK\x01\x02", position + 4)
    assert "加密" in refused(bytes(content))
