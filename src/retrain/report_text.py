"""Text of the report page (:mod:`retrain.report_page`): numbers, times and HTML, escaped and formatted.

Standard library only, as the whole page: it runs in the Report Lambda, which has no numpy or pandas.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

DASH = "\u2013"
ARROW = "\u2192"


def esc(value: Any) -> str:
    """Text (or a value's ``str``) escaped for HTML text and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def as_float(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, infinite, a bool or not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def _tidy(text: str) -> str:
    """``1.5e-05`` -> ``1.5e-5``; ``2e+04`` -> ``2e4``."""
    mantissa, sep, exponent = text.partition("e")
    if not sep:
        return text
    return f"{mantissa}e{int(exponent)}"


#: Below this magnitude a metric, rate or bound is floating-point noise around 0 (a bootstrap bound of 2e-19).
NOISE = 1e-12


def num(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits (an int in full, grouped by thousands); "–" if not finite.

    Magnitudes below :data:`NOISE` show as ``0`` (p-values have their own format, :func:`p_value`).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    x = as_float(value)
    if x is None:
        return DASH
    return "0" if abs(x) < NOISE else _tidy(f"{x:.{digits}g}")


def p_value(value: Any) -> str:
    """A p-value: 3 significant digits, 2 in scientific notation below 0.001; "–" if not finite."""
    x = as_float(value)
    if x is None:
        return DASH
    if x == 0:
        return "0"
    return _tidy(f"{x:.2e}") if abs(x) < 1e-3 else _tidy(f"{x:.3g}")


def pct(value: Any) -> str:
    """A rate in [0, 1] as a percentage with 3 significant digits (``0.12`` -> ``12%``)."""
    x = as_float(value)
    return DASH if x is None else f"{_tidy(f'{x * 100:.3g}')}%"


def signed(value: Any) -> str:
    """A difference with its sign (``+0.135``)."""
    x = as_float(value)
    return DASH if x is None else _tidy(f"{x:+.4g}")


def coord(x: float) -> str:
    """An SVG coordinate: one decimal, no trailing zeros."""
    return f"{round(x, 1):g}"


def when_text(value: Any) -> str:
    """An ISO-8601 time as ``2026-12-01 20:07:42 UTC`` (the text as given when it is not one)."""
    if not isinstance(value, str) or not value:
        return DASH
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    offset = moment.utcoffset()
    zone = "" if offset is None else ("UTC" if not offset else moment.strftime("%z"))
    return f"{moment:%Y-%m-%d %H:%M:%S} {zone}".strip()


def duration_text(start: Any, end: Any) -> str | None:
    try:
        seconds = (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
    except (TypeError, ValueError):
        return None
    if seconds < 0:
        return None
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def interval_text(low: Any, high: Any) -> str:
    """An interval ``low – high``; empty when it has neither end."""
    if as_float(low) is None and as_float(high) is None:
        return ""
    return f"{num(low)} {DASH} {num(high)}"


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def version_text(value: Any) -> str:
    return DASH if value is None else f"v{value}"


def and_join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def html_table(headers: list[str], rows: Iterable[str], *, class_: str = "") -> str:
    head = "".join(f'<th scope="col">{h}</th>' for h in headers)
    cls = f' class="{class_}"' if class_ else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def ci_ends(ci: Any) -> tuple[float | None, float | None]:
    ci = as_dict(ci)
    return as_float(ci.get("lower")), as_float(ci.get("upper"))
