"""The report page: one run's ``report.json`` as a self-contained HTML document.

:func:`render` turns the report dict (:mod:`retrain.result`'s contract plus
``model``, ``execution``, ``started_at``, ``finished_at``, ``report`` and
``distributions``) into one HTML page a person reads in ten seconds: the
outcome and why (headline), the signals against their thresholds, which
features drifted and how (a chart with one mark per feature, then a table with
each feature's reference and current distribution), the validation gates,
champion against candidate, and the lineage. A report written before the
signal results' fields were named ``fired`` and ``threshold`` is read through
:func:`retrain.result.upgrade`.

The parts: :mod:`retrain.report_text` (numbers, times, escaping),
:mod:`retrain.report_signals` (the signals table and its charts),
:mod:`retrain.report_drift` (the drift chart and the features' table); the
headline, gates, models, lineage and the page itself are here.

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

import logging
import re
from collections.abc import Callable
from typing import Any

from retrain.report_drift import drift_section
from retrain.report_signals import LOWER_IS_BETTER, measured_signals, signals_section
from retrain.report_text import (
    DASH,
    and_join,
    as_dict,
    as_float,
    as_list,
    ci_ends,
    duration_text,
    esc,
    html_table,
    interval_text,
    num,
    p_value,
    pct,
    plural,
    signed,
    version_text,
    when_text,
)
from retrain.result import OUTCOMES, upgrade

__all__ = ["num", "p_value", "pct", "render", "signed"]

_log = logging.getLogger(__name__)

#: Keys of ``checks.metrics`` that describe the check, not a metric of the champion.
_CHECK_KEYS = frozenset(
    {"n", "match_rate", "threshold", "value", "statistic", "confidence", "n_predictions", "failed", "fired"}
)
_TRIGGERS = {"schedule": "Schedule", "alarm": "Alarm", "manual": "Manual"}


# ------------------------------------------------------------------------------------------- headline
def _model(report: dict[str, Any]) -> str | None:
    model = report.get("model") or as_dict(report.get("reconcile")).get("model")
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
        out.append(f"{plural(more, 'more signal')} (below)")
    return out


def _failed_gates(report: dict[str, Any]) -> list[str]:
    out = []
    for gate in as_list(report.get("gates")):
        gate = as_dict(gate)
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
    why = _short_reasons(as_list(report.get("reasons")))
    candidate = as_dict(report.get("candidate")).get("version")
    old = as_dict(report.get("champion")).get("version")
    failed = _failed_gates(report)
    fields = {
        "prefix": f"{label} run of {model}" if label else f"Run of {model}",
        "model": model,
        "because": f" because {and_join(why)}" if why else "",
        "due": f" ({and_join(why)})" if why else "",
        "candidate": version_text(candidate),
        "over": f"over {version_text(old)}" if old is not None and old != candidate else "as the first champion",
        "gates": f" (failed: {and_join(failed)})" if failed else "",
        "now": version_text(report.get("champion_version")),
        "kind": _error_parts(report)[0],
        "doing": f" while retraining because {and_join(why)}" if why and report.get("triggered") else "",
    }
    fields["passed"] = _passed(report)
    unjudged = [s.name for s in measured_signals(report) if s.insufficient and s.enabled]
    fields["unjudged"] = f" ({len(unjudged)} without enough data: {and_join(unjudged)})" if unjudged else ""
    fields["outcome"] = str(report.get("outcome"))
    return _SENTENCES.get(fields["outcome"], "{prefix}: outcome {outcome}.").format(**fields)


def _passed(report: dict[str, Any]) -> str:
    """Why a candidate was promoted: the gates it passed, with the comparison against the champion if made."""
    gates = [as_dict(g) for g in as_list(report.get("gates"))]
    if not gates or not all(g.get("passed") for g in gates):
        return ""
    versus = next((g for g in gates if g.get("name") == "vs champion" and g.get("detail")), None)
    passed = f", passing all {len(gates)} gates" if len(gates) > 1 else ", passing its gate"
    return passed + (f" ({versus['detail']})" if versus else "")


def _badge(report: dict[str, Any]) -> str:
    outcome = str(report.get("outcome") or "unknown")
    cls = outcome if outcome in OUTCOMES else "other"
    text = "refused" if report.get("invalid_input") else outcome
    return f'<span class="badge b-{cls}">{esc(text)}</span>'


def _error_box(report: dict[str, Any]) -> str:
    if not (report.get("error") or report.get("error_type")):
        return ""
    kind, message = _error_parts(report)
    title = "Inputs refused" if report.get("invalid_input") else "Run failed"
    return (
        f'<div class="error" role="alert"><p><strong>{title}: {esc(kind)}</strong></p><pre>{esc(message)}</pre></div>'
    )


def _check_failures(report: dict[str, Any]) -> str:
    items = []
    for name, check in as_dict(report.get("checks")).items():
        check = as_dict(check)
        if check.get("failed"):
            items.append(f"<li><strong>{esc(name)} check failed:</strong> {esc(check.get('error'))}</li>")
    return f'<ul class="warn">{"".join(items)}</ul>' if items else ""


def _header(report: dict[str, Any]) -> str:
    model = _model(report)
    title = esc(model) if model else "Retraining run"
    reasons = [str(r) for r in as_list(report.get("reasons"))]
    reason_list = (
        f'<details class="reasons"><summary>{plural(len(reasons), "reason")} in full</summary><ul>'
        + "".join(f"<li>{esc(r)}</li>" for r in reasons)
        + "</ul></details>"
        if reasons
        else ""
    )
    insufficient = report.get("insufficient")
    extra = f'<p class="note">Training data: {esc(insufficient)}</p>' if insufficient else ""
    facts = [
        ("trigger", esc(report.get("trigger") or DASH)),
        ("execution", esc(report.get("execution") or DASH)),
        ("started", esc(when_text(report.get("started_at")))),
        ("finished", esc(when_text(report.get("finished_at")))),
        ("champion now", esc(version_text(report.get("champion_version")))),
    ]
    took = duration_text(report.get("started_at"), report.get("finished_at"))
    if took:
        facts.insert(4, ("took", esc(took)))
    meta = "".join(f"<span><b>{k}</b> {v}</span>" for k, v in facts if v != DASH)
    return (
        f"<header><h1>{title} {_badge(report)}</h1>"
        f'<p class="lead">{esc(_sentence(report))}</p>'
        f"{_error_box(report)}{_check_failures(report)}{extra}{reason_list}"
        f'<p class="meta">{meta}</p></header>'
    )


# ------------------------------------------------------------------------------------------- gates
def _gates_section(report: dict[str, Any]) -> str:
    gates = [as_dict(g) for g in as_list(report.get("gates"))]
    if not gates:
        return ""
    rows = []
    for gate in gates:
        passed = gate.get("passed")
        status = '<span class="status s-ok">pass</span>' if passed else '<span class="status s-fired">FAIL</span>'
        low, high = as_float(gate.get("low")), as_float(gate.get("high"))
        interval = interval_text(low, high)
        rows.append(
            f'<tr class="{"ok" if passed else "fired"}"><th scope="row">{esc(gate.get("name"))}</th>'
            f"<td>{status}</td>"
            f'<td class="n">{num(gate.get("value"))}</td><td class="n">{num(gate.get("threshold"))}</td>'
            f'<td class="n">{interval}</td><td>{esc(gate.get("detail") or "")}</td></tr>'
        )
    failed = sum(1 for g in gates if not g.get("passed"))
    summary = f"{plural(len(gates), 'gate')}, {failed} failed." if failed else f"All {len(gates)} gates passed."
    headers = ["Gate", "Passed", "Value", "Threshold", "Interval", "Detail"]
    return f'<section id="gates"><h2>Validation gates</h2><p>{summary}</p>{html_table(headers, rows)}</section>'


# ------------------------------------------------------------------------------------------- models
def _verdict_of(metric: str, diff: float | None) -> str:
    if diff is None or diff == 0:
        return ""
    better = diff < 0 if metric in LOWER_IS_BETTER else diff > 0
    return "better" if better else "worse"


def _comparison(report: dict[str, Any]) -> str:
    champion, candidate = as_dict(report.get("champion")), as_dict(report.get("candidate"))
    old, new = as_dict(champion.get("metrics")), as_dict(candidate.get("metrics"))
    if not old and not new:
        return ""
    names = list(dict.fromkeys([*new, *old]))
    rows = []
    for name in names:
        a, b = as_float(old.get(name)), as_float(new.get(name))
        diff = b - a if a is not None and b is not None else None
        verdict = _verdict_of(name, diff)
        rows.append(
            f'<tr><th scope="row">{esc(name)}</th><td class="n">{num(old.get(name))}</td>'
            f'<td class="n">{num(new.get(name))}</td><td class="n">{signed(diff)}</td>'
            f'<td class="{"s-better" if verdict == "better" else "muted"}">{verdict}</td></tr>'
        )
    headers = [
        f"Metric (holdout of {num(as_dict(report.get('snapshot')).get('holdout_rows'))} rows)",
        f"Champion {esc(version_text(champion.get('version')))}",
        f"Candidate {esc(version_text(candidate.get('version')))}",
        "Candidate \u2212 champion",
        "",
    ]
    return html_table(headers, rows, class_="compare")


def _window(report: dict[str, Any]) -> str:
    checks = as_dict(report.get("checks"))
    realized = as_dict(checks.get("metrics"))
    estimated = as_dict(checks.get("estimated"))
    if realized.get("failed"):
        realized = {}
    names = [
        k for k, v in realized.items() if k not in _CHECK_KEYS and as_float(v) is not None and not isinstance(v, bool)
    ]
    est = as_dict(estimated.get("metrics")) if estimated.get("available") is not False else {}
    names += [k for k in est if k not in names]
    if not names:
        return ""
    ci, est_ci = as_dict(realized.get("ci")), as_dict(estimated.get("ci"))
    rows = []
    for name in names:
        lo, hi = ci_ends(ci.get(name))
        elo, ehi = ci_ends(est_ci.get(name))
        rows.append(
            f'<tr><th scope="row">{esc(name)}</th><td class="n">{num(realized.get(name))}</td>'
            f'<td class="n">{interval_text(lo, hi)}</td><td class="n">{num(est.get(name))}</td>'
            f'<td class="n">{interval_text(elo, ehi)}</td></tr>'
        )
    unavailable = as_dict(realized.get("unavailable"))
    note = "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in unavailable.items())
    confidence = pct(realized.get("confidence") or estimated.get("confidence"))
    headers = [
        "Metric",
        f"On labels (n = {num(realized.get('n'))})",
        f"{confidence} CI",
        f"Estimated without labels (n = {num(estimated.get('n'))})",
        f"{confidence} CI",
    ]
    return f"<h3>The champion on the monitoring window</h3>{html_table(headers, rows, class_='window')}" + (
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
        text = num(value) if isinstance(value, int | float) and not isinstance(value, bool) else esc(value)
        items.append(f"<dt>{esc(key)}</dt><dd>{text}</dd>")
    return f'<dl class="facts">{"".join(items)}</dl>' if items else ""


def _before_after(report: dict[str, Any]) -> str | None:
    before, after = as_dict(report.get("champion")).get("version"), report.get("champion_version")
    return None if before is None and after is None else f"{version_text(before)} / {version_text(after)}"


def _lineage_section(report: dict[str, Any]) -> str:
    snapshot, candidate = as_dict(report.get("snapshot")), as_dict(report.get("candidate"))
    lineage, uris = as_dict(report.get("lineage")), as_dict(report.get("report"))
    libraries = as_dict(lineage.get("libraries"))
    reconcile = as_dict(report.get("reconcile"))
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
        ("candidate", version_text(candidate.get("version")) if candidate else None),
        ("candidate artifact", candidate.get("artifact_uri") or lineage.get("artifact_uri")),
        ("candidate sha256", candidate.get("sha256") or lineage.get("sha256")),
        ("candidate status", lineage.get("status")),
        ("config sha256", lineage.get("config_sha256")),
        ("estimator", lineage.get("estimator")),
        ("libraries", " \u00b7 ".join(f"{k} {v}" for k, v in libraries.items()) or None),
        ("trained rows", lineage.get("trained_rows")),
        ("created", when_text(lineage.get("created_at")) if lineage.get("created_at") else None),
        ("trigger", report.get("trigger")),
        ("execution", report.get("execution")),
        ("execution ARN", report.get("execution_arn")),
        ("status", report.get("status")),
        ("started", when_text(report.get("started_at")) if report.get("started_at") else None),
        ("finished", when_text(report.get("finished_at")) if report.get("finished_at") else None),
        ("champion before / after", _before_after(report)),
        ("reconcile", "; ".join(r for r in repaired if r) or None),
        ("distributions", as_dict(as_dict(report.get("checks")).get("drift")).get("distributions_uri")),
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
        return f'<p class="warn">This part of the report could not be drawn ({esc(type(exc).__name__)}).</p>'


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
    report = upgrade(as_dict(report))
    model = _model(report) or "retraining run"
    outcome = report.get("outcome") or "unknown"
    sections = [
        _guarded(fn, report)
        for fn in (_header, signals_section, drift_section, _gates_section, _models_section, _lineage_section)
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(model)}: {esc(outcome)} \u2014 retraining report</title>"
        f"<style>{_CSS}</style></head><body>"
        + "".join(sections)
        + "<footer>retraining report \u00b7 generated from report.json</footer></body></html>\n"
    )
