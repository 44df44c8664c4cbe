"""Free text of the agency API: control characters other than tabs and line breaks (NUL
above all, which no PostgreSQL text holds) are refused with 422 naming the field, never 500."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from tests.integration.agency_gateway.stack import GatewayStack


def activity(**changes: Any) -> dict[str, Any]:
    return {
        "activity_id": f"ACT-{uuid4().hex[:8]}",
        "type": "note",
        "direction": "outbound",
        "outcome": "delivered",
        "at": datetime.now(UTC).isoformat(),
    } | changes


async def test_control_characters_in_free_text_are_refused_naming_the_field(
    stack: GatewayStack,
) -> None:
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    path = f"/v1/assignments/{assignment['assignment_id']}"
    agency = stack.agency(assignment["agency_id"])
    refused = [
        ("activities", activity(text="agreed\x00to pay"), "text"),
        ("activities", activity(text="bell \x07 and escape \x1b[2J"), "text"),
        ("activities", activity(type="call", outcome="no_answer", text="\x00"), "text"),
        ("return", {"reason": "no\x00capacity"}, "reason"),
        ("escalations", {"note": "see\x00file"}, "note"),
    ]
    for action, body, field in refused:
        answer = await stack.gateway.post(f"{path}/{action}", json=body, headers=agency)
        assert answer.status_code == 422, (action, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in answer.json()["errors"]], answer.text
    lines = await stack.gateway.post(
        f"{path}/activities", json=activity(text="two\r\nlines\tand a tab"), headers=agency
    )
    assert lines.status_code == 201, lines.text
