"""The report page: one run's ``report.json`` as a self-contained HTML document.

:func:`render` turns the report dict (:mod:`retrain.result`'s contract plus
``model``, ``execution``, ``started_at``, ``finished_at``, ``report`` and
``distributions``) into one HTML page a person reads in ten seconds: the
outcome and why (headline), the signals against their thresholds, which
features drifted and how (a chart with one mark per feature, then a table with
each feature's reference and current distribution), the validation gates,
champion against candidate, and the lineage.

It runs in the Report Lambda, which has no numpy or pandas: the standard library
and :mod:`retrain.result` (itself standard library only). The page loads nothing:
no script, font, image or stylesheet from anywhere; charts are inline SVG, the style is one inline ``<style>``, and a
Content-Security-Policy (``default-src 'none'``) makes the browser refuse any
load. Every string of the report is HTML-escaped. Numbers show 4 significant
digits (p-values 3, tiny ones in scientific notation); a missing, NaN or
infinite number shows as "–".

Size, measured with ``.venv/bin/python tests/report_samples.py [report.json ...]``
(prints the page's bytes for the reports given, else for the two below):
26 KB for the demo's drifted churn run with every signal enabled and its
distributions (6 features; ``tests/report_real_promoted.json``; 18 KB for
``retrain demo``'s own drifted ``result.json``, which has no distributions),
151 KB for a synthetic run of 100 features, each with a distribution
(``report_samples.synthetic(100)``); a unit test keeps the latter under 400 KB.
"""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from retrain.result import OUTCOMES

__all__ = ["num", "p_value", "pct", "render", "signed"]

_log = logging.getLogger(__name__)

#: Metrics where a lower value is the better model (every other metric: higher is better).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss", "brier", "mse"})
#: Keys of ``checks.metrics`` that describe the check, not a metric of the champion.
_CHECK_KEYS = frozenset(
    {"n", "match_rate", "bound", "value", "judged", "confidence", "n_predictions", "failed", "triggered"}
)
_TRIGGERS = {"schedule": "Schedule", "alarm": "Alarm", "manual": "Manual"}
DASH = "\u2013"
ARROW = "\u2192"


# ------------------------------------------------------------------------------------------- formatting
def _esc(value: Any) -> str:
    """Text (or a value's ``str``) escaped for HTML text and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _float(value: Any) -> float | None:
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
    x = _float(value)
    if x is None:
        return DASH
    return "0" if abs(x) < NOISE else _tidy(f"{x:.{digits}g}")


def p_value(value: Any) -> str:
    """A p-value: 3 significant digits, 2 in scientific notation below 0.001; "–" if not finite."""
    x = _float(value)
    if x is None:
        return DASH
    if x == 0:
        return "0"
    return _tidy(f"{x:.2e}") if abs(x) < 1e-3 else _tidy(f"{x:.3g}")


def pct(value: Any) -> str:
    """A rate in [0, 1] as a percentage with 3 significant digits (``0.12`` -> ``12%``)."""
    x = _float(value)
    return DASH if x is None else f"{_tidy(f'{x * 100:.3g}')}%"


def signed(value: Any) -> str:
    """A difference with its sign (``+0.135``)."""
    x = _float(value)
    return DASH if x is None else _tidy(f"{x:+.4g}")


def _c(x: float) -> str:
    """An SVG coordinate: one decimal, no trailing zeros."""
    return f"{round(x, 1):g}"


def _when(value: Any) -> str:
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


def _duration(start: Any, end: Any) -> str | None:
    try:
        seconds = (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
    except (TypeError, ValueError):
        return None
    if seconds < 0:
        return None
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _span(low: Any, high: Any) -> str:
    """An interval ``low – high``; empty when it has neither end."""
    if _float(low) is None and _float(high) is None:
        return ""
    return f"{num(low)} {DASH} {num(high)}"


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _version(value: Any) -> str:
    return DASH if value is None else f"v{value}"


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _table(headers: list[str], rows: Iterable[str], *, class_: str = "") -> str:
    head = "".join(f'<th scope="col">{h}</th>' for h in headers)
    cls = f' class="{class_}"' if class_ else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# ------------------------------------------------------------------------------------------- headline
def _model(report: dict[str, Any]) -> str | None:
    model = report.get("model") or _d(report.get("reconcile")).get("model")
    return str(model) if model else None


def _short_reasons(reasons: list[Any]) -> list[str]:
    """Each reason's first clause without its trailing parenthetical (``drift in 5 of 6 features``).

    A check's reason joins its signals' with ``; ``: the others are counted (``2 more drift signals``).
    """
    out: list[str] = []
    more = 0
    for reason in reasons:
        first, *rest = str(reason).split("; ")
        short = re.sub(r"\s*\([^()]*\)\s*$", "", first).strip()
        short = short.replace(">=", "\u2265").replace("<=", "\u2264")
        if short and short not in out:
            out.append(short)
        more += len(rest)
    if more:
        out.append(f"{_plural(more, 'more signal')} (below)")
    return out


def _failed_gates(report: dict[str, Any]) -> list[str]:
    out = []
    for gate in _list(report.get("gates")):
        gate = _d(gate)
        if gate and not gate.get("passed"):
            detail = gate.get("detail")
            out.append(f"{gate.get('name')} ({detail})" if detail else str(gate.get("name")))
    return out


def _error_parts(report: dict[str, Any]) -> tuple[str, str]:
    """The failed run's error type and its message (the ``ErrorType: `` prefix of ``error`` removed)."""
    error = str(report.get("error") or "")
    kind = str(report.get("error_type") or "") or (error.split(":", 1)[0] if ":" in error else "Error")
    message = error[len(kind) + 1 :].strip() if error.startswith(f"{kind}:") else error
    return kind, message if message and message != kind else "(no further detail)"


#: The headline sentence of each outcome; the fields are filled by :func:`_sentence`.
_SENTENCES = {
    "promoted": "{prefix}: retrained{because}; candidate {candidate} promoted {over}{passed}.",
    "rejected": "{prefix}: retrained{because}; candidate {candidate} rejected{gates}; champion {now} stays.",
    "no-retrain": "{prefix}: no signal fired{unjudged}, so no retraining; champion {now} stays.",
    "already-running": "{prefix}: another run of {model} was in progress, so this one stopped before any check.",
    "duplicate": "{prefix}: this trigger event was already handled by an earlier run; nothing ran.",
    "cooldown": "{prefix}: within the cooldown after the last promotion, so no retraining{because}; "
    "champion {now} stays.",
    "insufficient-data": "{prefix}: retraining was due{due} but the training data was insufficient; "
    "champion {now} stays.",
    "failed": "{prefix} failed with {kind}{doing}; champion {now} stays.",
}


def _sentence(report: dict[str, Any]) -> str:
    """The headline sentence (plain text): what triggered the run, why, and what came of it."""
    model = _model(report) or "an unknown model"
    trigger = report.get("trigger")
    label = _TRIGGERS.get(str(trigger), str(trigger).capitalize()) if trigger else ""
    if report.get("invalid_input"):
        kind = _error_parts(report)[0]
        return f"The inputs of this {label.lower() + ' ' if label else ''}run were refused ({kind}); nothing ran."
    why = _short_reasons(_list(report.get("reasons")))
    candidate = _d(report.get("candidate")).get("version")
    old = _d(report.get("champion")).get("version")
    failed = _failed_gates(report)
    fields = {
        "prefix": f"{label} run of {model}" if label else f"Run of {model}",
        "model": model,
        "because": f" because {_and(why)}" if why else "",
        "due": f" ({_and(why)})" if why else "",
        "candidate": _version(candidate),
        "over": f"over {_version(old)}" if old is not None and old != candidate else "as the first champion",
        "gates": f" (failed: {_and(failed)})" if failed else "",
        "now": _version(report.get("champion_version")),
        "kind": _error_parts(report)[0],
        "doing": f" while retraining because {_and(why)}" if why and report.get("triggered") else "",
    }
    fields["passed"] = _passed(report)
    unjudged = [s.name for s in _signals(report) if s.insufficient and s.enabled]
    fields["unjudged"] = f" ({len(unjudged)} without enough data: {_and(unjudged)})" if unjudged else ""
    fields["outcome"] = str(report.get("outcome"))
    return _SENTENCES.get(fields["outcome"], "{prefix}: outcome {outcome}.").format(**fields)


def _passed(report: dict[str, Any]) -> str:
    """Why a candidate was promoted: the gates it passed, with the comparison against the champion if made."""
    gates = [_d(g) for g in _list(report.get("gates"))]
    if not gates or not all(g.get("passed") for g in gates):
        return ""
    versus = next((g for g in gates if g.get("name") == "vs champion" and g.get("detail")), None)
    passed = f", passing all {len(gates)} gates" if len(gates) > 1 else ", passing its gate"
    return passed + (f" ({versus['detail']})" if versus else "")


def _badge(report: dict[str, Any]) -> str:
    outcome = str(report.get("outcome") or "unknown")
    cls = outcome if outcome in OUTCOMES else "other"
    text = "refused" if report.get("invalid_input") else outcome
    return f'<span class="badge b-{cls}">{_esc(text)}</span>'


def _error_box(report: dict[str, Any]) -> str:
    if not (report.get("error") or report.get("error_type")):
        return ""
    kind, message = _error_parts(report)
    title = "Inputs refused" if report.get("invalid_input") else "Run failed"
    return (
        f'<div class="error" role="alert"><p><strong>{title}: {_esc(kind)}</strong></p><pre>{_esc(message)}</pre></div>'
    )


def _check_failures(report: dict[str, Any]) -> str:
    items = []
    for name, check in _d(report.get("checks")).items():
        check = _d(check)
        if check.get("failed"):
            items.append(f"<li><strong>{_esc(name)} check failed:</strong> {_esc(check.get('error'))}</li>")
    return f'<ul class="warn">{"".join(items)}</ul>' if items else ""


def _header(report: dict[str, Any]) -> str:
    model = _model(report)
    title = _esc(model) if model else "Retraining run"
    reasons = [str(r) for r in _list(report.get("reasons"))]
    reason_list = (
        f'<details class="reasons"><summary>{_plural(len(reasons), "reason")} in full</summary><ul>'
        + "".join(f"<li>{_esc(r)}</li>" for r in reasons)
        + "</ul></details>"
        if reasons
        else ""
    )
    insufficient = report.get("insufficient")
    extra = f'<p class="note">Training data: {_esc(insufficient)}</p>' if insufficient else ""
    facts = [
        ("trigger", _esc(report.get("trigger") or DASH)),
        ("execution", _esc(report.get("execution") or DASH)),
        ("started", _esc(_when(report.get("started_at")))),
        ("finished", _esc(_when(report.get("finished_at")))),
        ("champion now", _esc(_version(report.get("champion_version")))),
    ]
    took = _duration(report.get("started_at"), report.get("finished_at"))
    if took:
        facts.insert(4, ("took", _esc(took)))
    meta = "".join(f"<span><b>{k}</b> {v}</span>" for k, v in facts if v != DASH)
    return (
        f"<header><h1>{title} {_badge(report)}</h1>"
        f'<p class="lead">{_esc(_sentence(report))}</p>'
        f"{_error_box(report)}{_check_failures(report)}{extra}{reason_list}"
        f'<p class="meta">{meta}</p></header>'
    )


# ------------------------------------------------------------------------------------------- signals
@dataclass(frozen=True)
class _Signal:
    """One retraining signal as the page draws it."""

    name: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    bound: float | None = None
    #: Which side of ``bound`` fires: ``<``, ``>`` or ``≥``.
    fires: str = "\u2265"
    fired: bool = False
    insufficient: bool = False
    failed: bool = False
    enabled: bool = True
    unit: bool = False
    note: str = ""


def _interval(ci: Any) -> tuple[float | None, float | None]:
    ci = _d(ci)
    return _float(ci.get("lower")), _float(ci.get("upper"))


def _performance(check: dict[str, Any]) -> _Signal | None:
    if check.get("failed"):
        return _Signal("performance on labels", failed=True, note=str(check.get("error") or ""))
    metric = check.get("metric")
    if not metric:
        return None
    low, high = _interval(_d(check.get("ci")).get(metric))
    value = check.get("value") if check.get("value") is not None else check.get(metric)
    notes = [f"n = {num(check.get('n'))}", f"label match {pct(check.get('match_rate'))}"]
    use = check.get("use")
    if use and use != "estimate":
        notes.append(f"judged on the CI {'lower' if use == 'ci_lower' else 'upper'} bound {num(check.get('judged'))}")
    if check.get("insufficient") and check.get("reason"):
        notes.append(str(check["reason"]))
    return _Signal(
        f"{metric} on labels",
        value=_float(value),
        low=low,
        high=high,
        bound=_float(check.get("bound")),
        fires=">" if metric in LOWER_IS_BETTER else "<",
        fired=bool(check.get("triggered")),
        insufficient=bool(check.get("insufficient")),
        enabled=check.get("enabled") is not False,
        unit=metric not in LOWER_IS_BETTER and metric not in {"r2"},
        note="; ".join(notes),
    )


def _estimated(check: dict[str, Any]) -> _Signal | None:
    if not check.get("enabled"):
        return None
    metric = check.get("metric") or "metric"
    low, high = _interval(_d(check.get("ci")).get(metric))
    notes = [f"n = {num(check.get('n'))}"]
    for key in ("note", "reason"):
        if check.get(key) and (key == "note" or check.get("insufficient")):
            notes.append(str(check[key]))
    return _Signal(
        f"estimated {metric} (no labels)",
        value=_float(check.get("value")),
        low=low,
        high=high,
        bound=_float(check.get("bound")),
        fires=">" if check.get("direction") == "max" else "<",
        fired=bool(check.get("triggered")),
        insufficient=bool(check.get("insufficient")) or check.get("available") is False,
        unit=True,
        note="; ".join(notes),
    )


def _flagged(check: dict[str, Any]) -> _Signal | None:
    if not check.get("enabled"):
        return None
    low, high = _interval(check.get("ci"))
    note = f"{num(check.get('count'))} of {num(check.get('n'))} predictions flagged"
    if check.get("min_count"):
        note += f"; fires only with \u2265 {num(check.get('min_count'))} flagged"
    if check.get("insufficient") and check.get("reason"):
        note += f"; {check['reason']}"
    return _Signal(
        "flagged rate",
        value=_float(check.get("rate")),
        low=low,
        high=high,
        bound=_float(check.get("max_rate")),
        fires=">",
        fired=bool(check.get("triggered")),
        insufficient=bool(check.get("insufficient")),
        unit=True,
        note=note,
    )


def _at_least(value: Any, bound: Any) -> bool:
    x, b = _float(value), _float(bound)
    return x is not None and b is not None and x >= b


def _drift_signals(check: dict[str, Any]) -> list[_Signal]:
    enabled = check.get("enabled") is not False
    if check.get("failed"):
        return [_Signal("data drift", failed=True, note=str(check.get("error") or ""))]
    insufficient = bool(check.get("insufficient"))
    note = f"{num(check.get('n_drifted'))} of {num(check.get('n_features'))} features drifted"
    critical = [str(c) for c in _list(check.get("critical_drifted"))]
    if critical:
        note += f"; critical drifted: {', '.join(critical)}"
    if insufficient and check.get("reason"):
        note = str(check["reason"])
    out = [
        _Signal(
            "data drift share",
            value=_float(check.get("share")),
            bound=_float(check.get("threshold_share")),
            fired=_at_least(check.get("share"), check.get("threshold_share")) or bool(critical),
            insufficient=insufficient,
            enabled=enabled,
            unit=True,
            note=note,
        )
    ]
    if _float(check.get("weighted_share")) is not None:
        out.append(
            _Signal(
                "importance-weighted drift share",
                value=_float(check.get("weighted_share")),
                bound=_float(check.get("importance_share")),
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


def _unavailable(name: str, result: dict[str, Any], unit: bool = False) -> _Signal:
    return _Signal(name, insufficient=True, unit=unit, note=str(result.get("reason") or "insufficient data"))


def _multivariate(check: dict[str, Any]) -> _Signal | None:
    result = _d(check.get("multivariate"))
    if not result:
        return None
    if result.get("insufficient"):
        return _unavailable("multivariate drift (domain classifier AUC)", result, unit=True)
    top = [str(_d(f).get("feature")) for f in _list(result.get("top_features"))[:3]]
    note = f"p = {p_value(result.get('p_value'))}; {num(result.get('folds'))}-fold CV"
    if top:
        note += f"; separated most by {', '.join(top)}"
    return _Signal(
        "multivariate drift (domain classifier AUC)",
        value=_float(result.get("auc")),
        bound=_float(result.get("threshold")),
        fired=bool(result.get("drifted")),
        unit=True,
        note=note,
    )


def _prediction(check: dict[str, Any]) -> _Signal | None:
    report = _d(check.get("prediction"))
    if not report:
        return None
    on = report.get("on") or "prediction"
    result = _d(report.get("result"))
    if report.get("insufficient") or not result:
        return _unavailable(f"{on} drift (effect)", report)
    return _Signal(
        f"{on} drift ({result.get('method')} effect)",
        value=_float(result.get("effect")),
        bound=_float(result.get("threshold")),
        fired=bool(report.get("drifted")),
        note=f"{result.get('test') or 'test'} p = {p_value(result.get('p_value'))}; "
        f"n = {num(report.get('n_reference'))} reference, {num(report.get('n_current'))} current",
    )


def _difference(check: dict[str, Any]) -> _Signal | None:
    result = _d(check.get("prediction_difference"))
    if not result:
        return None
    name = "champion vs candidate disagreement rate"
    if result.get("insufficient"):
        return _unavailable(name, result, unit=True)
    note = f"{num(result.get('n_different'))} of {num(result.get('n'))} rows differ"
    if result.get("champion_version") is not None and result.get("candidate_version") is not None:
        note += f" ({_version(result['champion_version'])} vs {_version(result['candidate_version'])})"
    return _Signal(
        name,
        value=_float(result.get("rate")),
        bound=_float(result.get("max_rate")),
        fired=bool(result.get("fired")),
        unit=True,
        note=note,
    )


def _signals(report: dict[str, Any]) -> list[_Signal]:
    """Every signal the run measured, in the page's order (labels, estimate, flags, then the drift check's)."""
    checks = _d(report.get("checks"))
    found: list[_Signal | None] = []
    if checks.get("metrics"):
        found.append(_performance(_d(checks["metrics"])))
    found.append(_estimated(_d(checks.get("estimated"))))
    found.append(_flagged(_d(checks.get("flagged"))))
    if checks.get("drift"):
        found.extend(_drift_signals(_d(checks["drift"])))
    return [s for s in found if s is not None]


def _status(signal: _Signal) -> str:
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


def _signal_svg(signal: _Signal) -> str:
    """A dot (the value) with its interval's whiskers, a dashed line at the bound and the firing side shaded."""
    points = [v for v in (signal.value, signal.low, signal.high, signal.bound) if v is not None]
    if not points:
        return ""
    width, left, right = 230.0, 8.0, 222.0
    lo, hi = _domain(points, signal.unit)

    def x(v: float) -> float:
        return left + (min(max(v, lo), hi) - lo) / (hi - lo) * (right - left)

    parts = [f'<line x1="{_c(left)}" y1="22" x2="{_c(right)}" y2="22" class="axis"/>']
    if signal.bound is not None:
        b = x(signal.bound)
        x0, x1 = (left, b) if signal.fires == "<" else (b, right)
        parts.append(f'<rect x="{_c(x0)}" y="3" width="{_c(x1 - x0)}" height="19" class="zone"/>')
        parts.append(f'<line x1="{_c(b)}" y1="1" x2="{_c(b)}" y2="25" class="bound"/>')
    if signal.low is not None and signal.high is not None:
        a, b = x(signal.low), x(signal.high)
        parts.append(f'<path d="M{_c(a)} 12H{_c(b)}M{_c(a)} 8V16M{_c(b)} 8V16" class="whisker"/>')
    if signal.value is not None:
        cls = "dot fired" if signal.fired else ("dot off" if signal.insufficient else "dot")
        parts.append(f'<circle cx="{_c(x(signal.value))}" cy="12" r="4.5" class="{cls}"/>')
    parts.append(f'<text x="{_c(left)}" y="33" class="tick">{num(lo, 3)}</text>')
    parts.append(f'<text x="{_c(right)}" y="33" class="tick end">{num(hi, 3)}</text>')
    title = f"{signal.name}: {num(signal.value)}"
    if signal.low is not None or signal.high is not None:
        title += f" [{num(signal.low)}, {num(signal.high)}]"
    if signal.bound is not None:
        title += f"; fires when {signal.fires} {num(signal.bound)}"
    return (
        f'<svg class="sig" viewBox="0 0 {_c(width)} 36" width="{_c(width)}" height="36" role="img">'
        f"<title>{_esc(title)}</title>{''.join(parts)}</svg>"
    )


def _signals_section(report: dict[str, Any]) -> str:
    found = _signals(report)
    if not found:
        return ""
    rows = []
    for s in found:
        interval = _span(s.low, s.high)
        bound = f"{s.fires} {num(s.bound)}" if s.bound is not None else ""
        note = f'<div class="small">{_esc(s.note)}</div>' if s.note else ""
        cls = "fired" if s.fired and not s.insufficient and not s.failed else ""
        rows.append(
            f'<tr class="{cls}"><th scope="row">{_esc(s.name)}{note}</th>'
            f'<td class="n">{num(s.value)}</td><td class="n">{interval}</td><td class="n">{_esc(bound)}</td>'
            f"<td>{_status(s)}</td><td>{_signal_svg(s)}</td></tr>"
        )
    headers = ["Signal", "Value", "Interval", "Fires when", "Status", "Value, interval and threshold"]
    return (
        '<section id="signals"><h2>Signals</h2>'
        '<p class="small">Dot: the value; whiskers: its confidence interval; dashed line: the threshold; '
        "shaded: the side where the signal fires.</p>"
        f"{_table(headers, rows, class_='signals')}</section>"
    )


# ------------------------------------------------------------------------------------------- drift
def _ratio(feature: dict[str, Any]) -> float | None:
    effect, threshold = _float(feature.get("effect")), _float(feature.get("threshold"))
    if effect is None or threshold is None or threshold <= 0:
        return None
    return max(effect / threshold, 0.0)


def _feature_order(features: dict[str, Any]) -> list[str]:
    """Feature names, drifted first, each group by drift effect, largest first (no effect: last)."""

    def key(name: str) -> tuple[bool, float, str]:
        feature = _d(features[name])
        effect = _float(feature.get("effect"))
        return (not feature.get("drifted"), -effect if effect is not None else math.inf, name)

    return sorted(features, key=key)


def _drift_chart(order: list[str], features: dict[str, Any]) -> str:
    """One bar (class ``drift-mark``) per feature: its effect over its threshold, on a square-root scale."""
    row = 16.0 if len(order) <= 40 else 12.0
    label_w, bar_x, bar_w = 190.0, 196.0, 400.0
    top = 14.0
    ratios = [_ratio(_d(features[n])) for n in order]
    largest = max([1.5, *(r for r in ratios if r is not None)])
    scale = bar_w / math.sqrt(largest)
    height = top + row * len(order) + 18
    marks: list[str] = []
    for i, (name, ratio) in enumerate(zip(order, ratios, strict=True)):
        feature = _d(features[name])
        y = top + i * row
        drifted = bool(feature.get("drifted"))
        length = max(math.sqrt(ratio) * scale, 1.0) if ratio is not None else 1.0
        label = name if len(name) <= 30 else f"{name[:29]}\u2026"
        verdict = "drifted" if drifted else "ok"
        title = (
            f"{name}: {feature.get('method') or 'effect'} {num(feature.get('effect'))} vs threshold "
            f"{num(feature.get('threshold'))} ({num(ratio, 3)}\u00d7), "
            f"p adj. {p_value(feature.get('p_value_adjusted'))}"
            f" \u2014 {verdict}{' (critical)' if feature.get('critical') else ''}"
        )
        marks.append(
            f'<text x="{_c(label_w)}" y="{_c(y + row * 0.72)}" class="lbl end">{_esc(label)}</text>'
            f'<rect class="drift-mark {verdict}" data-feature="{_esc(name)}" x="{_c(bar_x)}" y="{_c(y + 2)}"'
            f' width="{_c(length)}" height="{_c(row - 4)}"><title>{_esc(title)}</title></rect>'
            f'<text x="{_c(bar_x + bar_w + 8)}" y="{_c(y + row * 0.72)}" class="val">'
            f"{num(feature.get('effect'))} / {num(feature.get('threshold'))}</text>"
        )
    one = bar_x + scale
    axis_y = top + row * len(order)
    return (
        f'<svg class="drift-chart" viewBox="0 0 720 {_c(height)}" width="720" height="{_c(height)}" role="img" '
        f'aria-label="drift effect over threshold per feature"><title>Drift effect over threshold, one bar per '
        f"feature ({len(order)}), drifted first</title>"
        f'<text x="{_c(one)}" y="10" class="tick mid">threshold</text>'
        f"{''.join(marks)}"
        f'<line x1="{_c(one)}" y1="12" x2="{_c(one)}" y2="{_c(axis_y)}" class="bound"/>'
        f'<text x="{_c(bar_x)}" y="{_c(axis_y + 13)}" class="tick">0</text>'
        f'<text x="{_c(bar_x + bar_w)}" y="{_c(axis_y + 13)}" class="tick end">{num(largest, 3)}\u00d7 threshold '
        f"(square-root scale)</text></svg>"
    )


def _counts(values: Any, n: int) -> list[float] | None:
    items = _list(values)
    if len(items) != n or n == 0:
        return None
    counts = [max(_float(v) or 0.0, 0.0) for v in items]
    total = sum(counts)
    return [c / total for c in counts] if total else counts


def _numeric_svg(name: str, dist: dict[str, Any]) -> str | None:
    edges = [_float(e) for e in _list(dist.get("edges"))]
    n = len(edges) - 1
    ref, cur = _counts(dist.get("reference"), n), _counts(dist.get("current"), n)
    if n < 1 or ref is None or cur is None or any(e is None for e in edges):
        return None
    width, height = 150.0, 36.0
    top = max([*ref, *cur]) or 1.0
    step = width / n

    def y(share: float) -> float:
        return height - 1 - share / top * (height - 4)

    area = f"M0 {_c(height)}" + "".join(f"V{_c(y(s))}H{_c((i + 1) * step)}" for i, s in enumerate(ref)) + "VZ"
    area = area.replace("VZ", f"V{_c(height)}Z")
    line = f"M0 {_c(y(cur[0]))}" + "".join(
        (f"V{_c(y(s))}" if i else "") + f"H{_c((i + 1) * step)}" for i, s in enumerate(cur)
    )
    title = (
        f"{name}: reference (gray area) vs current (line), share per bin from {num(edges[0])} to {num(edges[-1])}; "
        f"missing {pct(dist.get('missing_reference'))} {ARROW} {pct(dist.get('missing_current'))}"
    )
    return (
        f'<svg class="dist" viewBox="0 0 150 36" width="150" height="36" role="img"><title>{_esc(title)}</title>'
        f'<path d="{area}" class="ref"/><path d="{line}" class="cur"/></svg>'
        f'<div class="tiny">{num(edges[0])} {DASH} {num(edges[-1])}</div>'
    )


def _categorical_svg(name: str, dist: dict[str, Any]) -> str | None:
    categories = [str(c) for c in _list(dist.get("categories"))]
    n = len(categories)
    ref, cur = _counts(dist.get("reference"), n), _counts(dist.get("current"), n)
    if ref is None or cur is None:
        return None
    width, height = 150.0, 36.0
    top = max([*ref, *cur]) or 1.0
    slot = width / n
    bar = max(min(slot * 0.4, 8.0), 0.5)

    def bars(shares: list[float], offset: float) -> str:
        out = []
        for i, share in enumerate(shares):
            h = share / top * (height - 4)
            out.append(f"M{_c(i * slot + offset)} {_c(height)}v{_c(-h)}h{_c(bar)}v{_c(h)}z")
        return "".join(out)

    shares = "; ".join(f"{c} {pct(r)} {ARROW} {pct(k)}" for c, r, k in zip(categories, ref, cur, strict=True))
    title = f"{name}: share per category, reference {ARROW} current: {shares}"
    first = max((slot - 2 * bar) / 2, 0.0)
    return (
        f'<svg class="dist" viewBox="0 0 150 36" width="150" height="36" role="img"><title>{_esc(title)}</title>'
        f'<path d="{bars(ref, first)}" class="ref bars"/><path d="{bars(cur, first + bar)}" class="cur bars"/></svg>'
        f'<div class="tiny">{n} {"category" if n == 1 else "categories"}</div>'
    )


def _distribution(name: str, dist: Any) -> str:
    dist = _d(dist)
    drawn = None
    if dist.get("kind") == "numeric":
        drawn = _numeric_svg(name, dist)
    elif dist.get("kind") == "categorical":
        drawn = _categorical_svg(name, dist)
    return drawn or '<span class="muted">no distribution</span>'


def _verdict(feature: dict[str, Any]) -> str:
    parts = []
    if feature.get("drifted"):
        parts.append('<span class="status s-fired">drifted</span>')
    else:
        parts.append('<span class="status s-ok">ok</span>')
    if feature.get("missing_drifted"):
        parts.append(f'<div class="small">missing rate drifted (p {p_value(feature.get("missing_p_value"))})</div>')
    if feature.get("note"):
        parts.append(f'<div class="small">note: {_esc(feature["note"])}</div>')
    return "".join(parts)


def _feature_row(name: str, feature: dict[str, Any], dist: Any) -> str:
    tags = []
    if _float(feature.get("importance")) is not None:
        tags.append(f"importance {num(feature.get('importance'), 3)}")
    if feature.get("critical"):
        tags.append("critical")
    small = f'<div class="small">{" · ".join(tags)}</div>' if tags else ""
    method = _esc(feature.get("method") or "")
    p_raw = f"raw p {p_value(feature.get('p_value'))}"
    cls = "drifted" if feature.get("drifted") else "ok"
    return (
        f'<tr class="{cls}"><th scope="row" class="feat">{_esc(name)}{small}</th>'
        f"<td>{_esc(feature.get('kind') or DASH)}</td><td>{_esc(feature.get('test') or DASH)}</td>"
        f'<td class="n">{num(feature.get("statistic"))}</td>'
        f'<td class="n" title="{p_raw}">{p_value(feature.get("p_value_adjusted"))}</td>'
        f'<td class="n">{method} {num(feature.get("effect"))} / {num(feature.get("threshold"))}</td>'
        f'<td class="n">{pct(feature.get("missing_reference"))} {ARROW} {pct(feature.get("missing_current"))}</td>'
        f"<td>{_verdict(feature)}</td><td>{_distribution(name, dist)}</td></tr>"
    )


def _drift_notes(check: dict[str, Any]) -> str:
    notes = []
    schema = [str(c) for c in _list(check.get("schema_drifted"))]
    if schema:
        notes.append(f"<li><strong>Schema drift:</strong> {_esc(', '.join(schema))}</li>")
    omitted = check.get("features_omitted")
    if omitted:
        notes.append(
            f"<li>{_esc(num(omitted))} more features were left out of this report to keep it small "
            "(the least drifted ones).</li>"
        )
    for finding in _list(check.get("findings")):
        finding = _d(finding)
        kind = str(finding.get("kind") or "finding").replace("_", " ")
        strong = " (counts as drift)" if finding.get("drift") else ""
        notes.append(f"<li><strong>{_esc(kind)}</strong>{strong}: {_esc(finding.get('message'))}</li>")
    return f'<ul class="notes">{"".join(notes)}</ul>' if notes else ""


def _drift_section(report: dict[str, Any]) -> str:
    check = _d(_d(report.get("checks")).get("drift"))
    if not check:
        return ""
    if check.get("failed"):
        return (
            '<section id="drift"><h2>Drift</h2>'
            f'<p class="warn">The drift check failed: {_esc(check.get("error"))}</p></section>'
        )
    features = {str(k): _d(v) for k, v in _d(check.get("features")).items()}
    distributions = _d(report.get("distributions"))
    order = _feature_order(features)
    summary = (
        f"{num(check.get('n_drifted'))} of {num(check.get('n_features'))} features drifted "
        f"(share {num(check.get('share'))}, fires at \u2265 {num(check.get('threshold_share'))}); "
        f"p-values adjusted ({_esc(check.get('correction') or DASH)}) at \u03b1 = {num(check.get('p_value'))}; "
        f"{num(check.get('n_reference'))} reference rows ({_esc(check.get('profile') or 'profile')}) "
        f"vs {num(check.get('n_current'))} current."
    )
    if not order:
        body = '<p class="muted">No feature was compared.</p>'
    else:
        rows = [_feature_row(name, features[name], distributions.get(name)) for name in order]
        headers = [
            "Feature",
            "Kind",
            "Test",
            "Statistic",
            "p (adj.)",
            "Effect / threshold",
            "Missing ref " + ARROW + " cur",
            "Verdict",
            'Distribution <span class="key"><i class="k-ref"></i>ref <i class="k-cur"></i>cur</span>',
        ]
        body = (
            '<p class="legend"><i class="k-drifted"></i>drifted <i class="k-ok"></i>ok '
            "\u2014 bar length: effect over its threshold.</p>"
            f"{_drift_chart(order, features)}{_table(headers, rows, class_='features')}"
        )
    return f'<section id="drift"><h2>Drift</h2><p>{summary}</p>{_drift_notes(check)}{body}</section>'


# ------------------------------------------------------------------------------------------- gates
def _gates_section(report: dict[str, Any]) -> str:
    gates = [_d(g) for g in _list(report.get("gates"))]
    if not gates:
        return ""
    rows = []
    for gate in gates:
        passed = gate.get("passed")
        status = '<span class="status s-ok">pass</span>' if passed else '<span class="status s-fired">FAIL</span>'
        low, high = _float(gate.get("low")), _float(gate.get("high"))
        interval = _span(low, high)
        rows.append(
            f'<tr class="{"ok" if passed else "fired"}"><th scope="row">{_esc(gate.get("name"))}</th>'
            f"<td>{status}</td>"
            f'<td class="n">{num(gate.get("value"))}</td><td class="n">{num(gate.get("limit"))}</td>'
            f'<td class="n">{interval}</td><td>{_esc(gate.get("detail") or "")}</td></tr>'
        )
    failed = sum(1 for g in gates if not g.get("passed"))
    summary = f"{_plural(len(gates), 'gate')}, {failed} failed." if failed else f"All {len(gates)} gates passed."
    headers = ["Gate", "Passed", "Value", "Limit", "Interval", "Detail"]
    return f'<section id="gates"><h2>Validation gates</h2><p>{summary}</p>{_table(headers, rows)}</section>'


# ------------------------------------------------------------------------------------------- models
def _verdict_of(metric: str, diff: float | None) -> str:
    if diff is None or diff == 0:
        return ""
    better = diff < 0 if metric in LOWER_IS_BETTER else diff > 0
    return "better" if better else "worse"


def _comparison(report: dict[str, Any]) -> str:
    champion, candidate = _d(report.get("champion")), _d(report.get("candidate"))
    old, new = _d(champion.get("metrics")), _d(candidate.get("metrics"))
    if not old and not new:
        return ""
    names = list(dict.fromkeys([*new, *old]))
    rows = []
    for name in names:
        a, b = _float(old.get(name)), _float(new.get(name))
        diff = b - a if a is not None and b is not None else None
        verdict = _verdict_of(name, diff)
        rows.append(
            f'<tr><th scope="row">{_esc(name)}</th><td class="n">{num(old.get(name))}</td>'
            f'<td class="n">{num(new.get(name))}</td><td class="n">{signed(diff)}</td>'
            f'<td class="{"s-better" if verdict == "better" else "muted"}">{verdict}</td></tr>'
        )
    headers = [
        f"Metric (holdout of {num(_d(report.get('snapshot')).get('holdout_rows'))} rows)",
        f"Champion {_esc(_version(champion.get('version')))}",
        f"Candidate {_esc(_version(candidate.get('version')))}",
        "Candidate \u2212 champion",
        "",
    ]
    return _table(headers, rows, class_="compare")


def _window(report: dict[str, Any]) -> str:
    checks = _d(report.get("checks"))
    realized = _d(checks.get("metrics"))
    estimated = _d(checks.get("estimated"))
    if realized.get("failed"):
        realized = {}
    names = [
        k for k, v in realized.items() if k not in _CHECK_KEYS and _float(v) is not None and not isinstance(v, bool)
    ]
    est = _d(estimated.get("metrics")) if estimated.get("available") is not False else {}
    names += [k for k in est if k not in names]
    if not names:
        return ""
    ci, est_ci = _d(realized.get("ci")), _d(estimated.get("ci"))
    rows = []
    for name in names:
        lo, hi = _interval(ci.get(name))
        elo, ehi = _interval(est_ci.get(name))
        rows.append(
            f'<tr><th scope="row">{_esc(name)}</th><td class="n">{num(realized.get(name))}</td>'
            f'<td class="n">{_span(lo, hi)}</td><td class="n">{num(est.get(name))}</td>'
            f'<td class="n">{_span(elo, ehi)}</td></tr>'
        )
    unavailable = _d(realized.get("unavailable"))
    note = "".join(f"<li>{_esc(k)}: {_esc(v)}</li>" for k, v in unavailable.items())
    confidence = pct(realized.get("confidence") or estimated.get("confidence"))
    headers = [
        "Metric",
        f"On labels (n = {num(realized.get('n'))})",
        f"{confidence} CI",
        f"Estimated without labels (n = {num(estimated.get('n'))})",
        f"{confidence} CI",
    ]
    return f"<h3>The champion on the monitoring window</h3>{_table(headers, rows, class_='window')}" + (
        f'<ul class="notes small">{note}</ul>' if note else ""
    )


def _models_section(report: dict[str, Any]) -> str:
    comparison, window = _comparison(report), _window(report)
    if not comparison and not window:
        return ""
    head = "<h3>On the same holdout</h3>" if comparison else ""
    return f'<section id="models"><h2>Champion vs candidate</h2>{head}{comparison}{window}</section>'


# ------------------------------------------------------------------------------------------- lineage
def _facts(pairs: list[tuple[str, Any]]) -> str:
    items = []
    for key, value in pairs:
        if value is None or value == "" or value == {}:
            continue
        text = num(value) if isinstance(value, int | float) and not isinstance(value, bool) else _esc(value)
        items.append(f"<dt>{_esc(key)}</dt><dd>{text}</dd>")
    return f'<dl class="facts">{"".join(items)}</dl>' if items else ""


def _before_after(report: dict[str, Any]) -> str | None:
    before, after = _d(report.get("champion")).get("version"), report.get("champion_version")
    return None if before is None and after is None else f"{_version(before)} / {_version(after)}"


def _lineage_section(report: dict[str, Any]) -> str:
    snapshot, candidate = _d(report.get("snapshot")), _d(report.get("candidate"))
    lineage, uris = _d(report.get("lineage")), _d(report.get("report"))
    libraries = _d(lineage.get("libraries"))
    reconcile = _d(report.get("reconcile"))
    repaired = [
        f"parameter {reconcile.get('parameter')}" if reconcile.get("parameter") not in (None, "in-sync") else "",
        f"failed versions {reconcile.get('failed_versions')}" if reconcile.get("failed_versions") else "",
    ]
    pairs: list[tuple[str, Any]] = [
        ("snapshot", snapshot.get("id")),
        ("snapshot rows", snapshot.get("rows")),
        (
            "train / holdout rows",
            f"{num(snapshot.get('train_rows'))} / {num(snapshot.get('holdout_rows'))}" if snapshot else None,
        ),
        ("snapshot manifest", snapshot.get("manifest_uri") or lineage.get("snapshot_manifest")),
        ("candidate", _version(candidate.get("version")) if candidate else None),
        ("candidate artifact", candidate.get("artifact_uri") or lineage.get("artifact_uri")),
        ("candidate sha256", candidate.get("sha256") or lineage.get("sha256")),
        ("candidate status", lineage.get("status")),
        ("config sha256", lineage.get("config_sha256")),
        ("estimator", lineage.get("estimator")),
        ("libraries", " \u00b7 ".join(f"{k} {v}" for k, v in libraries.items()) or None),
        ("trained rows", lineage.get("trained_rows")),
        ("created", _when(lineage.get("created_at")) if lineage.get("created_at") else None),
        ("trigger", report.get("trigger")),
        ("execution", report.get("execution")),
        ("execution ARN", report.get("execution_arn")),
        ("status", report.get("status")),
        ("started", _when(report.get("started_at")) if report.get("started_at") else None),
        ("finished", _when(report.get("finished_at")) if report.get("finished_at") else None),
        ("champion before / after", _before_after(report)),
        ("reconcile", "; ".join(r for r in repaired if r) or None),
        ("distributions", _d(_d(report.get("checks")).get("drift")).get("distributions_uri")),
        ("report JSON", uris.get("json_uri")),
        ("report HTML", uris.get("html_uri")),
    ]
    return f'<section id="lineage"><h2>Lineage</h2>{_facts(pairs)}</section>'


# ------------------------------------------------------------------------------------------- page
_CSS = """
:root{color-scheme:light}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;
background:#fff;margin:0 auto;max-width:1180px;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 6px;display:flex;align-items:center;gap:12px;flex-wrap:wrap;word-break:break-word}
h2{font-size:17px;margin:30px 0 8px;padding-bottom:4px;border-bottom:1px solid #d0d7de}
h3{font-size:14px;margin:18px 0 6px}
header{border-bottom:2px solid #1f2328;padding-bottom:12px}
.lead{font-size:17px;margin:6px 0 10px;max-width:70em}
.meta{color:#656d76;font-size:12.5px;display:flex;flex-wrap:wrap;gap:4px 18px;margin:8px 0 0}
.meta b{font-weight:600;color:#1f2328}
.badge{font-size:13px;font-weight:700;letter-spacing:.03em;text-transform:uppercase;padding:3px 10px;
border-radius:4px;border:1.5px solid currentColor;background:#f6f8fa;color:#57606a}
.b-promoted{background:#1a7f37;border-color:#1a7f37;color:#fff}
.b-rejected{background:#9a6700;border-color:#9a6700;color:#fff}
.b-failed{background:#b42318;border-color:#b42318;color:#fff}
.b-insufficient-data,.b-cooldown{background:#fff8c5;color:#6b4e00}
.error{border:2px solid #b42318;background:#fff5f4;padding:8px 14px;margin:10px 0;border-radius:4px}
.error p{margin:0 0 4px;color:#b42318;font-size:16px}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}
.warn{color:#8a1f11}
.note,.notes{color:#1f2328}
.reasons summary{cursor:pointer;color:#656d76}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{text-align:left;vertical-align:middle;padding:4px 8px;border-bottom:1px solid #e4e7eb}
thead th{font-weight:600;color:#57606a;border-bottom:1.5px solid #8c959f;font-size:12px;vertical-align:bottom}
tbody th{font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.feat{overflow-wrap:anywhere;min-width:9em;max-width:16em}
.small{font-size:11.5px;color:#656d76;font-weight:400}
.tiny{font-size:10px;color:#656d76}
.muted{color:#8c959f}
.status{font-weight:700;font-size:12px;padding:1px 6px;border-radius:3px;white-space:nowrap}
.s-fired,.s-failed{background:#b42318;color:#fff}
.s-ok{color:#57606a;border:1px solid #c4cad3}
.s-insufficient{color:#6b4e00;border:1px dashed #9a6700}
.s-better{color:#1a7f37;font-weight:600}
tr.fired th,tr.drifted th{border-left:4px solid #b42318}
tr.ok th{border-left:4px solid transparent}
svg{display:block;overflow:visible}
svg text{font:10px system-ui,sans-serif;fill:#57606a}
svg .end{text-anchor:end}svg .mid{text-anchor:middle}
svg .lbl{fill:#1f2328;font-size:11px}
svg .val{font-size:10px}
.axis{stroke:#8c959f;stroke-width:1}
.bound{stroke:#1f2328;stroke-width:1.5;stroke-dasharray:3 2}
.zone{fill:#eef0f3}
.whisker{stroke:#1f2328;stroke-width:1.5;fill:none}
.dot{fill:#57606a;stroke:#fff;stroke-width:1}
.dot.fired{fill:#b42318}
.dot.off{fill:#fff;stroke:#57606a;stroke-width:1.5}
.drift-mark.drifted{fill:#b42318}
.drift-mark.ok{fill:#c4cad3}
.ref{fill:#c4cad3;stroke:none}
.cur{fill:none;stroke:#1d4f91;stroke-width:1.5}
.cur.bars{fill:#1d4f91;stroke:none}
.legend,.key{font-size:12px;color:#57606a}
.legend i,.key i{display:inline-block;width:10px;height:10px;margin:0 3px 0 8px;vertical-align:-1px}
.k-drifted{background:#b42318}.k-ok,.k-ref{background:#c4cad3}.k-cur{background:#1d4f91}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;font-size:13px}
.facts dt{color:#656d76}
.facts dd{margin:0;word-break:break-all;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
footer{margin-top:32px;color:#8c959f;font-size:11px}
@media print{body{max-width:none;padding:0;font-size:11px}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
h2{break-after:avoid}tr,svg{break-inside:avoid}details{display:none}}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _guarded(section: Callable[[dict[str, Any]], str], report: dict[str, Any]) -> str:
    """A section's HTML; a short note instead when the report holds something it cannot draw."""
    try:
        return section(report)
    except Exception as exc:  # the report must be written whatever it holds; report.json stays complete
        _log.exception("report page: section %s failed", section.__name__)
        return f'<p class="warn">This part of the report could not be drawn ({_esc(type(exc).__name__)}).</p>'


def render(report: dict[str, Any]) -> str:
    """The run's report as one self-contained HTML document (UTF-8 text).

    Parameters
    ----------
    report
        The run's ``report.json`` dict (:mod:`retrain.result`); any field may be
        missing or null, as on a failed or refused run.

    Returns
    -------
    str
        The page: headline, signals, drift, gates, champion vs candidate,
        lineage. It references no external resource and runs no script. Never
        raises for a dict: a section that cannot be drawn is replaced by a note.
    """
    report = _d(report)
    model = _model(report) or "retraining run"
    outcome = report.get("outcome") or "unknown"
    sections = [
        _guarded(fn, report)
        for fn in (_header, _signals_section, _drift_section, _gates_section, _models_section, _lineage_section)
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_esc(model)}: {_esc(outcome)} \u2014 retraining report</title>"
        f"<style>{_CSS}</style></head><body>"
        + "".join(sections)
        + "<footer>retraining report \u00b7 generated from report.json</footer></body></html>\n"
    )
