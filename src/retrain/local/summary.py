"""The table ``retrain local-run`` and ``retrain demo`` end with: one row per run.

Each row: the run's name, its outcome, the champion before and after, the
primary metric on the monitoring window (with its confidence interval) and on
the candidate's holdout for champion and candidate; the reasons are wrapped
under it. Printed through a :class:`~retrain.local.progress.Console`, so the
outcome is colored on a terminal only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from retrain.local.progress import Console


def primary_metric(result: Mapping[str, Any], default: str | None = None) -> str | None:
    """The metric a run is judged on: the metric check's, else ``default`` (the config's validation metric).

    Without either, the first metric both the champion and the candidate were scored on.
    """
    checks = (result.get("checks") or {}).get("metrics") or {}
    if checks.get("metric"):
        return str(checks["metric"])
    if default:
        return default
    champion = (result.get("champion") or {}).get("metrics") or {}
    candidate = (result.get("candidate") or {}).get("metrics") or {}
    common = [name for name in candidate if name in champion]
    return common[0] if common else None


def _number(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"


def _window_metric(result: Mapping[str, Any], metric: str | None) -> str:
    """The metric on the window the champion served, with its confidence interval if there is one."""
    checks = (result.get("checks") or {}).get("metrics") or {}
    if metric is None or checks.get("failed") or not isinstance(checks.get(metric), int | float):
        return "-"
    ci = (checks.get("ci") or {}).get(metric) or {}
    if isinstance(ci.get("lower"), int | float) and isinstance(ci.get("upper"), int | float):
        return f"{_number(checks[metric])} [{_number(ci['lower'])}, {_number(ci['upper'])}]"
    return _number(checks[metric])


def _holdout(result: Mapping[str, Any], who: str, metric: str | None) -> str:
    """The champion's or the candidate's metric on the candidate's holdout ("-" without a candidate)."""
    if metric is None or not result.get("candidate"):
        return "-"
    return _number(((result.get(who) or {}).get("metrics") or {}).get(metric))


def _champions(result: Mapping[str, Any], arrow: str) -> str:
    before = (result.get("champion") or {}).get("version")
    after = result.get("champion_version")
    if before is None and after is None:
        return "-"
    if before is None or after is None or before == after:
        return f"v{after if after is not None else before}"
    return f"v{before} {arrow} v{after}"


def _notes(result: Mapping[str, Any], errors: bool) -> list[tuple[str, str]]:
    """What goes under a run's row: its reasons, why it did not retrain, its error."""
    notes = [("- ", str(reason)) for reason in result.get("reasons") or []]
    if result.get("insufficient"):
        notes.append(("not retrained: ", str(result["insufficient"])))
    if errors and result.get("error"):
        notes.append(("error: ", str(result["error"])))
    return notes


_OUTCOME_STYLES = {"promoted": ("green", "bold"), "failed": ("red", "bold"), "rejected": ("yellow", "bold")}


def summary_table(
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    metric: str | None = None,
    console: Console | None = None,
    errors: bool = True,
    width: int = 100,
) -> str:
    """A text table of runs: one row per ``(window name, result.json dict)``, notes wrapped under it.

    Columns: the outcome; the champion before and after (``v1 → v2``, or ``v1``
    when it stayed); the primary metric (:func:`primary_metric`; ``metric`` is
    the config's validation metric) of that champion on the window it served,
    with its confidence interval; the champion's and the candidate's metric on
    the candidate's holdout (``-`` without a candidate); the drift share. Under
    each row its reasons, why it did not retrain and (with ``errors``) its
    error, wrapped to ``width`` characters.
    """
    console = console or Console(write=lambda _: None)
    marks = console.marks
    names = [primary_metric(result, metric) for _, result in rows]
    shared = names[0] if names and len(set(names)) == 1 else None
    label = shared or "metric"
    headers = ["window", "outcome", "champion", f"window {label}", "holdout: champion", "candidate", "drift"]
    table: list[list[str]] = []
    for (name, result), row_metric in zip(rows, names, strict=True):
        if len(name) > 24:  # a file's name: its end tells it apart
            name = marks.running + name[len(marks.running) - 24 :]
        drift = ((result.get("checks") or {}).get("drift") or {}).get("share")
        served = _window_metric(result, row_metric)
        table.append(
            [
                name,
                str(result.get("outcome", "-")),
                _champions(result, marks.arrow),
                served if shared or served == "-" else f"{row_metric} {served}",
                _holdout(result, "champion", row_metric),
                _holdout(result, "candidate", row_metric),
                f"{drift:.2f}" if isinstance(drift, int | float) else "-",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    right = {4, 5, 6}  # numbers

    def render(cells: list[str], outcome: str | None = None) -> str:
        out = []
        for i, cell in enumerate(cells):
            padded = cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            if i == 1 and outcome is not None:
                padded = console.paint(padded, *_OUTCOME_STYLES.get(outcome, ("bold",)))
            out.append(padded)
        return "  ".join(out).rstrip()

    lines = [render(headers), "  ".join("-" * w for w in widths)]
    indent = " " * min(widths[0] + 2, 12)
    for cells, (_, result) in zip(table, rows, strict=True):
        lines.append(render(cells, cells[1]))
        for prefix, text in _notes(result, errors):
            lines.extend(
                textwrap.wrap(
                    text,
                    width=width,
                    initial_indent=indent + prefix,
                    subsequent_indent=indent + " " * len(prefix),
                    break_on_hyphens=False,
                )
            )
    legend = _legend(rows, shared)
    return "\n".join([*lines, *textwrap.wrap(legend, width=width)] if legend else lines)


def _legend(rows: Sequence[tuple[str, Mapping[str, Any]]], metric: str | None) -> str:
    """What the metric columns mean, for the tables that have them."""
    parts = []
    levels = [((r.get("checks") or {}).get("metrics") or {}).get("confidence") for _, r in rows]
    shared = {float(level) for level in levels if isinstance(level, int | float)}
    if any("[" in _window_metric(r, primary_metric(r, metric)) for _, r in rows):
        level = f"{100 * shared.pop():g}% " if len(shared) == 1 else ""
        parts.append(f"window: the champion that served the window, on it [{level}confidence interval]")
    if any(r.get("candidate") for _, r in rows):
        parts.append("holdout: the champion and the candidate, both on the candidate's holdout")
    return "; ".join(parts) + "." if parts else ""
