"""The statement of a loan for a judge, free of I/O: what the log's entries say, in Chinese and
English, section by section (the PDF adapter only lays it out).

Sections: the debt and its history (reports, payments, promises, holds, disputes and their
resolution, closure), the notices sent with their delivery, the placements and the CN-09
notice, every contact by every party with its outcome, the violations found, the legal stage
(from ``LEGAL_STAGE_CHANGED`` entries) and anything else the log holds of the loan. Each line
names its leaf index, so every line can be checked against ``entries.jsonl``.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.compliance.domain.evidence import LoggedEntry
from shared.events import catalog as c

# The fields a line shows, in this order, where the entry's data has them.
SHOWN = (
    "amount_overdue",
    "amount",
    "corrected_amount",
    "due_date",
    "days_past_due",
    "cured",
    "reason",
    "kind",
    "channel",
    "template",
    "step",
    "status",
    "provider",
    "agency_id",
    "agency_name",
    "type",
    "direction",
    "outcome",
    "source",
    "granted",
    "stage",
    "previous",
    "reported_by",
    "rule_id",
    "party",
    "explanation",
)
TIMES = (
    "changed_at",
    "at",
    "paid_at",
    "placed_at",
    "lifted_at",
    "resolved_at",
    "recorded_at",
    "as_of",
    "contact_at",
)


@dataclass(frozen=True)
class Section:
    key: str
    zh: str
    en: str
    types: frozenset[str]


def _names(*types: c.EventType[Any]) -> frozenset[str]:
    return frozenset(t.name for t in types)


NOTICES = frozenset(t.name for t in c.NOTIFICATION_EVENTS.values())
SECTIONS = (
    Section(
        "debt",
        "债务及其历史（报告、还款、承诺、暂停、争议及其处理）",
        "The debt and its history (reports, payments, promises, holds, disputes, resolutions)",
        _names(
            c.OVERDUE_REPORTED,
            c.PAYMENT_RECEIVED,
            c.AGENCY_PAYMENT_REPORTED,
            c.PROMISE_RECORDED,
            c.HOLD_PLACED,
            c.HOLD_LIFTED,
            c.DISPUTE_OPENED,
            c.DISPUTE_RAISED,
            c.DISPUTE_RESOLVED,
            c.LOAN_CLOSED,
        ),
    ),
    Section("notices", "已发送的通知及其送达", "Notices sent and their delivery", NOTICES),
    Section(
        "placements",
        "委托催收及 CN-09 告知",
        "Placements and the CN-09 notice",
        _names(
            c.ASSIGNMENT_PLACED,
            c.ASSIGNMENT_ACKNOWLEDGED,
            c.ASSIGNMENT_RECALLED,
            c.ASSIGNMENT_RETURNED,
            c.ASSIGNMENT_EXPIRED,
            c.PLACEMENT_RECALLED,
            c.AGENCY_NOTICE_SENT,
        ),
    ),
    Section(
        "contacts",
        "各方的每次联系及其结果（出借人的联系即上述通知）",
        "Every contact by every party, with its outcome (the lender's are its notices, above)",
        _names(c.AGENCY_ACTIVITY_RECORDED),
    ),
    Section(
        "violations",
        "发现的违规",
        "Violations found",
        _names(c.VIOLATION_FOUND, c.VIOLATION_RETRACTED),
    ),
    Section(
        "legal",
        "法律程序阶段",
        "The legal stage",
        _names(c.ESCALATION_DECIDED, c.LEGAL_STAGE_CHANGED),
    ),
)
OTHER = Section("other", "日志中的其他记录", "Everything else the log holds", frozenset())
STAGES_ZH = {
    "granted": "已批准",
    "demand_sent": "已发催告函",
    "filed": "已起诉/申请仲裁",
    "judgment": "已判决",
    "settled": "已和解",
    "withdrawn": "已撤回",
}


@dataclass(frozen=True)
class Line:
    leaf_index: int
    time: str
    what: str  # the event type, short
    details: str


@dataclass
class Statement:
    loan_id: str
    lender_id: str
    tree_size: int
    root_hash: str
    legal_stage: str | None = None
    sections: list[tuple[Section, list[Line]]] = field(default_factory=list)

    @property
    def legal_stage_zh(self) -> str | None:
        return STAGES_ZH.get(self.legal_stage or "", self.legal_stage)


def statement(
    loan_id: str,
    lender_id: str,
    entries: Sequence[LoggedEntry],
    tree_size: int,
    root_hash: bytes,
) -> Statement:
    """The statement of a loan from its entries (in leaf order)."""
    made = Statement(loan_id, lender_id, tree_size, root_hash.hex())
    lines: dict[str, list[Line]] = {section.key: [] for section in (*SECTIONS, OTHER)}
    for logged in entries:
        entry = orjson.loads(logged.canonical)
        event_type = str(entry.get("type", ""))
        data = entry.get("data") if isinstance(entry.get("data"), dict) else {}
        line = _line(logged.leaf_index, event_type, entry, data)
        placed = [s for s in SECTIONS if event_type in s.types]
        for section in placed or [OTHER]:
            lines[section.key].append(line)
        if event_type == c.LEGAL_STAGE_CHANGED.name and isinstance(data.get("stage"), str):
            made.legal_stage = data["stage"]
    made.sections = [(s, lines[s.key]) for s in (*SECTIONS, OTHER)]
    return made


def _line(index: int, event_type: str, entry: dict[str, Any], data: dict[str, Any]) -> Line:
    time = next((str(data[k]) for k in TIMES if data.get(k)), str(entry.get("time", "")))
    details = [f"{k}: {_value(data[k])}" for k in SHOWN if data.get(k) not in (None, "", [])]
    demand = data.get("demand")
    if isinstance(demand, dict):
        details.append(
            f"demand: {_value(demand.get('amount'))} by {demand.get('respond_by')}"
            + (f" ({demand['agency_name']})" if demand.get("agency_name") else "")
        )
    short = event_type.removeprefix("collections.")
    return Line(index, time, short, "; ".join(details))


def _value(value: Any) -> str:
    if isinstance(value, dict) and {"amount", "currency"} <= set(value):
        return f"{value['amount']} {value['currency']}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
