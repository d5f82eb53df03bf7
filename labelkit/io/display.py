"""How an interval is shown to people: `[87.3, 91.2]`. The one formatter of the report, repair.md, the
CLI's tables, the results' summary line, the checks' and the label-model selection's messages and the
benchmarks' tables (a module of its own, below all of them: results.py cannot import the report)."""
from __future__ import annotations


def interval_text(bounds, spec: str = ".1f", *, percent: bool = True) -> str:
    """`[low, high]` with each bound in format `spec`, as a percentage (times 100) unless `percent` is
    False; "" without an interval (None, empty, or not two bounds).

    >>> interval_text([0.8734, 0.912])
    '[87.3, 91.2]'
    >>> interval_text((-0.0123, 0.04), "+.3f", percent=False)
    '[-0.012, +0.040]'
    >>> interval_text(None)
    ''
    """
    if not bounds or len(bounds) != 2:
        return ""
    low, high = bounds
    if percent:
        low, high = 100 * low, 100 * high
    return f"[{low:{spec}}, {high:{spec}}]"
