"""Import of debtors and charges from JSON, CSV and XLSX files. See docs/import.md."""

from __future__ import annotations

from .rejected import rejected_path
from .services import ImportReport, import_file

__all__ = ["ImportReport", "import_file", "rejected_path"]
