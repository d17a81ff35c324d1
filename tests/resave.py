"""Test helpers: a workbook re-saved by the programs an office uses (German Excel's CSV, openpyxl).

German Excel opens a `;` CSV and re-types every cell it can read as a number, date or boolean;
its "CSV UTF-8" save then writes each cell as it shows it (format "Standard"): leading zeros
gone, 12+ digits in exponent form with 6 significant digits (`1,23457E+16`), a decimal comma,
dates as dd.mm.yyyy, TRUE/FALSE as WAHR/FALSCH, a line break inside a cell as LF
(prior-art.md §C2). A cell starting with `'` is shown with that `'` and saved unchanged.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl

_DIGITS = re.compile(r"[+-]?[0-9]+")
_THOUSANDS = re.compile(r"[+-]?[1-9][0-9]{0,2}(?:\.[0-9]{3})+")  # German Excel: the dot groups thousands
_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+|[+-]?[0-9]+,[0-9]+")
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DAY_MONTH = re.compile(r"([0-9]{1,2})-([0-9]{1,2})")
_BOOLEAN = {"true": "WAHR", "false": "FALSCH"}
_WIDTH = 11  # characters a "Standard" cell shows in a column of standard width
_YEAR = 2026  # the year Excel adds to a typed day and month ("1-2" → 01.02.<this year>)


def german_number(number: Decimal) -> str:
    """A number as German Excel's "Standard" format shows it in a standard-width column."""
    if number == number.to_integral_value() and len(str(abs(int(number)))) <= 11:
        return str(int(number))
    if abs(number) >= Decimal(10) ** 11 or (number and abs(number) < Decimal("1e-9")):
        mantissa, exponent = f"{number:.5E}".split("E")
        mantissa = mantissa.rstrip("0").rstrip(".")
        sign, digits = exponent[0], exponent[1:].lstrip("0").rjust(2, "0")
        return f"{mantissa}E{sign}{digits}".replace(".", ",")
    # "Standard" shows what fits in 11 characters (of Excel's 15 significant digits), rounded half
    # away from zero, without trailing zeros.
    text = format(number.normalize(), "f")
    if len(text) > _WIDTH:
        whole = len(text.split(".")[0])
        places = max(0, _WIDTH - whole - 1)
        text = format(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize(), "f")
    return text.replace(".", ",")


def german_excel_cell(value: str) -> str:
    """What German Excel makes of one CSV cell's text when it opens and re-saves the file."""
    text = value.replace("\r\n", "\n")
    if not text or text != text.strip():
        return text  # "  12" and "12 " stay text
    if _DIGITS.fullmatch(text) or _SCIENTIFIC.fullmatch(text):
        return german_number(Decimal(text.replace(",", ".")))
    if _THOUSANDS.fullmatch(text):
        return german_number(Decimal(text.replace(".", "")))
    if _DECIMAL.fullmatch(text):
        return german_number(Decimal(text.replace(",", ".")))
    if (iso := _ISO_DATE.fullmatch(text)) is not None:
        return f"{iso[3]}.{iso[2]}.{iso[1]}"
    if (day_month := _DAY_MONTH.fullmatch(text)) is not None:
        day, month = int(day_month[1]), int(day_month[2])
        if 1 <= day <= 31 and 1 <= month <= 12:
            return f"{day:02d}.{month:02d}.{_YEAR}"
    return _BOOLEAN.get(text.casefold(), text)


def resave_csv_as_german_excel(file: Path) -> None:
    """Open `file` (a billsync CSV) as German Excel does and save it back as "CSV UTF-8" (BOM, `;`)."""
    with file.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(rows[0])  # headers are text
    writer.writerows([german_excel_cell(cell) for cell in row] for row in rows[1:])
    file.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))


def resave_csv_folder_as_german_excel(folder: Path) -> None:
    """Every CSV of a pulled folder, re-saved by German Excel."""
    for file in sorted(folder.glob("*.csv")):
        resave_csv_as_german_excel(file)


def resave_with_openpyxl(path: Path) -> None:
    """What an IT person's script does to a workbook: load_workbook + save, nothing edited."""
    openpyxl.load_workbook(path).save(path)


def replace_in_xlsx(path: Path, placeholder: str, value: str) -> None:
    """Put `value` where the text `placeholder` is, in the xlsx's XML (past any writer's checks).

    openpyxl and xlsxwriter cut a string at Excel's 32,767 characters; a generated file need not.
    """
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    needle, text = escape(placeholder).encode("utf-8"), escape(value).encode("utf-8")
    assert any(needle in data for _, data in members), placeholder
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, data.replace(needle, text) if info.filename.endswith(".xml") else data)
