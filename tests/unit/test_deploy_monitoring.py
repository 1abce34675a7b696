"""deploy/prometheus and deploy/grafana stay in step with the app: the files parse, and every
guestlist_* metric their expressions name is one /metrics exposes (a renamed family would
leave a silent panel or an alert that never fires)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from guestlist.monitor import figures, instances  # noqa: F401  (instances registers its gauge)

ROOT = Path(__file__).resolve().parents[2]
METRIC_RE = re.compile(r"\bguestlist_[a-z_]+")


def _exposed() -> set[str]:
    names: set[str] = set()
    for family in figures.REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    # counters are exposed as <name>_total, histograms as <name>_bucket/_sum/_count
    names.update(f"{n}_total" for n in list(names))
    names.update(f"{n}_{s}" for n in list(names) for s in ("bucket", "sum", "count"))
    return names


def _expressions() -> list[str]:
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    dashboard = json.loads((ROOT / "deploy/grafana/guestlist.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return exprs


def test_prometheus_config_scrapes_metrics_with_the_token_and_loads_the_rules() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"


def test_every_metric_named_in_alerts_and_dashboard_is_exposed() -> None:
    exposed = _exposed()
    named = {m for expr in _expressions() for m in METRIC_RE.findall(expr)}
    assert named, "the expressions name guestlist metrics"
    assert named <= exposed, sorted(named - exposed)


def test_dashboard_panels_have_unique_ids_and_a_datasource() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/guestlist.json").read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["datasource"]["type"] == "prometheus" for p in dashboard["panels"])
