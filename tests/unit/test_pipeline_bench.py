"""The pipeline benchmark's pure parts: percentiles, aims and gaps, the table, the JSON shape
(the issue's, exactly)."""

from __future__ import annotations

import json
import math

from pydantic import SecretStr

from benchmarks.pipeline import (
    AIMS,
    Aim,
    Runs,
    backlog_messages,
    figures,
    percentile,
    table,
)
from deploy.devstack.platform import PlatformSecrets
from shared.crypto import KeyRing, Pseudonymizer
from shared.events.catalog import OVERDUE_REPORTED
from shared.events.envelope import Envelope
from shared.events.models import BorrowerContact, OverdueReported

ISSUE_SHAPE = {
    "end_to_end": {"per_s", "raw_per_s", "ratio"},
    "latency_ms": {"notifier", "agency_gateway", "compliance", "raw_p99"},
    "drain_s": None,
    "rss_mb": {"intake", "notifier", "agency_gateway", "compliance"},
    "placement": {"per_s", "raw_per_s", "ratio"},
    "intake_batch": {"per_s", "raw_per_s", "ratio"},
    "audit_append": {"per_s", "raw_per_s", "ratio"},
}


def measured() -> Runs:
    runs = Runs()
    for per_s, raw in ((900.0, 3000.0), (1000.0, 2000.0), (1100.0, 4000.0)):
        runs.end_to_end.append(per_s)
        runs.end_to_end_raw.append(raw)
        runs.add_stage("placement", per_s, raw)
        runs.add_stage("intake_batch", per_s * 2, raw)
        runs.add_stage("audit_append", per_s * 3, raw)
    for service in ("notifier", "agency_gateway", "compliance"):
        runs.add_latency(service, [float(n) for n in range(1, 101)])
    runs.raw_p99 += [4.0, 5.0, 6.0]
    runs.drain_s.append(42.0)
    for service, mb in (("intake", 120.0), ("notifier", 300.0), ("agency_gateway", 90.0)):
        runs.peak(service, mb)
    runs.peak("compliance", 80.0)
    runs.peak("compliance", 70.0)  # a peak is never lowered
    return runs


def test_percentile_interpolates_between_closest_ranks() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50.5
    assert math.isclose(percentile(samples, 99), 99.01)
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_aims_say_met_or_the_factor_to_go() -> None:
    at_least, at_most = Aim(0.5, at_least=True), Aim(20, at_least=False)
    assert at_least.gap(0.6) == "met"
    assert at_least.gap(0.1) == "5.0x to go"
    assert at_most.gap(20.0) == "met"
    assert at_most.gap(50.0) == "2.5x to go"
    assert at_most.gap(float("nan")) == "not measured"
    assert str(at_least) == "≥ 0.5"


def test_json_has_exactly_the_issues_shape_with_medians() -> None:
    got = figures(measured())
    assert set(got) == set(ISSUE_SHAPE)
    for key, inner in ISSUE_SHAPE.items():
        if inner is not None:
            assert set(got[key]) == inner, key
    for service in ("notifier", "agency_gateway", "compliance"):
        assert set(got["latency_ms"][service]) == {"p50", "p95", "p99"}
    assert got["end_to_end"] == {"per_s": 1000.0, "raw_per_s": 3000.0, "ratio": 1000 / 3000}
    assert got["latency_ms"]["raw_p99"] == 5.0
    assert got["rss_mb"]["compliance"] == 80.0
    assert got["drain_s"] == 42.0
    json.dumps(got)  # serialisable as it is


def test_table_prints_ratios_aims_and_gaps_never_a_bare_target() -> None:
    got = figures(measured())
    text = table(got, 3, drain_raw_s=10.0)
    assert "| end to end" in text
    assert "| 0.33 | ≥ 0.5 | 1.5x to go |" in text
    assert "| notifier peak RSS (MB) | 300 | 250 MB budget | 1.20 | ≤ 1 | 1.2x to go |" in text
    assert "| drain of the backlog (s) | 42.0 | 10.0 at the raw rate | 4.20 | — | — |" in text
    assert "MISS" not in text
    assert "PASS" not in text
    assert str(AIMS["latency"]) in text


def test_the_drains_backlog_is_what_intake_publishes_sealed_with_the_platforms_keys() -> None:
    keys = PlatformSecrets.generate()
    messages = backlog_messages("L-1", keys, "DRAIN", 3)
    envelopes = [Envelope.model_validate_json(value) for _, value in messages]
    assert [key for key, _ in messages] == [f"L-1/DRAIN-{n}".encode() for n in range(3)]
    assert len({e.id for e in envelopes}) == 3
    first = envelopes[0]
    assert (first.type, first.schemaversion, first.source, first.tenantid, first.subject) == (
        OVERDUE_REPORTED.name,
        OVERDUE_REPORTED.version,
        "/collections/intake",
        "L-1",
        "DRAIN-0",
    )
    event = OverdueReported.model_validate(first.data)
    pseudonyms = Pseudonymizer.from_secret(SecretStr(keys.pseudonym_key))
    assert event.borrower.ref == pseudonyms.reference("L-1", "BDRAIN-0")
    opened = KeyRing.parse(keys.transit_keys).open(
        event.borrower.contact, associated_data=event.borrower.ref.encode()
    )
    assert BorrowerContact.model_validate_json(opened).email == "drain-0@example.com"
    assert event.days_past_due == 60
