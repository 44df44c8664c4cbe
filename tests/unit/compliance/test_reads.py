"""The auditors' reads on fakes: proofs that verify against the log's root, and their ranges
refused; which lender a read covers; the per-agency report."""

from collections import Counter
from datetime import date, datetime
from decimal import Decimal

import pytest

from services.compliance.application.errors import (
    LenderRequiredError,
    OtherLenderError,
    OutOfRangeError,
)
from services.compliance.application.ports import Period
from services.compliance.application.proofs import consistency_proof, inclusion_proof
from services.compliance.application.reports import AgencyFigures, agencies_report
from services.compliance.application.scope import lender_in_scope
from services.compliance.domain.promises import LoggedPromise
from shared.promises import Paid, PromiseStatus
from shared.tlog.merkle import root_of, verify_consistency, verify_inclusion
from tests.unit.compliance.fakes import FakeAuditLog, FakeAuditReads, entry


async def a_log(size: int) -> tuple[FakeAuditLog, list[bytes]]:
    log = FakeAuditLog()
    for n in range(size):  # in batches of 1 to 3, as batches come
        if n % 3 == 0:
            batch = [
                entry("collections.loan.payment-received", loan_id="L", n=m)
                for m in range(n, min(n + 3, size))
            ]
            await log.append(batch)
    return log, [bytes(row["leaf_hash"]) for row in log.rows]


async def test_inclusion_and_consistency_proofs_verify_against_the_roots() -> None:
    log, leaves = await a_log(11)
    for leaf in (0, 5, 10):
        proof = await inclusion_proof(log, leaf, 11)
        verify_inclusion(leaf, 11, leaves[leaf], proof, root_of(leaves))
    proof = await consistency_proof(log, 6, 11)
    verify_consistency(6, 11, proof, root_of(leaves[:6]), root_of(leaves))


async def test_proofs_of_trees_or_leaves_the_log_has_not_are_refused() -> None:
    log, _ = await a_log(4)
    with pytest.raises(OutOfRangeError) as leaf:
        await inclusion_proof(log, 4, 4)
    assert leaf.value.field == "query.leaf_index"
    with pytest.raises(OutOfRangeError) as size:
        await inclusion_proof(log, 1, 9)
    assert (size.value.field, str(size.value)) == (
        "query.tree_size",
        "the log has fewer than 9 entries",
    )
    with pytest.raises(OutOfRangeError) as first:
        await consistency_proof(log, 3, 2)
    assert first.value.field == "query.first"


def test_a_scoped_auditor_sees_its_lender_and_an_auditor_of_all_names_one_for_a_loan() -> None:
    assert lender_in_scope("lender-1", None, naming_a_loan=True) == "lender-1"
    assert lender_in_scope("lender-1", "lender-1", naming_a_loan=False) == "lender-1"
    with pytest.raises(OtherLenderError):
        lender_in_scope("lender-1", "lender-2", naming_a_loan=False)
    assert lender_in_scope(None, None, naming_a_loan=False) is None
    assert lender_in_scope(None, "lender-2", naming_a_loan=True) == "lender-2"
    with pytest.raises(LenderRequiredError):
        lender_in_scope(None, None, naming_a_loan=True)


async def test_the_agencies_report_joins_contacts_violations_and_promises_by_agency() -> None:
    reads = FakeAuditReads()
    reads.activity.contacts = {"ag": {"call": 3, "note": 1}}
    reads.activity.standing = {"bg": {"CN-01": 2}}
    made = datetime(2026, 11, 1, 8)
    reads.promises.promises = [
        LoggedPromise("lender-1", "L-1", "cg", "P-1", Decimal(100), "CNY", made, date(2026, 11, 5)),
        LoggedPromise("lender-1", "L-2", "cg", "P-2", Decimal(100), "CNY", made, date(2026, 11, 5)),
    ]
    reads.promises.payments = {
        ("lender-1", "L-1"): [Paid("pay-1", Decimal(100), "CNY", datetime(2026, 11, 4, 9))]
    }
    period = Period("lender-1", None, None)

    found = await agencies_report(reads, period, today=date(2026, 11, 10))

    assert found == [
        AgencyFigures("ag", {"call": 3, "note": 1}, {}, Counter()),
        AgencyFigures("bg", {}, {"CN-01": 2}, Counter()),
        AgencyFigures("cg", {}, {}, Counter({PromiseStatus.KEPT: 1, PromiseStatus.BROKEN: 1})),
    ]
    assert reads.activity.periods == [period]
