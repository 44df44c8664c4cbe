"""The gateway's consumer: each event type to its use case (``application/lifecycle.py``;
data requests: ``application/personal_data.py``)."""

from services.agency_gateway.adapters.unit_of_work import GatewayUnitOfWork
from services.agency_gateway.application.lifecycle import LifecycleHandlers
from services.agency_gateway.application.personal_data import DataRequestHandlers
from shared.contact_rules.sources import MESSAGE_OUTCOMES
from shared.events.catalog import (
    AGENCY_NOTICE_SENT,
    CONTACT_PREFERENCES_UPDATED,
    DATA_REQUESTED,
    HOLD_LIFTED,
    HOLD_PLACED,
    LOAN_CLOSED,
    NOTIFICATION_EVENTS,
    OPT_OUT_RECORDED,
    OVERDUE_REPORTED,
    PAYMENT_RECEIVED,
    PLACEMENT_RECALLED,
)
from shared.kafka.handlers import EventHandlers

GROUP = "agency-gateway"
LIFECYCLE = (PAYMENT_RECEIVED, HOLD_PLACED, HOLD_LIFTED, PLACEMENT_RECALLED, LOAN_CLOSED)


def event_handlers(
    use_cases: LifecycleHandlers, data_requests: DataRequestHandlers
) -> EventHandlers[GatewayUnitOfWork]:
    """Each batch's run of events of a type to its use case, in the batch's unit of work."""
    handlers = EventHandlers[GatewayUnitOfWork]()
    handlers.on(OVERDUE_REPORTED, use_cases.reports)
    for lifecycle in LIFECYCLE:
        handlers.on(lifecycle, use_cases.lifecycle)
    handlers.on(CONTACT_PREFERENCES_UPDATED, use_cases.preferences)
    handlers.on(AGENCY_NOTICE_SENT, use_cases.notices)
    handlers.on(OPT_OUT_RECORDED, use_cases.opt_outs)
    handlers.on(DATA_REQUESTED, data_requests.answer)
    for status in MESSAGE_OUTCOMES:
        handlers.on(NOTIFICATION_EVENTS[status], use_cases.lender_sends)
    return handlers
