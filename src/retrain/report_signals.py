"""The report page's signals (:mod:`retrain.report_page`): every retraining signal against its threshold.

One :class:`Signal` per signal the run measured (realized and estimated
performance, the flagged rate, the drift check's data set share, importance
share, domain classifier, prediction drift and disagreement rate), each drawn
as a row with a small chart: the value, its interval and the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from retrain.report_text import (
    as_dict,
    as_float,
    as_list,
    ci_ends,
    coord,
    esc,
    html_table,
    interval_text,
    num,
    p_value,
    pct,
    version_text,
)

#: Metrics where a lower value is the better model (every other metric: higher is better).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss", "brier", "mse"})


@dataclass(frozen=True)
class Signal:
    """One retraining signal as the page draws it."""

    name: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    threshold: float | None = None
    #: Which side of ``threshold`` fires: ``<``, ``>`` or ``≥``.
    fires: str = "\u2265"
    fired: bool = False
    insufficient: bool = False
    failed: bool = False
    enabled: bool = True
    unit: bool = False
    note: str = ""


def _performance(check: dict[str, Any]) -> Signal | None:
    if check.get("failed"):
        return Signal("performance on labels", failed=True, note=str(check.get("error") or ""))
    metric = check.get("metric")
    if not metric:
        return None
    low, high = ci_ends(as_dict(check.get("ci")).get(metric))
    value = check.get("value") if check.get("value") is not None else check.get(metric)
    notes = [f"n = {num(check.get('n'))}", f"label match {pct(check.get('match_rate'))}"]
    use = check.get("use")
    if use and use != "estimate":
        notes.append(
            f"judged on the CI {'lower' if use == 'ci_lower' else 'upper'} bound {num(check.get('statistic'))}"
        )
    if check.get("insufficient") and check.get("reason"):
        notes.append(str(check["reason"]))
    return Signal(
        f"{metric} on labels",
        value=as_float(value),
        low=low,
        high=high,
        threshold=as_float(check.get("threshold")),
        fires=">" if metric in LOWER_IS_BETTER else "<",
        fired=bool(check.get("fired")),
        insufficient=bool(check.get("insufficient")),
        enabled=check.get("enabled") is not False,
        unit=metric not in LOWER_IS_BETTER and metric not in {"r2"},
        note="; ".join(notes),
    )


def _estimated(check: dict[str, Any]) -> Signal | None:
    if not check.get("enabled"):
        return None
    metric = check.get("metric") or "metric"
    low, high = ci_ends(as_dict(check.get("ci")).get(metric))
    notes = [f"n = {num(check.get('n'))}"]
    if check.get("method") == "dle":
        notes.append("DLE: the champion's loss model")
    elif check.get("method") == "cbpe":
        notes.append(f"CBPE, calibration {check.get('calibration') or 'none'}")
    for key in ("note", "reason"):
        if check.get(key) and (key == "note" or check.get("insufficient")):
            notes.append(str(check[key]))
    return Signal(
        f"estimated {metric} (no labels)",
        value=as_float(check.get("value")),
        low=low,
        high=high,
        threshold=as_float(check.get("threshold")),
        fires=">" if check.get("direction") == "max" else "<",
        fired=bool(check.get("fired")),
        insufficient=bool(check.get("insufficient")) or check.get("available") is False,
        unit=metric not in LOWER_IS_BETTER,
        note="; ".join(notes),
    )


def _flagged(check: dict[str, Any]) -> Signal | None:
    if not check.get("enabled"):
        return None
    low, high = ci_ends(check.get("ci"))
    note = f"{num(check.get('count'))} of {num(check.get('n'))} predictions flagged"
    if check.get("min_count"):
        note += f"; fires only with \u2265 {num(check.get('min_count'))} flagged"
    if check.get("insufficient") and check.get("reason"):
        note += f"; {check['reason']}"
    return Signal(
        "flagged rate",
        value=as_float(check.get("rate")),
        low=low,
        high=high,
        threshold=as_float(check.get("max_rate")),
        fires=">",
        fired=bool(check.get("fired")),
        insufficient=bool(check.get("insufficient")),
        unit=True,
        note=note,
    )


def _at_least(value: Any, threshold: Any) -> bool:
    x, b = as_float(value), as_float(threshold)
    return x is not None and b is not None and x >= b


def _drift_signals(check: dict[str, Any]) -> list[Signal]:
    enabled = check.get("enabled") is not False
    if check.get("failed"):
        return [Signal("data drift", failed=True, note=str(check.get("error") or ""))]
    insufficient = bool(check.get("insufficient"))
    note = f"{num(check.get('n_drifted'))} of {num(check.get('n_features'))} features drifted"
    critical = [str(c) for c in as_list(check.get("critical_drifted"))]
    if critical:
        note += f"; critical drifted: {', '.join(critical)}"
    if insufficient and check.get("reason"):
        note = str(check["reason"])
    out = [
        Signal(
            "data drift share",
            value=as_float(check.get("share")),
            threshold=as_float(check.get("threshold_share")),
            fired=_at_least(check.get("share"), check.get("threshold_share")) or bool(critical),
            insufficient=insufficient,
            enabled=enabled,
            unit=True,
            note=note,
        )
    ]
    if as_float(check.get("weighted_share")) is not None:
        out.append(
            Signal(
                "importance-weighted drift share",
                value=as_float(check.get("weighted_share")),
                threshold=as_float(check.get("importance_share")),
                fired=_at_least(check.get("weighted_share"), check.get("importance_share")),
                enabled=enabled and check.get("importance_share") is not None,
                unit=True,
                note="share of the model's feature importance on drifted features",
            )
        )
    for signal in (_multivariate(check), _prediction(check), _difference(check)):
        if signal is not None:
            out.append(signal if enabled else replace(signal, enabled=False))
    return out


def _unavailable(name: str, result: dict[str, Any], unit: bool = False) -> Signal:
    return Signal(name, insufficient=True, unit=unit, note=str(result.get("reason") or "insufficient data"))


def _multivariate(check: dict[str, Any]) -> Signal | None:
    result = as_dict(check.get("multivariate"))
    if not result:
        return None
    if result.get("insufficient"):
        return _unavailable("multivariate drift (domain classifier AUC)", result, unit=True)
    top = [str(as_dict(f).get("feature")) for f in as_list(result.get("top_features"))[:3]]
    note = f"p = {p_value(result.get('p_value'))}; {num(result.get('folds'))}-fold CV"
    if top:
        note += f"; separated most by {', '.join(top)}"
    return Signal(
        "multivariate drift (domain classifier AUC)",
        value=as_float(result.get("auc")),
        threshold=as_float(result.get("threshold")),
        fired=bool(result.get("fired")),
        unit=True,
        note=note,
    )


def _prediction(check: dict[str, Any]) -> Signal | None:
    report = as_dict(check.get("prediction"))
    if not report:
        return None
    on = report.get("on") or "prediction"
    result = as_dict(report.get("result"))
    if report.get("insufficient") or not result:
        return _unavailable(f"{on} drift (effect)", report)
    return Signal(
        f"{on} drift ({result.get('method')} effect)",
        value=as_float(result.get("effect")),
        threshold=as_float(result.get("threshold")),
        fired=bool(report.get("fired")),
        note=f"{result.get('test') or 'test'} p = {p_value(result.get('p_value'))}; "
        f"n = {num(report.get('n_reference'))} reference, {num(report.get('n_current'))} current",
    )


def _difference(check: dict[str, Any]) -> Signal | None:
    result = as_dict(check.get("prediction_difference"))
    if not result:
        return None
    name = "champion vs candidate disagreement rate"
    if result.get("insufficient"):
        return _unavailable(name, result, unit=True)
    note = f"{num(result.get('n_different'))} of {num(result.get('n'))} rows differ"
    if result.get("champion_version") is not None and result.get("candidate_version") is not None:
        note += f" ({version_text(result['champion_version'])} vs {version_text(result['candidate_version'])})"
    return Signal(
        name,
        value=as_float(result.get("rate")),
        threshold=as_float(result.get("max_rate")),
        fired=bool(result.get("fired")),
        unit=True,
        note=note,
    )


def measured_signals(report: dict[str, Any]) -> list[Signal]:
    """Every signal the run measured, in the page's order (labels, estimate, flags, then the drift check's)."""
    checks = as_dict(report.get("checks"))
    found: list[Signal | None] = []
    if checks.get("metrics"):
        found.append(_performance(as_dict(checks["metrics"])))
    found.append(_estimated(as_dict(checks.get("estimated"))))
    found.append(_flagged(as_dict(checks.get("flagged"))))
    if checks.get("drift"):
        found.extend(_drift_signals(as_dict(checks["drift"])))
    return [s for s in found if s is not None]


def _status(signal: Signal) -> str:
    if signal.failed:
        text, cls = "check failed", "s-failed"
    elif signal.insufficient:
        text, cls = "insufficient data", "s-insufficient"
    elif signal.fired:
        text, cls = "fired", "s-fired"
    else:
        text, cls = "ok", "s-ok"
    off = "" if signal.enabled else ' <span class="muted">(not a trigger)</span>'
    return f'<span class="status {cls}">{text}</span>{off}'


def _domain(values: list[float], unit: bool) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    span = hi - lo or (abs(hi) * 0.2 or 1.0)
    lo, hi = lo - span * 0.25, hi + span * 0.25
    if min(values) >= 0:
        lo = max(lo, 0.0)
    if unit and max(values) <= 1:
        hi = min(hi, 1.0)
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _signal_svg(signal: Signal) -> str:
    """A dot (the value) with its interval's whiskers, a dashed line at the bound and the firing side shaded."""
    points = [v for v in (signal.value, signal.low, signal.high, signal.threshold) if v is not None]
    if not points:
        return ""
    width, left, right = 230.0, 8.0, 222.0
    lo, hi = _domain(points, signal.unit)

    def x(v: float) -> float:
        return left + (min(max(v, lo), hi) - lo) / (hi - lo) * (right - left)

    parts = [f'<line x1="{coord(left)}" y1="22" x2="{coord(right)}" y2="22" class="axis"/>']
    if signal.threshold is not None:
        b = x(signal.threshold)
        x0, x1 = (left, b) if signal.fires == "<" else (b, right)
        parts.append(f'<rect x="{coord(x0)}" y="3" width="{coord(x1 - x0)}" height="19" class="zone"/>')
        parts.append(f'<line x1="{coord(b)}" y1="1" x2="{coord(b)}" y2="25" class="bound"/>')
    if signal.low is not None and signal.high is not None:
        a, b = x(signal.low), x(signal.high)
        parts.append(f'<path d="M{coord(a)} 12H{coord(b)}M{coord(a)} 8V16M{coord(b)} 8V16" class="whisker"/>')
    if signal.value is not None:
        cls = "dot fired" if signal.fired else ("dot off" if signal.insufficient else "dot")
        parts.append(f'<circle cx="{coord(x(signal.value))}" cy="12" r="4.5" class="{cls}"/>')
    parts.append(f'<text x="{coord(left)}" y="33" class="tick">{num(lo, 3)}</text>')
    parts.append(f'<text x="{coord(right)}" y="33" class="tick end">{num(hi, 3)}</text>')
    title = f"{signal.name}: {num(signal.value)}"
    if signal.low is not None or signal.high is not None:
        title += f" [{num(signal.low)}, {num(signal.high)}]"
    if signal.threshold is not None:
        title += f"; fires when {signal.fires} {num(signal.threshold)}"
    return (
        f'<svg class="sig" viewBox="0 0 {coord(width)} 36" width="{coord(width)}" height="36" role="img">'
        f"<title>{esc(title)}</title>{''.join(parts)}</svg>"
    )


def signals_section(report: dict[str, Any]) -> str:
    found = measured_signals(report)
    if not found:
        return ""
    rows = []
    for s in found:
        interval = interval_text(s.low, s.high)
        fires = f"{s.fires} {num(s.threshold)}" if s.threshold is not None else ""
        note = f'<div class="small">{esc(s.note)}</div>' if s.note else ""
        cls = "fired" if s.fired and not s.insufficient and not s.failed else ""
        rows.append(
            f'<tr class="{cls}"><th scope="row">{esc(s.name)}{note}</th>'
            f'<td class="n">{num(s.value)}</td><td class="n">{interval}</td><td class="n">{esc(fires)}</td>'
            f"<td>{_status(s)}</td><td>{_signal_svg(s)}</td></tr>"
        )
    headers = ["Signal", "Value", "Interval", "Fires when", "Status", "Value, interval and threshold"]
    return (
        '<section id="signals"><h2>Signals</h2>'
        '<p class="small">Dot: the value; whiskers: its confidence interval; dashed line: the threshold; '
        "shaded: the side where the signal fires.</p>"
        f"{html_table(headers, rows, class_='signals')}</section>"
    )
