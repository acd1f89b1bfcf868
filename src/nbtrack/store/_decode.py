"""Values read back from ``nbtrack.db`` that nbtrack decodes itself (JSON texts).

SQLite keeps no checksum of the values in its pages: a flipped bit inside a stored JSON text is returned
as it is. Such a value cannot be decoded, and that is damage on disk, reported as one
:class:`DamagedStoreError` naming the fix, never as a raw ``JSONDecodeError``.
"""

from __future__ import annotations

import json
from typing import Any

from nbtrack.errors import DamagedStoreError


def stored_json(text: str | bytes, what: str) -> Any:
    """``json.loads(text)`` of a value nbtrack stored; an undecodable one raises :class:`DamagedStoreError`."""
    try:
        return json.loads(text)
    except (ValueError, TypeError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise damaged_value(what, error) from error


def damaged_value(what: str, error: BaseException) -> DamagedStoreError:
    return DamagedStoreError(
        f"The {what} stored in nbtrack.db cannot be decoded ({error}): the database is damaged. Run `nbtrack "
        "fsck` to see what it finds, and restore nbtrack.db from a copy of the store."
    )
