"""deploy/prometheus/: the alert rules parse, name only metrics the services export (with
labels they carry), each links to its section of docs/OPERATIONS.md, and Prometheus scrapes
every service's replicas through DNS (so `--scale` needs no edit)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import shared.observability  # noqa: F401  (registers the metrics)
from shared.settings import DEFAULT_PORTS, SERVICES

ROOT = Path(__file__).resolve().parent.parent
RULES = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())


def _exported() -> dict[str, set[str]]:
    """metric sample name -> label names, as the services' /metrics shows them."""
    out: dict[str, set[str]] = {}
    for family in REGISTRY.collect():
        names = {family.name}
        if family.type == "counter":
            names = {family.name + "_total", family.name}
        if family.type == "histogram":
            names = {family.name + s for s in ("_bucket", "_count", "_sum")}
        labels = set(getattr(REGISTRY._names_to_collectors.get(family.name + (
            "_total" if family.type == "counter" else "")), "_labelnames", ()) or ())
        for name in names:
            out[name] = labels | ({"le"} if name.endswith("_bucket") else set())
    return out


def test_every_rule_names_exported_metrics_and_its_runbook() -> None:
    exported = _exported()
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    rules = [r for group in RULES["groups"] for r in group["rules"]]
    assert len(rules) >= 10
    for rule in rules:
        for metric in re.findall(r"\b(canbao_[a-z_]+)", rule["expr"]):
            assert metric in exported, f"{rule['alert']}: {metric} is not exported"
            for label in re.findall(r"\b(\w+)\s*(?:=~|!=|=)\s*\"", rule["expr"]):
                assert label in exported[metric] | {"job"}, f"{rule['alert']}: {label}"
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert f"### {rule['alert']}" in operations, f"docs/OPERATIONS.md lacks {anchor}"
        assert rule["labels"]["severity"] in ("critical", "warning", "info")


def test_prometheus_finds_every_replica() -> None:
    assert CONFIG["rule_files"] == ["/etc/prometheus/alerts.yml"]
    sd = CONFIG["scrape_configs"][0]["dns_sd_configs"]
    assert {(s["names"][0], s["port"]) for s in sd} == {(n, DEFAULT_PORTS[n]) for n in SERVICES}
    assert all(s["type"] == "A" for s in sd)
