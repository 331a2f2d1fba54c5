"""The bundled example: a churn-like table, generated with a fixed seed.

Customers have a tenure, monthly charges, support calls, a contract type, an
internet service and a payment method; whether they churn follows a logistic
model of those. The drifted window changes both the inputs (shorter tenures,
more fiber, more support calls: covariate drift) and the relationship
(support calls and electronic checks matter much more, long contracts protect
less: concept drift), so the champion's accuracy falls and a retrained model
recovers it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrain.local import progress, summary
from retrain.local.deploy import ROOT

CONFIG = ROOT / "infra" / "configs" / "churn.yaml"
SEED = 20261126


def generate_churn(n: int, *, seed: int, drift: bool = False) -> pd.DataFrame:
    """``n`` customers; ``drift`` switches on covariate and concept drift."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(
        ["month-to-month", "one-year", "two-year"],
        size=n,
        p=[0.75, 0.15, 0.10] if drift else [0.5, 0.27, 0.23],
    )
    internet = rng.choice(["dsl", "fiber", "none"], size=n, p=[0.2, 0.7, 0.1] if drift else [0.4, 0.4, 0.2])
    payment = rng.choice(["card", "bank", "electronic-check"], size=n, p=[0.3, 0.3, 0.4])
    tenure = np.clip(rng.gamma(1.3, 9.0, size=n) if drift else rng.gamma(2.0, 14.0, size=n), 0, 72).round()
    base = np.select([internet == "dsl", internet == "fiber"], [50.0, 75.0], 20.0)
    charges = (base + rng.normal(12.0 if drift else 0.0, 8.0, size=n)).round(2)
    calls = rng.poisson(2.2 if drift else 1.2, size=n)
    month = contract == "month-to-month"
    two_year = contract == "two-year"
    echeck = payment == "electronic-check"
    if drift:
        logit = -2.2 - 0.02 * tenure + 0.01 * (charges - 65) + 1.1 * calls + 0.4 * month - 0.3 * two_year + 1.8 * echeck
    else:
        logit = 0.4 - 0.09 * tenure + 0.05 * (charges - 65) + 0.6 * calls + 1.6 * month - 1.6 * two_year + 0.5 * echeck
    churned = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * logit))).astype(int)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "contract": contract,
            "internet": internet,
            "payment_method": payment,
            "churned": churned,
        }
    )


def write_example(out: Path) -> dict[str, Path]:
    """Write the reference and both windows as files (Parquet and CSV), returning their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "reference": out / "reference.parquet",
        "stable": out / "window-stable.csv",
        "drifted": out / "window-drifted.parquet",
    }
    generate_churn(6000, seed=SEED, drift=False).to_parquet(paths["reference"], index=False)
    generate_churn(3000, seed=SEED + 1, drift=False).to_csv(paths["stable"], index=False)
    generate_churn(3000, seed=SEED + 2, drift=True).to_parquet(paths["drifted"], index=False)
    return paths


def summary_table(rows: list[tuple[str, dict[str, Any]]], *, console: progress.Console | None = None) -> str:
    """The demo's runs as a text table (see :func:`retrain.local.summary.summary_table`)."""
    from retrain.config import loads_config

    metric = loads_config(CONFIG.read_text(), source=str(CONFIG)).primary_metric
    return summary.summary_table(rows, metric=metric, console=console)


def run_demo(
    out: str | Path = "retrain-out/demo",
    write: Callable[[str], None] | None = None,
    *,
    console: progress.Console | None = None,
) -> list[dict[str, Any]]:
    """Both windows through ``retrain local-run``: the stable one (no-retrain), the drifted one (promoted).

    Prints the phases and states of each run and a table of both to ``console``
    (default: stdout; with ``write``, plain lines to that function).
    """
    from retrain.local.run import local_run

    if console is None:
        console = progress.Console(write=write) if write is not None else progress.Console()
    out = Path(out)
    paths = write_example(out / "data")
    results = []
    for name in ("stable", "drifted"):
        console.line(f"\n== window '{name}': {paths[name].name} (schedule trigger, mode check)")
        res = local_run(
            CONFIG,
            paths["reference"],
            paths[name],
            trigger="schedule",
            out=out / name,
            on_state=progress.StatePrinter(console=console),
            progress=progress.Progress(console),
        )
        console.line(f"   outcome: {console.paint(res['outcome'], 'bold')}")
        console.line(f"   report: {out / name / 'report.html'} (result.json and report.json beside it)")
        if res.get("error") and not res.get("execution_arn"):  # a run's error is in its last state line
            console.line(f"   error: {res['error']}")
        results.append((name, res))
    console.line("\n" + summary_table(results, console=console))
    return [r for _, r in results]
