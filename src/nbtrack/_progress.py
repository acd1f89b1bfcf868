"""Progress bars (tqdm.auto: a widget in notebooks, a text bar in terminals) for long loops."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")
MIN_ITEMS = 20


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str, enabled: bool = True, min_items: int = MIN_ITEMS
) -> Iterable[T]:
    """``items`` wrapped in a progress bar when there are enough of them to take a while.

    ``min_items``: fewer items than this never show a bar (callers that judge the work by its size,
    not by its number of items, pass 1 and decide with ``enabled``).
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if not enabled or (total is not None and total < min_items):
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc, leave=False)
