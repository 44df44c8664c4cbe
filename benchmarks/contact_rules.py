"""Contact-rules engine speed: ``python -m benchmarks.contact_rules``.

For each pack, a 50-contact ledger of one person's debt (the lender and two agencies, every
channel, one contact every ten hours) and an intended agency call that every rule must look at:
at 11:00 local (allowed) and at night (refused, so ``next_allowed_at`` is searched too). Each run
times ``check`` over ``--checks`` calls, then a bare loop over the same ledger (count the calls
of the last seven days: the least any frequency rule must do) in the same run; the table gives
medians of ``--runs`` runs and the ratio of the two. No target is asserted: figures are printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contact_rules import (
    Contact,
    DebtFacts,
    Direction,
    Party,
    Placement,
    RulePack,
    ValidationNotice,
    check,
    load_pack,
)
from shared.contact_rules.ledger import POSSIBLE_OUTCOMES
from shared.events.models import ConsentKind, ConsentRecord
from shared.vocabulary import Channel, Jurisdiction

NOW = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
PARTIES = (Party.lender(), Party.agency("agency-a"), Party.agency("agency-b"))
ZONES = {Jurisdiction.CN: "Asia/Shanghai", Jurisdiction.US: "America/New_York"}
DAYTIME = {Jurisdiction.CN: timedelta(hours=1), Jurisdiction.US: timedelta(hours=13)}
"""From ``NOW``: 11:00 in Shanghai, 11:00 in New York (allowed); 12 hours later it is night."""


def ledger_of(size: int) -> list[Contact]:
    """``size`` contacts, one every ten hours; two in three are calls, one in five connects."""
    channels = list(Channel)
    contacts = []
    for n in range(size):
        channel = Channel.PHONE_CALL if n % 3 else channels[n % len(channels)]
        outcomes = POSSIBLE_OUTCOMES[channel]
        contacts.append(
            Contact(
                id=f"c{n}",
                debt_id="loan-1",
                person_ref="person-1",
                party=PARTIES[n % 3],
                channel=channel,
                at=NOW - timedelta(hours=3 + n * 10),
                direction=Direction.INBOUND if n % 17 == 5 else Direction.OUTBOUND,
                outcome=outcomes[0] if n % 5 else outcomes[1],
                recording_id="rec",
                staff_count=2,
            )
        )
    return contacts


def facts_for(jurisdiction: Jurisdiction) -> DebtFacts:
    early = NOW - timedelta(days=60)
    consent = ConsentRecord(
        kind=ConsentKind.AUTODIALED_CALLS_AND_TEXTS, granted=True, recorded_at=early
    )
    return DebtFacts(
        debt_id="loan-1",
        person_ref="person-1",
        jurisdiction=jurisdiction,
        borrower_zone=ZONES[jurisdiction],
        consents=(consent,),
        placements=tuple(Placement(a, early, early) for a in ("agency-a", "agency-b")),
        validation_notices=tuple(ValidationNotice(a, early) for a in ("agency-a", "agency-b")),
    )


def bare_loop(ledger: list[Contact]) -> Callable[[], int]:
    since = NOW - timedelta(days=7)

    def count() -> int:
        calls = 0
        for entry in ledger:
            if entry.channel is Channel.PHONE_CALL and entry.at >= since:
                calls += 1
        return calls

    return count


def timed(action: Callable[[], object], repeat: int) -> float:
    """Seconds per call of ``action``."""
    start = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - start) / repeat


def measure(pack: RulePack, night: bool, checks: int, runs: int) -> dict[str, Any]:
    ledger = ledger_of(50)
    facts = facts_for(pack.jurisdiction)
    at = NOW + DAYTIME[pack.jurisdiction] + timedelta(hours=12 if night else 0)
    intended = Contact("intended", "loan-1", "person-1", PARTIES[1], Channel.PHONE_CALL, at)
    decision = check(intended, ledger, facts, pack)
    outcome = "allowed" if decision.allowed else "refused " + "+".join(decision.refused_by)
    loop = bare_loop(ledger)
    per_check, per_loop = [], []
    for _ in range(runs):
        per_check.append(timed(lambda: check(intended, ledger, facts, pack), checks))
        per_loop.append(timed(loop, checks * 10))
    check_s, loop_s = statistics.median(per_check), statistics.median(per_loop)
    print(
        f"{pack.version} {outcome}: "
        f"runs (µs/check): {', '.join(f'{t * 1e6:.1f}' for t in per_check)}; "
        f"bare loop (µs): {', '.join(f'{t * 1e6:.2f}' for t in per_loop)}"
    )
    return {
        "decision": outcome,
        "checks_per_s": 1 / check_s,
        "us_check": check_s * 1e6,
        "us_loop": loop_s * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--checks", type=int, default=3000)
    args = parser.parse_args()
    packs = [load_pack(jurisdiction) for jurisdiction in Jurisdiction]
    rows = [
        (pack, measure(pack, night, args.checks, args.runs))
        for pack in packs
        for night in (False, True)
    ]
    print()
    print(f"Medians of {args.runs} runs, ledger of 50 contacts, {args.checks} checks per run:")
    print()
    print("| pack | decision | checks/s | µs per check | bare loop µs | check / bare loop |")
    print("|---|---|---:|---:|---:|---:|")
    for pack, row in rows:
        ratio = row["us_check"] / row["us_loop"]
        print(
            f"| {pack.version} | {row['decision']} | {row['checks_per_s']:,.0f} "
            f"| {row['us_check']:.1f} | {row['us_loop']:.2f} | {ratio:.0f}× |"
        )


if __name__ == "__main__":
    main()
