"""Workbook I/O: AccountFrames + Mapping → sheet tables → xlsx or a folder of CSV files, and back.

- `layout`: fields to cells — `build_tables` (one all-text table per mapped sheet), attribute and tag
  columns, and the cell rules every writer and reader shares (formula triggers, Excel's limits);
- `write`: the tables as a new xlsx workbook (xlsxwriter) or CSV folder (pull, the change report);
- `read`: an xlsx workbook (python-calamine) or CSV folder back into all-text tables, row numbers
  kept, with the formula cells and merged ranges `desired` refuses.

Patching an existing workbook in place is `sync.workbook`'s; this package writes whole files only.
"""

from sync.sheet.layout import (
    BOM,
    CSV_ESCAPE,
    CSV_SEPARATORS,
    EXCEL_MAX_CHARS,
    EXCEL_MAX_COLS,
    EXCEL_MAX_ROWS,
    FORMULA_TRIGGERS,
    READ_ONLY_NOTE,
    XLSX_QUOTE_PREFIX,
    build_tables,
    joined_tags,
    property_columns,
    tag_groups,
)
from sync.sheet.read import (
    SheetCells,
    cell_text,
    detect_separator,
    read_workbook,
    sheet_cells,
    xlsx_formula_cells,
)
from sync.sheet.write import PROGRESS_ROWS, write_workbook

__all__ = [
    "BOM",
    "CSV_ESCAPE",
    "CSV_SEPARATORS",
    "EXCEL_MAX_CHARS",
    "EXCEL_MAX_COLS",
    "EXCEL_MAX_ROWS",
    "FORMULA_TRIGGERS",
    "PROGRESS_ROWS",
    "READ_ONLY_NOTE",
    "XLSX_QUOTE_PREFIX",
    "SheetCells",
    "build_tables",
    "cell_text",
    "detect_separator",
    "joined_tags",
    "property_columns",
    "read_workbook",
    "sheet_cells",
    "tag_groups",
    "write_workbook",
    "xlsx_formula_cells",
]
