"""The one error of table intake (re-exported by ``sources``), here so that every tabular module can raise it."""

from __future__ import annotations


class NotATable(ValueError):
    """The file cannot be read as a table; the message says why (never a value from the file)."""
