"""One CSV file of a workbook folder: read it as it is (BOM, separator, line ending), save it the same way."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from sync.errors import WorkbookError
from sync.mapping import Mapping
from sync.sheet import CSV_ESCAPE, detect_separator


@dataclass
class CsvFile:
    """A sheet's CSV file as read: its cells and how it is written (BOM, separator, line ending)."""

    path: Path
    bom: bool
    separator: str
    newline: str
    rows: list[list[str]]

    def data(self) -> bytes:
        """The file's bytes as `save_csv` writes them (to tell whether a rewrite changes anything)."""
        buffer = io.StringIO()
        csv.writer(
            buffer, delimiter=self.separator, lineterminator=self.newline, quoting=csv.QUOTE_MINIMAL
        ).writerows(self.rows)
        return (b"\xef\xbb\xbf" if self.bom else b"") + buffer.getvalue().encode("utf-8")


def read_csv(path: Path, preferred: str) -> CsvFile:
    """The file's cells, keeping its BOM, separator (the header line's; ties: `preferred`) and line ending."""
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3:].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError:
        raise WorkbookError("not UTF-8; the new ids could not be written back", file=path) from None
    separator = detect_separator(text, preferred)
    first = re.search(r"\r\n|\n|\r", text)
    newline = first.group(0) if first else "\r\n"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=False))
    return CsvFile(path, bom, separator, newline, rows)


def save_csv(file: CsvFile, target: Path) -> None:
    """Write `file`'s cells to `target` with its BOM, separator and line ending."""
    with open(target, "w", encoding="utf-8-sig" if file.bom else "utf-8", newline="") as fh:
        writer = csv.writer(
            fh, delimiter=file.separator, lineterminator=file.newline, quoting=csv.QUOTE_MINIMAL
        )
        writer.writerows(file.rows)


def unescape_csv(value: str) -> str:
    """The CSV formula prefix undone (sync.sheet.write writes a leading "'" before risky text)."""
    return value[1:] if value[:1] == "'" else value


def csv_value(value: str) -> str:
    """A value as a CSV cell: the formula guard ("'" before = + - @, tab, CR and ') as sync.sheet.write writes it."""
    return "'" + value if value and value[0] in CSV_ESCAPE else value


@dataclass
class CsvFolder:
    """A workbook folder: its files by case-folded name, and the mapped sheets' CSV files as read."""

    path: Path
    listing: dict[str, Path]
    files: dict[str, CsvFile] = field(default_factory=dict)

    def find(self, sheet: str) -> Path | None:
        """The file of `sheet` (`<sheet>.csv`, any case), if the folder has it."""
        return self.listing.get(f"{sheet}.csv".casefold())

    def grids(self) -> dict[str, list[list[str]]]:
        """Each mapped sheet's cells with the CSV formula guard undone (as the workbook reader sees them)."""
        return {name: [[unescape_csv(v) for v in row] for row in f.rows] for name, f in self.files.items()}


def read_folder(folder: Path, mapping: Mapping) -> CsvFolder:
    """The folder's files, and the CSV file of each sheet the mapping names that it has."""
    out = CsvFolder(folder, {p.name.casefold(): p for p in folder.iterdir() if p.is_file()})
    for sm in mapping.sheets.values():
        found = out.find(sm.sheet)
        if found is not None:
            out.files[sm.sheet] = read_csv(found, mapping.csv.separator)
    return out
