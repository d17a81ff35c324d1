"""Tests for sync.workbook.styles: cell formats found or appended in styles.xml, nothing else changed."""

from __future__ import annotations

from sync.workbook.styles import Styles, needs_quote

STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    "</styleSheet>"
)


def test_the_quote_prefix_appends_one_format_and_reuses_it() -> None:
    styles = Styles("xl/styles.xml", STYLES.encode())
    quoted = styles.with_quote("1", True)
    assert quoted == "2" and styles.with_quote("1", True) == "2"
    assert styles.with_quote(quoted, False) == "1"  # the same format without the prefix is found again
    assert styles.with_quote(None, True) == "3"  # format 0 gets its own twin
    data = styles.patched()
    assert data is not None
    xml = data.decode()
    assert '<cellXfs count="4">' in xml and xml.count('quotePrefix="1"') == 2
    assert xml.replace(xml[xml.index("<cellXfs") : xml.index("</cellXfs>")], "") == STYLES.replace(
        STYLES[STYLES.index("<cellXfs") : STYLES.index("</cellXfs>")], ""
    )  # everything outside cellXfs is byte-identical


def test_nothing_needed_changes_nothing() -> None:
    styles = Styles("xl/styles.xml", STYLES.encode())
    assert styles.with_quote("1", False) == "1"
    assert styles.patched() is None


def test_the_owned_sheets_formats_are_added_once() -> None:
    styles = Styles("xl/styles.xml", STYLES.encode())
    first = styles.konflikte()
    assert len(set(first.values())) == 5 and styles.konflikte() is first
    xml = (styles.patched() or b"").decode()
    assert "<b/>" in xml and 'rgb="FFFFF2CC"' in xml and '<fonts count="2">' in xml


def test_a_workbook_without_styles_keeps_its_cells_unstyled() -> None:
    styles = Styles(None, None)
    assert styles.with_quote("1", True) == "1" and styles.konflikte()["header"] is None
    assert styles.patched() is None


def test_values_that_read_as_formulas_need_the_quote_prefix() -> None:
    assert all(needs_quote(v) for v in ("=1+1", "+49", "-x", "@a", "'q", "\tx", "\rx"))
    assert not any(needs_quote(v) for v in ("", "Köln", "1+1"))
