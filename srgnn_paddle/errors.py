"""User-facing errors.

Every problem caused by the user's input (a wrong path, a missing column, an id out of
range, ...) is raised as :class:`SrgnnError` with a one-line message that names the file,
the row or the field, and says what to do. The command-line interface prints that line and
exits with status 2, without a traceback.
"""
from __future__ import annotations


class SrgnnError(Exception):
    """An error in the user's input or configuration, with a one-line explanation."""
