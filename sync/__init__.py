"""billsync: keep Billomat customer data and an Excel/CSV workbook in step, and migrate it to SnapBill."""

from __future__ import annotations

from sync.clients.billomat import Billomat
from sync.clients.snapbill import SnapBill

__version__ = "0.1.0"

__all__ = ["Billomat", "SnapBill", "__version__"]
