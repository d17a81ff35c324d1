"""The workbook as the state it asks Billomat to reach: frames by API field, canonical strings.

`read_desired(tables, mapping, current)` (read.py) opens every sheet first (opening.py: structural
checks, keys), then reads the fields (fields.py), the Kunden sheet's property columns (values.py) and
tags (tags.py), and each contact's client (links.py); rows.py holds the sheet being read and what the
reading finds. The result types and key forms are in model.py; the cell-value rules in sync.cellvalues.
"""

from sync.desired.model import Desired, RowProblem
from sync.desired.read import read_desired
from sync.keys import NEW_KEY, REMOVED_KEY, row_key

__all__ = ["NEW_KEY", "REMOVED_KEY", "Desired", "RowProblem", "read_desired", "row_key"]
