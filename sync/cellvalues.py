"""Cell values as canonical strings: what a spreadsheet did to a value, undone where that is provable.

A spreadsheet program re-reads what people type: "01067" becomes 1067, "1.2.2024" a date, "WAHR" a
boolean, "0,5" a number with a German decimal comma, a long number "1,23457E+16". These functions say
whether a cell is such a rendering of a value (`spreadsheet_rendering`, `same_number`), whether it can
only be a lossy one (`lossy_rendering`), and give a typed cell's canonical form (`canonical_number`,
`canonical_date` — ISO, German, an Excel serial day —, `canonical_bool`). Pure; no pandas.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Literal, overload

# How people and spreadsheets write yes/no (German and English Excel write WAHR/FALSCH, TRUE/FALSE).
BOOL_WORDS = {
    "1": "1", "0": "0",
    "true": "1", "false": "0", "wahr": "1", "falsch": "0",
    "ja": "1", "nein": "0", "j": "1", "n": "0", "yes": "1", "no": "0",
    "x": "1",
}  # fmt: skip

# A number as a spreadsheet reads it: sign, leading zeros, "." or "," as the decimal mark, exponent.
_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]{1,3})?\s*")
# German thousands separators: "1.234.567,89".
_GERMAN_THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?")
# Dates as people type them (01.02.2024, 1.2.24, 1.2., 3/4, 2024-02-01) ...
_DATE_TYPED = re.compile(r"\s*(\d{1,4})([./-])(\d{1,2})(?:\2(\d{1,4}))?\.?\s*")
# ... and as a spreadsheet gives a date cell back: ISO from an xlsx date cell (cell_text), or its
# display format with zero-padded parts in a CSV it saved ("03/04/26", "04.03.2026").
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00)?)?")
_DATE_SHOWN = re.compile(r"(\d{2})([./-])(\d{2})\2(\d{2}|\d{4})")
_TIME = re.compile(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*")


_EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01, counting Lotus' 1900-02-29


def _line_breaks(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _decimal(text: str) -> Decimal | None:
    """The number a spreadsheet reads in `text` ("01067", "+49", "0,5", "1.0E+15"), else None."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return None


def same_number(cell: str, current: str) -> bool:
    """True when `cell` is a spreadsheet's rendering of the number `current` spells.

    Exact equality covers lost leading zeros ("01067" → "1067"), a dropped "+", trailing decimal
    zeros ("1.0" → "1") and a German decimal comma ("0.5" → "0,5"); German Excel reads "1.234" as
    1234 (the dot groups thousands). A cell in exponent notation holds only so many significant
    digits (Excel: 15, "1.23456789012346E+19"; a CSV shows fewer), and Excel's "Standard" format
    shows a number in 11 characters ("3,141592654"), so `current` is compared rounded to those.
    """
    want, have = _decimal(current), _decimal(cell)
    grouped = current.strip()
    if have is not None and _GERMAN_THOUSANDS.fullmatch(grouped) and "," not in grouped and grouped[0] != "0":
        if Decimal(grouped.replace(".", "")) == have:
            return True
    if want is None or have is None:
        return False
    if want == have:
        return True
    if not have:
        return False
    with localcontext() as ctx:
        ctx.rounding = ROUND_HALF_UP  # Excel rounds halves away from zero
        if "e" not in cell.lower():
            return _shown_rounded(cell, want, have)
        digits = len(have.as_tuple().digits)
        if len(want.normalize().as_tuple().digits) <= digits:
            return False
        return Decimal(format(want, f".{digits - 1}e")) == have


# The width of a cell in Excel's "Standard" (General) format, and the significant digits it keeps.
_SHOWN_WIDTH, _EXCEL_DIGITS = 11, 15


def _shown_rounded(cell: str, want: Decimal, have: Decimal) -> bool:
    """True when `have` (the plain number `cell` shows) is `want` rounded to fit a General cell.

    Only for a `want` that does not fit (more than 11 characters or 15 digits) and a cell that is as
    wide as General fills it (or holds Excel's 15 digits): "0,12" for "0.123456789012" is an edit.
    """
    exponent, wanted = have.as_tuple().exponent, want.as_tuple().exponent
    if not isinstance(exponent, int) or not isinstance(wanted, int) or exponent <= wanted:
        return False  # `have` shows no fewer decimals than `want` has: no rounding happened
    plain = format(want.normalize(), "f")
    if len(plain) <= _SHOWN_WIDTH and len(want.normalize().as_tuple().digits) <= _EXCEL_DIGITS:
        return False  # General shows it in full
    shown = cell.strip()
    if len(shown) < _SHOWN_WIDTH - 1 and len(have.as_tuple().digits) < _EXCEL_DIGITS:
        return False
    return want.quantize(Decimal(1).scaleb(exponent)) == have


# How a spreadsheet shows a number too long for its cell: one digit, decimals, "E", a signed exponent.
_EXPONENT_SHOWN = re.compile(r"\s*[+-]?[0-9](?:[.,][0-9]+)?[eE][+-][0-9]{2,3}\s*")


def lossy_rendering(cell: str, current: str | None, kind: str = "text") -> str | None:
    """Why `cell` can only be a spreadsheet's lossy rewrite of some other value, or None.

    Asked of a cell that is no rendering of `current` (see `spreadsheet_rendering`): a long number
    shortened to exponent form ("1,23457E+16": the digits after the 6th are gone), or, in a text
    column, digits whose leading zeros were dropped ("1069" where Billomat has "01067"). Sending
    either would write a value nobody typed; the message says what was expected instead.
    """
    has = f"; Billomat has {current!r}" if current else ""
    if _EXPONENT_SHOWN.fullmatch(cell) and (number := _decimal(cell)) is not None and number:
        significant = len(number.normalize().as_tuple().digits)
        digits = number.adjusted() + 1
        # A whole number of 12+ digits (General's width) shown with fewer digits than it has.
        if digits > _SHOWN_WIDTH and digits > significant:
            return (
                f"{cell.strip()!r} is a {digits}-digit number a spreadsheet shortened to {significant} digits"
                f"{has}; expected all digits as text: format the column as Text (Format 'Text') and enter"
                " the value again"
            )
    if kind != "text" or not current:
        return None
    shown = cell.strip()
    if (
        current.isascii()
        and current.isdigit()
        and current[0] == "0"
        and shown.isascii()
        and shown.isdigit()
        and shown[0] != "0"
        and len(shown) < len(current)
    ):
        return (
            f"{shown!r} lost its leading zeros to a spreadsheet{has}; expected the value with its zeros as"
            f" text (e.g. {shown.zfill(len(current))!r}): format the column as Text (Format 'Text') and"
            " enter it again"
        )
    return None


@overload
def _date_readings(text: str, *, shown: Literal[True]) -> list[tuple[int, int, int]]: ...
@overload
def _date_readings(text: str, *, shown: Literal[False]) -> list[tuple[int | None, int, int]]: ...
def _date_readings(text: str, *, shown: bool) -> Sequence[tuple[int | None, int, int]]:
    """(year or None, month, day) readings of a date text; day/month order is ambiguous, so both."""
    year: int | None
    if shown:
        iso = _DATE_ISO.fullmatch(text)
        if iso:
            return [(int(iso[1]), int(iso[2]), int(iso[3]))]
        match = _DATE_SHOWN.fullmatch(text)
        if not match:
            return []
        a, b, year = int(match[1]), int(match[3]), int(match[4])
    else:
        match = _DATE_TYPED.fullmatch(text)
        if not match:
            return []
        if len(match[1]) == 4 and match[4]:
            return [(int(match[1]), int(match[3]), int(match[4]))]
        if len(match[1]) > 2 or (match[4] and len(match[4]) not in (2, 4)):
            return []
        a, b = int(match[1]), int(match[3])
        year = int(match[4]) if match[4] else None
    return [(year, m, d) for d, m in ((a, b), (b, a)) if 1 <= m <= 12 and 1 <= d <= 31]


def _same_date(cell: str, current: str) -> bool:
    """True when `cell` is the date a spreadsheet made of the text `current` ("1.2.2024", "3/4")."""
    for year, month, day in _date_readings(current, shown=False):
        for y, m, d in _date_readings(cell, shown=True):
            if (m, d) == (month, day) and (year is None or year in (y, y % 100) or y in (year, year % 100)):
                return True
    return False


def _same_time(cell: str, current: str) -> bool:
    want, have = _TIME.fullmatch(current), _TIME.fullmatch(cell)
    if want is None or have is None:
        return False
    return [int(x or 0) for x in want.groups()] == [int(x or 0) for x in have.groups()]


def spreadsheet_rendering(cell: str, current: str) -> bool:
    """True when the text `cell` is what a spreadsheet program made of the text `current`, not an edit.

    Only provable rewrites: line breaks (LibreOffice saves "\\r\\n" and a lone "\\r" as "\\n"), a number
    re-read from text (leading zeros, "+", trailing zeros, decimal comma, 15-digit exponent form,
    rounded to the cell's width), a date or time re-read from text, TRUE/FALSE re-read as a boolean
    (also WAHR/FALSCH), "50%" re-read as 0.5, a whitespace-only value blanked by a re-save. The one
    test for xlsx and CSV alike: the reader never knows (nor needs to) which program saved the cell.
    """
    if cell == current:
        return True
    if ("\r" in current or "\r" in cell) and _line_breaks(cell) == _line_breaks(current):
        return True
    if not cell:
        # openpyxl saves a whitespace-only string without xml:space="preserve", and every reader
        # (Excel, calamine) then sees an empty cell: blanked by a re-save, not emptied by a person.
        return bool(current) and current.isspace()
    if not current:
        return False
    if same_number(cell, current):
        return True
    folded = current.strip().casefold()
    if folded in ("true", "false", "wahr", "falsch"):
        return BOOL_WORDS.get(cell.strip().casefold()) == BOOL_WORDS[folded]
    if folded.endswith("%"):
        want, have = _decimal(folded[:-1]), _decimal(cell)
        return want is not None and have is not None and want / 100 == have
    return _same_date(cell, current) or _same_time(cell, current)


def canonical_number(text: str) -> str | None:
    """A number cell as text Billomat takes: "42.0" → "42", "0,5" → "0.5", "1.234,5" → "1234.5"; None if no number."""
    value = text.strip()
    if _GERMAN_THOUSANDS.fullmatch(value):
        value = value.replace(".", "").replace(",", ".")
    elif not _NUMBER.fullmatch(value):
        return None
    value = value.replace(",", ".")
    if "e" in value.lower():
        number = _decimal(value)
        if number is None:
            return None
        # Excel's exponent form of a whole number (1.0E+15) back to its digits.
        value = format(number, "f")
    if "." in value:
        whole, _, fraction = value.partition(".")
        fraction = fraction.rstrip("0")
        value = f"{whole or '0'}.{fraction}" if fraction else (whole or "0")
        if value in ("-0", "+0"):
            value = "0"
    return value


def canonical_date(text: str) -> str | None:
    """A date cell as YYYY-MM-DD: ISO (also with a time), dd.mm.yyyy, dd.mm.yy, an Excel serial; None if no date."""
    value = text.strip()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?", value)
    if iso:
        parts = int(iso[1]), int(iso[2]), int(iso[3])
    elif (german := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})", value)) is not None:
        year = int(german[3])
        if len(german[3]) == 2:  # Excel's two-digit-year rule: 00-29 → 20xx, 30-99 → 19xx
            year += 2000 if year < 30 else 1900
        parts = year, int(german[2]), int(german[1])
    elif re.fullmatch(r"\d{1,7}(?:\.\d+)?", value):
        # A date cell that lost its date format shows Excel's serial day number.
        serial = int(float(value))
        if not 1 <= serial <= 2_958_465:  # 9999-12-31
            return None
        return (_EXCEL_EPOCH + dt.timedelta(days=serial)).isoformat()
    else:
        return None
    try:
        return dt.date(*parts).isoformat()
    except ValueError:
        return None


def canonical_bool(text: str) -> str | None:
    """A yes/no cell as "1"/"0" (1/0, WAHR/FALSCH, TRUE/FALSE, ja/nein, x); None if it is none of them."""
    return BOOL_WORDS.get(text.strip().casefold())
