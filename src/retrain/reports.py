"""A run's report, read back: ``retrain report RUN`` and the files ``local-run`` and ``demo`` write.

The Report step writes ``report.json`` and ``report.html`` under
``reports/<model>/<execution>/`` of the artifact bucket. A run is named by its
execution name or ARN; with no model given, each model's folder is looked in
(one HEAD request per model with reports).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retrain import aws, layout
from retrain.errors import DataNotFound
from retrain.report_page import render

#: The files a run's output folder gets: the result (one contract, two names) and the page.
RESULT_FILE = "result.json"
FILES = (RESULT_FILE, layout.REPORT_JSON, layout.REPORT_HTML)


def execution_name(run: str) -> str:
    """The execution name of ``run`` (an execution name, or an execution ARN ``arn:...:execution:<machine>:<name>``)."""
    return run.rsplit(":", 1)[-1] if run.startswith("arn:") else run


def locate(bucket: str, run: str, *, model: str | None = None) -> str:
    """The key of ``run``'s ``report.json``.

    Raises
    ------
    DataNotFound
        No report of that execution (for that model, when given) is in the bucket.
    """
    execution = execution_name(run)
    if model is not None:
        models = [model]
    else:
        models = [
            folder.removeprefix(layout.reports_prefix()).rstrip("/")
            for folder in aws.list_folders(bucket, layout.reports_prefix())
        ]
    for name in models:
        key = layout.report_key(name, execution)
        if aws.head(bucket, key) is not None:
            return key
    where = layout.reports_prefix(model) if model else f"{layout.reports_prefix()}<model>/"
    raise DataNotFound(
        f"no report of run {execution!r} in s3://{bucket}/{where}: is the execution name right, and did it end?"
    )


def fetch(bucket: str, run: str, *, model: str | None = None) -> dict[str, Any]:
    """``run``'s ``report.json`` (raises :class:`~retrain.errors.DataNotFound` if there is none)."""
    report: dict[str, Any] = aws.get_json(bucket, locate(bucket, run, model=model))
    return report


def page(report: dict[str, Any]) -> bytes | None:
    """The ``report.html`` the Report step wrote for ``report`` (``None`` if it wrote none)."""
    uri = (report.get("report") or {}).get("html_uri")
    if not uri:
        return None
    try:
        return aws.get_bytes(*aws.split_uri(uri))
    except DataNotFound:
        return None


def write(out: str | Path, report: dict[str, Any], html: bytes | None = None) -> dict[str, Path]:
    """Write ``result.json`` and ``report.json`` (the same dict) and ``report.html`` into ``out``.

    ``html`` is the page the Report step wrote; without one it is rendered here
    from ``report`` (:func:`retrain.report_page.render`, the same renderer).
    Returns the paths written, by name.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=str) + "\n"
    paths = {name: folder / name for name in FILES}
    paths[RESULT_FILE].write_text(text)
    paths[layout.REPORT_JSON].write_text(text)
    paths[layout.REPORT_HTML].write_bytes(html if html is not None else render(report).encode())
    return paths
