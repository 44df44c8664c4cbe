"""Webhook deliveries on fakes: delivered, retried with backoff, given up; a lease held by a
worker that crashed only delays, and a redelivery asked for mid-send stays."""

from datetime import timedelta
from functools import partial
from uuid import uuid4

import pytest

from services.agency_gateway.application.errors import InvalidReportError
from services.agency_gateway.application.webhooks import WebhookDeliveries
from services.agency_gateway.workers import WebhookWorker
from shared.db.backoff import backoff
from tests.unit.agency_gateway.fakes import (
    Database,
    FakeClock,
    FakePoster,
    FakeUnitOfWork,
    agency_row,
)

NORTH = "agency-north"
INITIAL, MAXIMUM, LEASE = timedelta(seconds=2), timedelta(seconds=5), timedelta(seconds=60)


async def world(
    poster: FakePoster, max_attempts: int = 3
) -> tuple[Database, WebhookWorker, FakeClock]:
    db, clock = Database(), FakeClock()
    db.agencies[NORTH] = agency_row(NORTH)
    deliveries = WebhookDeliveries(
        lambda: FakeUnitOfWork(db),
        poster,
        partial(backoff, initial=INITIAL, maximum=MAXIMUM),
        max_attempts=max_attempts,
        clock=clock,
    )
    worker = WebhookWorker(lambda: FakeUnitOfWork(db), deliveries, lease=LEASE, clock=clock)
    uow = FakeUnitOfWork(db)
    async with uow:
        await uow.deliveries.owe(
            [("assignment.placed", {"agency_id": NORTH, "assignment_id": "A-1"})], clock.now
        )
        await uow.commit()
    return db, worker, clock


def the_delivery(db: Database) -> dict[str, object]:
    [delivery] = db.deliveries.values()
    return delivery


async def test_a_delivery_is_sent_once_and_logged() -> None:
    poster = FakePoster()
    db, worker, clock = await world(poster)
    assert await worker.deliver_due() == 1
    delivery = the_delivery(db)
    assert (delivery["status"], delivery["attempts"], delivery["delivered_at"]) == (
        "delivered",
        1,
        clock.now,
    )
    assert [a["status_code"] for a in db.attempts] == [200]
    assert await worker.deliver_due() == 0
    assert len(poster.posted) == 1


async def test_a_failure_is_retried_with_doubling_backoff_then_given_up() -> None:
    poster = FakePoster([(500, "HTTP 500")])
    db, worker, clock = await world(poster, max_attempts=3)
    await worker.deliver_due()
    assert the_delivery(db)["next_attempt_at"] == clock.now + INITIAL
    clock.advance(INITIAL - timedelta(milliseconds=1))
    assert await worker.deliver_due() == 0  # not before its backoff
    clock.advance(timedelta(milliseconds=1))
    await worker.deliver_due()
    assert the_delivery(db)["next_attempt_at"] == clock.now + 2 * INITIAL
    clock.advance(2 * INITIAL)
    await worker.deliver_due()
    delivery = the_delivery(db)
    assert (delivery["status"], delivery["attempts"], delivery["next_attempt_at"]) == (
        "failed",
        3,
        None,
    )
    assert [a["error"] for a in db.attempts] == ["HTTP 500"] * 3


async def test_an_agency_without_a_url_or_secret_is_not_posted_to() -> None:
    poster = FakePoster()
    db, worker, _clock = await world(poster)
    db.agencies[NORTH]["webhook_secret_sealed"] = None
    await worker.deliver_due()
    assert poster.posted == []
    assert db.attempts[0]["error"] == "the agency has no webhook URL or secret"


async def test_a_claim_whose_worker_crashed_is_due_again_when_its_lease_ends() -> None:
    poster = FakePoster()
    db, worker, clock = await world(poster)
    uow = FakeUnitOfWork(db)
    async with uow:  # a worker claims, then dies before it logs anything
        await uow.deliveries.claim_due(clock.now, 10, LEASE, uuid4())
        await uow.commit()
    assert await worker.deliver_due() == 0
    clock.advance(LEASE)
    assert await worker.deliver_due() == 0  # held to the end of its lease
    clock.advance(timedelta(seconds=1))
    assert await worker.deliver_due() == 1
    assert the_delivery(db)["status"] == "delivered"


async def test_a_redelivery_asked_for_mid_send_is_kept_by_the_stale_attempt() -> None:
    db, worker, clock = await world(FakePoster([(500, "HTTP 500")]), max_attempts=1)
    uow, token = FakeUnitOfWork(db), uuid4()
    async with uow:
        due = await uow.deliveries.claim_due(clock.now, 10, LEASE, token)
        await uow.commit()
    await worker.deliveries.redeliver(NORTH, None, clock.now - timedelta(days=1))
    result = await worker.deliveries.attempt(due[0])
    async with uow:
        await worker.deliveries.record(uow, token, [result])
        await uow.commit()
    delivery = the_delivery(db)
    assert (delivery["status"], delivery["next_attempt_at"]) == ("pending", clock.now)
    assert len(db.attempts) == 1  # the attempt is logged all the same


async def test_a_worker_whose_lease_ran_out_changes_nothing() -> None:
    db, worker, clock = await world(FakePoster([(500, "HTTP 500")]))
    uow, stale = FakeUnitOfWork(db), uuid4()
    async with uow:
        due = await uow.deliveries.claim_due(clock.now, 10, LEASE, stale)
        await uow.commit()
    result = await worker.deliveries.attempt(due[0])
    clock.advance(LEASE + timedelta(seconds=1))
    worker.deliveries.poster.answers[:] = [(200, None)]  # type: ignore[attr-defined]
    assert await worker.deliver_due() == 1  # another worker claims and delivers it
    async with uow:
        await worker.deliveries.record(uow, stale, [result])
        await uow.commit()
    delivery = the_delivery(db)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)


async def test_redelivery_names_what_to_send() -> None:
    db, worker, _clock = await world(FakePoster())
    with pytest.raises(InvalidReportError):
        await worker.deliveries.redeliver(NORTH, None, None)
    await worker.deliver_due()
    assert await worker.deliveries.redeliver(NORTH, list(db.deliveries), None) == 1
    assert the_delivery(db)["status"] == "pending"
    [logged] = await worker.deliveries.deliveries(NORTH, 10)
    assert [a["attempt"] for a in logged["log"]] == [1]
