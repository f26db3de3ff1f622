"""The Grafana dashboard and the Prometheus alert rules parse, and every series they read is one
the hub exports (or Prometheus's own ``up``): a renamed metric cannot silently blank a panel or
mute an alert."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from evaluation_hub.ops.metrics import EXPORTED, HubMetrics, Process, Snapshot

DOCKER = Path(__file__).resolve().parents[2] / "docker"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "evaluation-hub.json"
ALERTS = DOCKER / "prometheus" / "alerts.yml"

_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
}  # fmt: skip


def series_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    text = re.sub(r'"[^"]*"', "", expr)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    text = re.sub(r"(?<![A-Za-z0-9_:])\d+(?:\.\d+)?[smhdwy]*", "", text)  # numbers, offsets
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS:
            continue  # a function or an operator
        names.add(name)
    return names


def exported_series() -> set[str]:
    """Every series name the hub can export: its families with their samples' suffixes, and the
    process collector's, as a scrape of a fresh registry shows them."""
    registry = HubMetrics()
    registry.record_save("host", "accepted", 0.01)
    registry.count_refusal(404, "not-found")
    from datetime import UTC, datetime

    empty = Process({}, {}, False, 0, 0, 0, 0, 0, 0, None)
    text = registry.render(Snapshot(datetime.now(UTC), empty, None, None)).decode()
    names = {"up"}
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
    # Families present only when there is something to show (seats, a pool, a checkpoint, …).
    # (A counter or histogram family is read through its suffixed series only.)
    counted = {"evalhub_score_saves", "evalhub_score_save_seconds", "evalhub_refusals"}
    names.update(name for name in EXPORTED if name not in counted)
    return names


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [
        target["expr"]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def test_series_names_reads_promql() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le) (rate(evalhub_score_save_seconds_bucket[5m]))) > 1 "
        'and evalhub_ready_check{check="database"} == 0 offset 5m'
    )
    assert series_names(expr) == {"evalhub_score_save_seconds_bucket", "evalhub_ready_check"}


def test_the_dashboard_has_a_row_per_concern_and_reads_only_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == [
        "Hub: up and ready",
        "Seats and sessions",
        "Score saves",
        "Chapter delivery",
        "Live media",
        "Bus and database",
        "Audit and calendar",
    ]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    exported = exported_series()
    read = set().union(*(series_names(e) for e in dashboard_exprs(dashboard)))
    assert read - exported == set()
    # Every concern of issue 17 has a panel.
    for name in (
        "evalhub_seat_links", "evalhub_sessions", "evalhub_score_saves_total",
        "evalhub_score_save_seconds_bucket", "evalhub_refusals_total",
        "evalhub_review_requests_open", "evalhub_chapter_deliveries", "evalhub_live_viewers",
        "evalhub_seat_media_fps", "evalhub_seat_media_bitrate_bps",
        "evalhub_seat_media_loss_ratio", "process_cpu_seconds_total",
        "evalhub_bus_round_trip_seconds", "evalhub_db_pool_checked_out",
        "evalhub_audit_chain_length", "evalhub_audit_checkpoint_age_seconds",
        "evalhub_calendar_coverage_days", "evalhub_recording_stopped",
    ):  # fmt: skip
        assert name in read, name


def test_the_alert_rules_parse_and_read_only_exported_series() -> None:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    (group,) = rules["groups"]
    alerts = {rule["alert"]: rule for rule in group["rules"]}
    assert sorted(alerts) == [
        "AuditCheckpointStale",
        "CalendarCoverageShort",
        "DatabaseUnreachable",
        "HubDown",
        "HubNotReady",
        "RecordingStopped",
        "ScoreSaveSlow",
        "SeatLinksDropping",
        "SeatMediaLost",
    ]
    exported = exported_series()
    for name, rule in alerts.items():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, name
        assert rule["labels"]["severity"] in ("page", "ticket"), name
        assert rule["annotations"]["summary"], name
        assert series_names(rule["expr"]) - exported == set(), name
