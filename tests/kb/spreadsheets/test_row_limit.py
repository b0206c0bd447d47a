"""A huge sheet is refused from a streamed count of its rows, before openpyxl builds any cell
(issue 14 item 4: a 7.6 MiB upload of 500 000 rows cost ~400 MiB and half a minute)."""
import io
import time
import tracemalloc
import zipfile

import openpyxl
import pytest

from kb.errors import ValidationFailed
from kb.spreadsheets import safety
from kb.spreadsheets.reader import read_table
from tests.kb.spreadsheets.builders import filled, xlsx_bytes

HUGE_ROWS = 500_000


@pytest.fixture(scope="module")
def huge_workbook(tmp_path_factory) -> bytes:
    """500 000 rows × 2 numbers on a sheet called 指标 (~7 MiB, as in the issue).

    openpyxl (write_only) writes the workbook; its sheet part is then replaced by the same XML for
    500 000 rows, generated directly: openpyxl would take most of a minute to write them one by one.
    """
    path = tmp_path_factory.mktemp("huge") / "huge.xlsx"
    workbook = openpyxl.Workbook(write_only=True)
    workbook.create_sheet("指标").append([0, 0])
    workbook.save(path)
    rows = "".join(f'<row r="{n}"><c r="A{n}" t="n"><v>{n}</v></c><c r="B{n}" t="n"><v>{n * 2}</v></c></row>'
                   for n in range(1, HUGE_ROWS + 1))
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<sheetData>{rows}</sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            is_sheet = member.filename.startswith("xl/worksheets/sheet")
            target.writestr(member.filename, sheet if is_sheet else source.read(member))
    return out.getvalue()


def test_huge_sheet_is_refused_fast_with_little_memory(huge_workbook):
    assert len(huge_workbook) < safety.MAX_FILE_BYTES  # it passes the size check: rows must stop it
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ValidationFailed) as caught:
            read_table(huge_workbook, "大表.xlsx")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [problem] = caught.value.problems
    assert problem.source == "大表.xlsx" and problem.entry == "指标"
    assert f"上限 {safety.MAX_ROWS} 行" in problem.message and "拆分" in problem.message
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1024 / 1024:.0f} MiB"


def test_rows_are_counted_across_chunk_boundaries(monkeypatch):
    # Tiny chunks split tags everywhere; the count must not change.
    content = xlsx_bytes([filled()] * 30)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        member = next(m for m in archive.infolist() if m.filename.startswith("xl/worksheets/"))
        whole = safety._rows_with_values(archive, member, 10_000)
        monkeypatch.setattr(safety, "_CHUNK", 7)
        assert safety._rows_with_values(archive, member, 10_000) == whole
    assert whole >= 31  # the header and 30 data rows at least


def test_a_sheet_just_under_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(safety, "MAX_SHEET_ROWS", 200)
    table = read_table(xlsx_bytes([filled()] * 20), "ok.xlsx")
    assert table.row_count == 20
