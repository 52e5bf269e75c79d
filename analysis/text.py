"""Numbers written as words: the formats reports and documents share.

Missing values (``None``, NaN, text that is not a number) are written as ``missing``
("—" by default), never as ``nan``.
"""
from __future__ import annotations

import math


def _number(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def fmt(x, digits: int = 3, missing: str = "—") -> str:
    """``x`` to ``digits`` significant digits; whole numbers from 10**digits up (1234 not 1.23e+03)."""
    x = _number(x)
    if not math.isfinite(x):
        return missing if math.isnan(x) else ("∞" if x > 0 else "-∞")
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def pct(x, decimals: int = 2, missing: str = "—") -> str:
    """A fraction in [0, 1] as a percentage with ``decimals`` decimals, without the % sign."""
    x = _number(x)
    return f"{100 * x:.{decimals}f}" if math.isfinite(x) else missing


def count(x, missing: str = "—") -> str:
    """A whole number."""
    x = _number(x)
    return str(int(x)) if math.isfinite(x) else missing
