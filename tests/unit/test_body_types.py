"""Booleans and counts in request bodies are JSON booleans and integers: pydantic's lax mode
would read ``0`` as false, ``"yes"`` as true and ``"5"`` or ``5.0`` as 5, none of which the
OpenAPI documents allow (schemathesis's negative_data_rejection sends them)."""

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.agency_gateway.api.models import (
    ActivityReport,
    AgencyTerms,
    LenderEscalationRequest,
)
from services.intake.api.schemas import PreferencesRequest

CONSENT = {"kind": "direct_call_consent", "granted": True, "recorded_at": "2026-01-01T00:00:00Z"}
ACTIVITY = {
    "activity_id": "ACT-1",
    "type": "visit",
    "direction": "outbound",
    "outcome": "answered",
    "at": "2026-01-01T00:00:00Z",
    "recording_id": "R-1",
    "staff_count": 2,
}
TERMS = {"name": "North", "jurisdictions": ["CN"], "capacity": 10, "share": 1}


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (PreferencesRequest, {"consents": [CONSENT | {"granted": 0}]}, "consents.0.granted"),
        (PreferencesRequest, {"cease_communication": "true"}, "cease_communication"),
        (PreferencesRequest, {"attorney_represented": 1}, "attorney_represented"),
        (ActivityReport, ACTIVITY | {"staff_count": "2"}, "staff_count"),
        (ActivityReport, ACTIVITY | {"staff_count": 2.0}, "staff_count"),
        (AgencyTerms, TERMS | {"capacity": "10"}, "capacity"),
        (AgencyTerms, TERMS | {"share": True}, "share"),
        (AgencyTerms, TERMS | {"active": "no"}, "active"),
        (LenderEscalationRequest, {"approve": 0}, "approve"),
    ],
)
def test_a_lax_boolean_or_integer_is_refused(
    model: type[BaseModel], body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    assert field in {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


def test_the_same_bodies_with_json_types_are_valid() -> None:
    PreferencesRequest.model_validate({"consents": [CONSENT], "cease_communication": True})
    ActivityReport.model_validate(ACTIVITY)
    AgencyTerms.model_validate(TERMS | {"active": False})
    LenderEscalationRequest.model_validate({"approve": False})
