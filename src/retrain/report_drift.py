"""The report page's drift section (:mod:`retrain.report_page`): which features drifted and how.

A chart with one bar per feature (its effect over its threshold), then a table
with each feature's test, effect, missing rates, verdict and its reference and
current distributions drawn inline.
"""

from __future__ import annotations

import math
from typing import Any

from retrain.report_text import (
    ARROW,
    DASH,
    as_dict,
    as_float,
    as_list,
    coord,
    esc,
    html_table,
    num,
    p_value,
    pct,
)


def _ratio(feature: dict[str, Any]) -> float | None:
    effect, threshold = as_float(feature.get("effect")), as_float(feature.get("threshold"))
    if effect is None or threshold is None or threshold <= 0:
        return None
    return max(effect / threshold, 0.0)


def _feature_order(features: dict[str, Any]) -> list[str]:
    """Feature names, drifted first, each group by drift effect, largest first (no effect: last)."""

    def key(name: str) -> tuple[bool, float, str]:
        feature = as_dict(features[name])
        effect = as_float(feature.get("effect"))
        return (not feature.get("fired"), -effect if effect is not None else math.inf, name)

    return sorted(features, key=key)


def _drift_chart(order: list[str], features: dict[str, Any]) -> str:
    """One bar (class ``drift-mark``) per feature: its effect over its threshold, on a square-root scale."""
    row = 16.0 if len(order) <= 40 else 12.0
    label_w, bar_x, bar_w = 190.0, 196.0, 400.0
    top = 14.0
    ratios = [_ratio(as_dict(features[n])) for n in order]
    largest = max([1.5, *(r for r in ratios if r is not None)])
    scale = bar_w / math.sqrt(largest)
    height = top + row * len(order) + 18
    marks: list[str] = []
    for i, (name, ratio) in enumerate(zip(order, ratios, strict=True)):
        feature = as_dict(features[name])
        y = top + i * row
        drifted = bool(feature.get("fired"))
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
            f'<text x="{coord(label_w)}" y="{coord(y + row * 0.72)}" class="lbl end">{esc(label)}</text>'
            f'<rect class="drift-mark {verdict}" data-feature="{esc(name)}" x="{coord(bar_x)}" y="{coord(y + 2)}"'
            f' width="{coord(length)}" height="{coord(row - 4)}"><title>{esc(title)}</title></rect>'
            f'<text x="{coord(bar_x + bar_w + 8)}" y="{coord(y + row * 0.72)}" class="val">'
            f"{num(feature.get('effect'))} / {num(feature.get('threshold'))}</text>"
        )
    one = bar_x + scale
    axis_y = top + row * len(order)
    return (
        f'<svg class="drift-chart" viewBox="0 0 720 {coord(height)}" width="720" height="{coord(height)}" role="img" '
        f'aria-label="drift effect over threshold per feature"><title>Drift effect over threshold, one bar per '
        f"feature ({len(order)}), drifted first</title>"
        f'<text x="{coord(one)}" y="10" class="tick mid">threshold</text>'
        f"{''.join(marks)}"
        f'<line x1="{coord(one)}" y1="12" x2="{coord(one)}" y2="{coord(axis_y)}" class="bound"/>'
        f'<text x="{coord(bar_x)}" y="{coord(axis_y + 13)}" class="tick">0</text>'
        f'<text x="{coord(bar_x + bar_w)}" y="{coord(axis_y + 13)}" class="tick end">{num(largest, 3)}\u00d7 threshold '
        f"(square-root scale)</text></svg>"
    )


def _counts(values: Any, n: int) -> list[float] | None:
    items = as_list(values)
    if len(items) != n or n == 0:
        return None
    counts = [max(as_float(v) or 0.0, 0.0) for v in items]
    total = sum(counts)
    return [c / total for c in counts] if total else counts


def _numeric_svg(name: str, dist: dict[str, Any]) -> str | None:
    edges = [as_float(e) for e in as_list(dist.get("edges"))]
    n = len(edges) - 1
    ref, cur = _counts(dist.get("reference"), n), _counts(dist.get("current"), n)
    if n < 1 or ref is None or cur is None or any(e is None for e in edges):
        return None
    width, height = 150.0, 36.0
    top = max([*ref, *cur]) or 1.0
    step = width / n

    def y(share: float) -> float:
        return height - 1 - share / top * (height - 4)

    area = f"M0 {coord(height)}" + "".join(f"V{coord(y(s))}H{coord((i + 1) * step)}" for i, s in enumerate(ref)) + "VZ"
    area = area.replace("VZ", f"V{coord(height)}Z")
    line = f"M0 {coord(y(cur[0]))}" + "".join(
        (f"V{coord(y(s))}" if i else "") + f"H{coord((i + 1) * step)}" for i, s in enumerate(cur)
    )
    title = (
        f"{name}: reference (gray area) vs current (line), share per bin from {num(edges[0])} to {num(edges[-1])}; "
        f"missing {pct(dist.get('missing_reference'))} {ARROW} {pct(dist.get('missing_current'))}"
    )
    return (
        f'<svg class="dist" viewBox="0 0 150 36" width="150" height="36" role="img"><title>{esc(title)}</title>'
        f'<path d="{area}" class="ref"/><path d="{line}" class="cur"/></svg>'
        f'<div class="tiny">{num(edges[0])} {DASH} {num(edges[-1])}</div>'
    )


def _categorical_svg(name: str, dist: dict[str, Any]) -> str | None:
    categories = [str(c) for c in as_list(dist.get("categories"))]
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
            out.append(f"M{coord(i * slot + offset)} {coord(height)}v{coord(-h)}h{coord(bar)}v{coord(h)}z")
        return "".join(out)

    shares = "; ".join(f"{c} {pct(r)} {ARROW} {pct(k)}" for c, r, k in zip(categories, ref, cur, strict=True))
    title = f"{name}: share per category, reference {ARROW} current: {shares}"
    first = max((slot - 2 * bar) / 2, 0.0)
    return (
        f'<svg class="dist" viewBox="0 0 150 36" width="150" height="36" role="img"><title>{esc(title)}</title>'
        f'<path d="{bars(ref, first)}" class="ref bars"/><path d="{bars(cur, first + bar)}" class="cur bars"/></svg>'
        f'<div class="tiny">{n} {"category" if n == 1 else "categories"}</div>'
    )


def _distribution(name: str, dist: Any) -> str:
    dist = as_dict(dist)
    drawn = None
    if dist.get("kind") == "numeric":
        drawn = _numeric_svg(name, dist)
    elif dist.get("kind") == "categorical":
        drawn = _categorical_svg(name, dist)
    return drawn or '<span class="muted">no distribution</span>'


def _verdict(feature: dict[str, Any]) -> str:
    parts = []
    if feature.get("fired"):
        parts.append('<span class="status s-fired">drifted</span>')
    else:
        parts.append('<span class="status s-ok">ok</span>')
    if feature.get("missing_drifted"):
        parts.append(f'<div class="small">missing rate drifted (p {p_value(feature.get("missing_p_value"))})</div>')
    if feature.get("note"):
        parts.append(f'<div class="small">note: {esc(feature["note"])}</div>')
    return "".join(parts)


def _feature_row(name: str, feature: dict[str, Any], dist: Any) -> str:
    tags = []
    if as_float(feature.get("importance")) is not None:
        tags.append(f"importance {num(feature.get('importance'), 3)}")
    if feature.get("critical"):
        tags.append("critical")
    small = f'<div class="small">{" · ".join(tags)}</div>' if tags else ""
    method = esc(feature.get("method") or "")
    p_raw = f"raw p {p_value(feature.get('p_value'))}"
    cls = "drifted" if feature.get("fired") else "ok"
    return (
        f'<tr class="{cls}"><th scope="row" class="feat">{esc(name)}{small}</th>'
        f"<td>{esc(feature.get('kind') or DASH)}</td><td>{esc(feature.get('test') or DASH)}</td>"
        f'<td class="n">{num(feature.get("statistic"))}</td>'
        f'<td class="n" title="{p_raw}">{p_value(feature.get("p_value_adjusted"))}</td>'
        f'<td class="n">{method} {num(feature.get("effect"))} / {num(feature.get("threshold"))}</td>'
        f'<td class="n">{pct(feature.get("missing_reference"))} {ARROW} {pct(feature.get("missing_current"))}</td>'
        f"<td>{_verdict(feature)}</td><td>{_distribution(name, dist)}</td></tr>"
    )


def _drift_notes(check: dict[str, Any]) -> str:
    notes = []
    schema = [str(c) for c in as_list(check.get("schema_drifted"))]
    if schema:
        notes.append(f"<li><strong>Schema drift:</strong> {esc(', '.join(schema))}</li>")
    omitted = check.get("features_omitted")
    if omitted:
        notes.append(
            f"<li>{esc(num(omitted))} more features were left out of this report to keep it small "
            "(the least drifted ones).</li>"
        )
    for finding in as_list(check.get("findings")):
        finding = as_dict(finding)
        kind = str(finding.get("kind") or "finding").replace("_", " ")
        strong = " (counts as drift)" if finding.get("drift") else ""
        notes.append(f"<li><strong>{esc(kind)}</strong>{strong}: {esc(finding.get('message'))}</li>")
    return f'<ul class="notes">{"".join(notes)}</ul>' if notes else ""


def drift_section(report: dict[str, Any]) -> str:
    check = as_dict(as_dict(report.get("checks")).get("drift"))
    if not check:
        return ""
    if check.get("failed"):
        return (
            '<section id="drift"><h2>Drift</h2>'
            f'<p class="warn">The drift check failed: {esc(check.get("error"))}</p></section>'
        )
    features = {str(k): as_dict(v) for k, v in as_dict(check.get("features")).items()}
    distributions = as_dict(report.get("distributions"))
    order = _feature_order(features)
    summary = (
        f"{num(check.get('n_drifted'))} of {num(check.get('n_features'))} features drifted "
        f"(share {num(check.get('share'))}, fires at \u2265 {num(check.get('threshold_share'))}); "
        f"p-values adjusted ({esc(check.get('correction') or DASH)}) at \u03b1 = {num(check.get('p_value'))}; "
        f"{num(check.get('n_reference'))} reference rows ({esc(check.get('profile') or 'profile')}) "
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
            f"{_drift_chart(order, features)}{html_table(headers, rows, class_='features')}"
        )
    return f'<section id="drift"><h2>Drift</h2><p>{summary}</p>{_drift_notes(check)}{body}</section>'
