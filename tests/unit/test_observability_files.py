"""deploy/observability: the alert rules and the Grafana dashboard name only metrics the code
exports, and Prometheus scrapes every service with a bearer operator key."""

import json
import re
from pathlib import Path
from typing import Any

import yaml

from deploy.devstack.platform import SERVICES
from shared.observability.metrics import exported_names

FOLDER = Path(__file__).parents[2] / "deploy" / "observability"
METRIC = re.compile(r"\bcollections_[a-z0-9_]+")


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((FOLDER / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((FOLDER / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def balanced(expression: str) -> bool:
    depth = 0
    for char in expression:
        depth += {"(": 1, ")": -1, "{": 1, "}": -1, "[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def test_every_metric_the_alerts_and_the_dashboard_name_is_exported() -> None:
    expressions = [rule["expr"] for rule in alert_rules()] + dashboard_expressions()
    named = {name for expression in expressions for name in METRIC.findall(expression)}
    assert named, "no collections_* metric named"
    assert named <= exported_names(), f"not exported: {sorted(named - exported_names())}"
    assert all(balanced(expression) for expression in expressions)


def test_the_alerts_cover_what_the_issue_asks_for() -> None:
    rules = alert_rules()
    assert all({"alert", "expr", "labels"} <= set(rule) for rule in rules)
    assert all(rule["labels"]["severity"] in {"info", "warning", "critical"} for rule in rules)
    watched = " ".join(rule["expr"] for rule in rules)
    for metric in (
        "collections_consumer_lag",
        "collections_outbox_oldest_age_seconds",
        "collections_dead_letters_total",
        "collections_provider_sends_total",
        "collections_audit_checkpoint_age_seconds",
        "collections_http_requests_total",
        "collections_placement_ends_total",
    ):
        assert metric in watched, metric


def test_the_dashboard_has_a_panel_over_every_metric_family() -> None:
    shown = " ".join(dashboard_expressions())
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", n) for n in exported_names()}
    missing = {family for family in families if family not in shown}
    assert not missing, f"no panel shows {sorted(missing)}"


def test_prometheus_scrapes_every_service_with_an_operator_key_file() -> None:
    config = yaml.safe_load((FOLDER / "prometheus.yaml").read_text())
    assert config["rule_files"] == ["alerts.yaml"]
    jobs = config["scrape_configs"]
    ports = {
        target.rsplit(":", 1)[1]
        for job in jobs
        for c in job["static_configs"]
        for target in c["targets"]
    }
    assert {str(service.port) for service in SERVICES} <= ports
    for job in jobs:
        assert job["metrics_path"] == "/metrics"
        assert job["authorization"]["type"] == "Bearer"
        assert job["authorization"]["credentials_file"]
