"""Report step: the run's ``report.json`` and ``report.html``, written on every outcome.

The state machine's last step on every path, failed runs included. It builds
the run's result from the state it ends with (:func:`retrain.result.assemble`,
the builder of ``result.json``), adds the candidate's lineage from the
registry and the drift check's per-feature distributions, renders the page
(:mod:`retrain.report_page`), and writes both to
``s3://<artifact bucket>/reports/<model>/<execution>/``. Writing the same keys
again (a retried invocation) gives the same files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from retrain import aws, layout, registry, report_page, result
from retrain.contracts import ReportInput, ReportOut
from retrain.errors import DataNotFound
from retrain.observability import logger
from retrain.settings import Settings


def build(request: ReportInput, *, settings: Settings) -> dict[str, Any]:
    """The run's ``report.json`` dict: :func:`retrain.result.assemble` of its final state, lineage, distributions."""
    state = request.state
    run: dict[str, Any] = state["run"] if isinstance(state.get("run"), dict) else {}
    model = run.get("model")
    champion_before = run.get("champion_version")
    champion_after = None
    if model:
        champion = registry.get_champion(settings.registry_table, model)
        champion_after = champion.version if champion else None
    report = result.assemble(
        state,
        status=request.status,
        trigger=run.get("trigger"),
        execution_arn=request.execution_arn,
        started_at=request.started_at,
        champion_before=int(champion_before) if champion_before is not None else None,
        champion_after=champion_after,
    )
    report["execution"] = request.execution
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    candidate = report.get("candidate") or {}
    if model and candidate.get("version") is not None:
        record = registry.get_version(settings.registry_table, model, int(candidate["version"]))
        report["lineage"] = result.lineage(record.fields() if record else {})
    uri = ((report.get("checks") or {}).get("drift") or {}).get("distributions_uri")
    if uri:
        try:
            report["distributions"] = aws.get_json(*aws.split_uri(uri))
        except DataNotFound:
            logger.warning("distributions missing", extra={"uri": uri})
    return report


def run(request: ReportInput, *, settings: Settings) -> ReportOut:
    """Build, render and write the run's report; returns the URIs of ``report.json`` and ``report.html``."""
    report = build(request, settings=settings)
    model = report.get("model")
    bucket = settings.artifact_bucket
    json_key = layout.report_key(model, request.execution, layout.REPORT_JSON)
    html_key = layout.report_key(model, request.execution, layout.REPORT_HTML)
    out = ReportOut(json_uri=aws.uri(bucket, json_key), html_uri=aws.uri(bucket, html_key))
    report["report"] = out.model_dump()
    page = report_page.render(report).encode()
    aws.put_bytes(bucket, html_key, page, content_type="text/html; charset=utf-8")
    body = json.dumps(report, indent=2, default=str).encode()
    aws.put_bytes(bucket, json_key, body, content_type="application/json")
    logger.info("report written", extra={"uri": out.json_uri, "outcome": report["outcome"], "html_bytes": len(page)})
    return out
