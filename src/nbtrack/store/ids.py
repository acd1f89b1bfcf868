"""Run ids: ULIDs (48-bit millisecond time + 80 random bits) in lowercase Crockford base32.

They sort by creation time and are unique across machines without coordination. The last
eight characters are random, so they make the short id people read and type.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID_LENGTH = 26
SHORT_LENGTH = 8


def new_run_id(now: float | None = None) -> str:
    """Return a new 26-character, time-sortable, globally unique run id."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def short_id(run_id: str) -> str:
    """The short form shown to people: the random tail of the id."""
    return run_id[-SHORT_LENGTH:]


def looks_like_id_fragment(text: str) -> bool:
    return bool(text) and all(c in _ALPHABET for c in text.lower())
