"""The console for auditors and lender operations, ``/console/`` on compliance's port:
server-rendered pages (Jinja2, no front-end build) over the JSON API's use cases, signed in with
the same API keys and scoping (``console_security.py``).

Pages: the home page (who is signed in, a loan to look up), a loan's timeline with its evidence
bundle, violations with the entries they cite, the per-agency report with charts (inline SVG
beside a table), and the checkpoint's status with an in-browser inclusion-proof check
(``console_templates/proof.js``, WebCrypto SHA-256, which reads ``/console/api/...`` with the
session). An auditor sees its lender (or names one, an auditor of every lender); a lender's key
sees its own lender's loans only. Anything out of scope is a 404 page.
"""

import base64
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.compliance.api.console_charts import Chart, bar_chart
from services.compliance.api.console_security import (
    ADMITTED,
    PREFIX,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SIGN_IN_COOKIE,
    FormRefusedError,
    SecurityHeaders,
    Sessions,
    SignInRequiredError,
    clear_cookie,
    new_nonce,
    read_form,
    set_cookie,
    signed_in,
)
from services.compliance.api.dependencies import own_lender
from services.compliance.api.paging import CURSOR_PATTERN, cursor_value, next_cursor
from services.compliance.application.console import (
    ConsoleReads,
    EntryNotFoundError,
    checkpoint_status,
    entry_at,
    loan_timeline,
    violations_with_evidence,
)
from services.compliance.application.errors import (
    LenderRequiredError,
    LoanNotFoundError,
    OtherLenderError,
    OutOfRangeError,
)
from services.compliance.application.evidence import EvidenceBundles
from services.compliance.application.log_writer import LogWriter
from services.compliance.application.ports import Clock, EntryRow, Period, ViolationFilter
from services.compliance.application.proofs import inclusion_proof
from services.compliance.application.reports import agencies_report
from services.compliance.application.scope import lender_in_scope
from shared.auth import ALL_LENDERS, Authenticator, Principal
from shared.events.limits import IDENTIFIER_PATTERN
from shared.http.params import LoanId
from shared.promises import PromiseStatus

TEMPLATES = Path(__file__).parent / "console_templates"
STATIC = {
    "console.css": "text/css; charset=utf-8",
    "proof.js": "text/javascript; charset=utf-8",
}
ASSETS = {name: (TEMPLATES / name).read_bytes() for name in STATIC}
PAGE = 50  # violations per page
_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

ConsoleReadsFactory = Callable[[], AbstractAsyncContextManager[ConsoleReads]]


@dataclass(frozen=True)
class ConsoleSite:
    """What the console's routes are given (``app.state.console`` of its sub-application)."""

    sessions: Sessions
    authenticator: Authenticator
    reads: ConsoleReadsFactory  # each statement on its own
    consistent_reads: ConsoleReadsFactory  # one transaction
    writer: LogWriter
    clock: Clock
    evidence: EvidenceBundles


def site_of(request: Request) -> ConsoleSite:
    site: ConsoleSite = request.app.state.console
    return site


Session = Annotated[Principal, Depends(signed_in)]
LenderParam = Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)]
router = APIRouter()


# --- rendering ---------------------------------------------------------------------------


def moment(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


_templates.globals.update(prefix=PREFIX, moment=moment)


def render(
    request: Request,
    template: str,
    title: str,
    principal: Principal | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    sign_out = site_of(request).sessions.csrf_for("sign-out", cookie) if principal else ""
    html = _templates.get_template(template).render(
        title=title,
        principal=principal,
        every_lender=principal is not None and principal.tenant == ALL_LENDERS,
        sign_out_csrf=sign_out,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def message(
    request: Request, status: int, heading: str, body: str, principal: Principal | None = None
) -> HTMLResponse:
    return render(request, "message.html", heading, principal, status, heading=heading, body=body)


async def _principal_if_any(request: Request) -> Principal | None:
    try:
        return await signed_in(request)
    except SignInRequiredError:
        return None


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(f"{PREFIX}/api/")


async def _sign_in_required(request: Request, _error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": "Sign in to the console."}, status_code=401)
    target = request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    response = RedirectResponse(f"{PREFIX}/sign-in?{urlencode({'next': target})}", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        clear_cookie(response, request, SESSION_COOKIE)
    return response


async def _not_found(request: Request, error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": "Not found."}, status_code=404)
    body = (
        str(error)
        if isinstance(error, LoanNotFoundError)
        else "Nothing of that is visible to this key."
    )
    return message(request, 404, "Not found", body, await _principal_if_any(request))


async def _invalid(request: Request, error: Exception) -> Response:
    if isinstance(error, RequestValidationError):
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        detail = f"Check {', '.join(fields)}."
    else:
        assert isinstance(error, LenderRequiredError | OutOfRangeError)
        fields = [error.field]
        detail = f"{error.field}: {error}."
    if _is_api(request):
        return JSONResponse({"detail": detail, "fields": fields}, status_code=422)
    return message(request, 422, "Invalid request", detail, await _principal_if_any(request))


async def _form_refused(request: Request, _error: Exception) -> Response:
    body = "This form did not come from the console's own page, or it expired. Reload the page."
    return message(request, 403, "Form refused", body)


# --- static files, sign-in, sign-out -----------------------------------------------------


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    return Response(ASSETS[name], media_type=STATIC[name])


def _next(value: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if (
        value
        and value.startswith(f"{PREFIX}/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return f"{PREFIX}/"


def _sign_in_page(
    request: Request, status: int = 200, problem: str | None = None, after: str | None = None
) -> Response:
    nonce = new_nonce()
    response = render(
        request,
        "sign_in.html",
        "Sign in",
        status=status,
        csrf=site_of(request).sessions.csrf_for("sign-in", nonce),
        next=_next(after or request.query_params.get("next")),
        problem=problem,
    )
    set_cookie(response, request, SIGN_IN_COOKIE, nonce, 3600)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    fields = await read_form(request)
    site = site_of(request)
    if not site.sessions.csrf_valid(
        "sign-in", request.cookies.get(SIGN_IN_COOKIE), fields.get("csrf")
    ):
        raise FormRefusedError
    api_key = fields.get("api_key", "").strip()
    principal = await site.authenticator.authenticate(api_key) if api_key else None
    if principal is None or principal.role not in ADMITTED:
        problem = "This key is unknown or revoked, or it is not an auditor's or a lender's."
        return _sign_in_page(request, 401, problem, fields.get("next"))
    response = RedirectResponse(_next(fields.get("next")), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, site.sessions.seal(api_key), SESSION_SECONDS)
    clear_cookie(response, request, SIGN_IN_COOKIE)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    fields = await read_form(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not site_of(request).sessions.csrf_valid("sign-out", cookie, fields.get("csrf")):
        raise FormRefusedError
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    clear_cookie(response, request, SESSION_COOKIE)
    return response


# --- pages -------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, principal: Session) -> Response:
    return render(request, "home.html", "Console", principal, current="home")


@router.get("/loans")
async def find_loan(
    principal: Session,
    loan_id: Annotated[str, Query(pattern=IDENTIFIER_PATTERN)],
    lender_id: LenderParam = None,
) -> Response:
    """The home page's lookup form: to the loan's timeline."""
    query = f"?{urlencode({'lender_id': lender_id})}" if lender_id else ""
    return RedirectResponse(f"{PREFIX}/loans/{loan_id}{query}", status_code=303)


KINDS: tuple[tuple[str, str], ...] = (
    ("collections.loan.overdue-reported", "Report"),
    ("collections.loan.payment-received", "Payment"),
    ("collections.agency.payment-reported", "Payment"),
    ("collections.loan.hold-", "Hold"),
    ("collections.borrower.dispute-", "Dispute"),
    ("collections.loan.dispute-", "Dispute"),
    ("collections.agency.dispute-", "Dispute"),
    ("collections.notification.", "Notice"),
    ("collections.assignment.legal-stage-changed", "Legal stage"),
    ("collections.assignment.escalation-decided", "Legal stage"),
    ("collections.assignment.", "Placement"),
    ("collections.loan.placement-recalled", "Placement"),
    ("collections.agency.activity-recorded", "Contact"),
    ("collections.agency.promise-recorded", "Promise"),
    ("collections.loan.closed", "Closure"),
    ("collections.borrower.", "Borrower"),
    ("collections.compliance.", "Violation"),
)
SHOWN = (
    "at",
    "amount_overdue",
    "days_past_due",
    "amount",
    "outstanding",
    "cured",
    "reason",
    "hold_id",
    "dispute_id",
    "source",
    "outcome",
    "corrected_amount",
    "kind",
    "step",
    "channel",
    "status",
    "agency_id",
    "type",
    "direction",
    "stage",
    "previous",
    "due_date",
    "rule_id",
    "request_id",
    "service",
)


def kind_of(event_type: str) -> str:
    return next((label for prefix, label in KINDS if event_type.startswith(prefix)), "Other")


def _shown(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:
        return f"{value['amount']} {value['currency']}"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def summary(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields of an entry's data a reader looks for, in a fixed order (the rest is in the
    entry itself and the evidence bundle)."""
    return [(name, _shown(data[name])) for name in SHOWN if data.get(name) is not None]


def timeline_row(row: EntryRow) -> dict[str, Any]:
    entry = orjson.loads(bytes(row["entry"]))
    data = entry.get("data") if isinstance(entry, dict) else None
    return {
        "leaf_index": row["leaf_index"],
        "time": row["event_time"],
        "type": row["event_type"],
        "kind": kind_of(row["event_type"]),
        "loan_id": row["loan_id"],
        "summary": summary(data if isinstance(data, dict) else {}),
    }


@router.get("/loans/{loan_id}", response_class=HTMLResponse)
async def timeline(
    request: Request,
    principal: Session,
    loan_id: LoanId,
    lender_id: LenderParam = None,
) -> Response:
    lender = lender_in_scope(own_lender(principal), lender_id, naming_a_loan=True)
    assert lender is not None  # naming a loan, a lender is always known here
    async with site_of(request).reads() as read:
        rows = await loan_timeline(read, lender, loan_id)
    evidence = f"{PREFIX}/loans/{loan_id}/evidence"
    if principal.tenant == ALL_LENDERS:
        evidence += f"?{urlencode({'lender_id': lender})}"
    return render(
        request,
        "timeline.html",
        f"Loan {loan_id}",
        principal,
        loan_id=loan_id,
        lender_id=lender,
        rows=[timeline_row(row) for row in rows],
        evidence=evidence,
    )


@router.get("/loans/{loan_id}/evidence")
async def evidence_bundle(
    request: Request,
    principal: Session,
    loan_id: LoanId,
    lender_id: LenderParam = None,
) -> Response:
    """The loan's evidence bundle, as ``GET /v1/loans/{loan_id}/evidence`` makes it."""
    lender = lender_in_scope(own_lender(principal), lender_id, naming_a_loan=True)
    assert lender is not None
    site = site_of(request)
    async with site.consistent_reads() as read:
        archive = await site.evidence.bundle(read, lender, loan_id)
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{loan_id}.zip"'},
    )


STATUSES = ("standing", "retracted", "all")


@router.get("/violations", response_class=HTMLResponse)
async def violations(
    request: Request,
    principal: Session,
    lender_id: LenderParam = None,
    rule_id: Annotated[str | None, Query(pattern=r"^([A-Z]+-\d+)?$", max_length=20)] = None,
    agency_id: Annotated[
        str | None, Query(pattern=r"^([A-Za-z0-9][A-Za-z0-9._:\-]{0,63})?$")
    ] = None,
    loan_id: Annotated[str | None, Query(pattern=r"^([A-Za-z0-9][A-Za-z0-9._:\-]{0,63})?$")] = None,
    status: Annotated[str, Query(pattern="^(standing|retracted|all)$")] = "standing",
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> Response:
    """Violations in log order with the entries each cites; empty filters are no filter (the
    form sends every field)."""
    lender = lender_in_scope(own_lender(principal), lender_id or None, naming_a_loan=bool(loan_id))
    where = ViolationFilter(
        lender_id=lender,
        rule_id=rule_id or None,
        agency_id=agency_id or None,
        loan_id=loan_id or None,
        status=status,  # type: ignore[arg-type]  # the pattern admits the three only
        after_index=cursor_value(cursor),
    )
    async with site_of(request).reads() as read:
        found = await violations_with_evidence(read, where, PAGE)
    rows = [cited.violation for cited in found]
    following = next_cursor(rows, PAGE)
    filters = {
        "lender_id": lender_id or "",
        "rule_id": rule_id or "",
        "agency_id": agency_id or "",
        "loan_id": loan_id or "",
        "status": status,
    }
    more = f"?{urlencode({**filters, 'cursor': following})}" if following else None
    return render(
        request,
        "violations.html",
        "Violations",
        principal,
        current="violations",
        found=[
            {"violation": cited.violation, "evidence": [timeline_row(e) for e in cited.evidence]}
            for cited in found
        ],
        filters=filters,
        statuses=STATUSES,
        more=more,
    )


def _day_start(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time(0), tzinfo=UTC)


@router.get("/reports/agencies", response_class=HTMLResponse)
async def agencies(
    request: Request,
    principal: Session,
    lender_id: LenderParam = None,
    time_from: Annotated[date | None, Query(alias="from")] = None,
    time_to: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """The per-agency report of ``GET /v1/reports/agencies``, for days ``[from, to)`` (UTC),
    with a chart of each figure."""
    lender = lender_in_scope(own_lender(principal), lender_id or None, naming_a_loan=False)
    site = site_of(request)
    period = Period(lender, _day_start(time_from), _day_start(time_to))
    async with site.consistent_reads() as read:
        found = await agencies_report(read, period, site.clock.now().date())
    rows: list[dict[str, Any]] = [
        {
            "agency_id": agency.agency_id,
            "contacts": sum(agency.contacts_by_channel.values()),
            "contacts_by_channel": sorted(agency.contacts_by_channel.items()),
            "violations": sum(agency.violations_by_rule.values()),
            "violations_by_rule": sorted(agency.violations_by_rule.items()),
            "promises": {status.value: agency.promises[status] for status in PromiseStatus},
        }
        for agency in found
    ]
    charts: list[Chart] = [
        bar_chart(
            "chart-contacts",
            "Contacts by agency",
            "contacts",
            [(row["agency_id"], row["contacts"]) for row in rows],
        ),
        bar_chart(
            "chart-violations",
            "Standing violations by agency",
            "violations",
            [(row["agency_id"], row["violations"]) for row in rows],
        ),
        bar_chart(
            "chart-promises",
            "Promises due in the period, by agency and status",
            "promises",
            [
                (f"{row['agency_id']} {status.value}", row["promises"][status.value])
                for row in rows
                for status in PromiseStatus
            ],
        ),
    ]
    return render(
        request,
        "report.html",
        "Agencies report",
        principal,
        current="report",
        rows=rows,
        charts=charts,
        lender_id=lender_id or "",
        time_from=time_from.isoformat() if time_from else "",
        time_to=time_to.isoformat() if time_to else "",
        scope=lender or "every lender",
    )


@router.get("/checkpoint", response_class=HTMLResponse)
async def checkpoint(
    request: Request,
    principal: Session,
    leaf_index: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    site = site_of(request)
    async with site.reads() as read:
        status = await checkpoint_status(read, site.writer, site.clock.now())
    signed = status.signed
    return render(
        request,
        "checkpoint.html",
        "Checkpoint",
        principal,
        current="checkpoint",
        signed=signed,
        root_hex=signed.root_hash.hex(),
        age=duration(status.age),
        leaf_index="" if leaf_index is None else leaf_index,
    )


# --- what the inclusion check reads with the session --------------------------------------


@router.get("/api/entries/{leaf_index}")
async def entry(request: Request, principal: Session, leaf_index: int) -> JSONResponse:
    """The entry at ``leaf_index`` (its canonical bytes, base64), if in the key's scope."""
    if leaf_index < 0:
        raise EntryNotFoundError("no such entry")
    async with site_of(request).reads() as read:
        row = await entry_at(read, own_lender(principal), leaf_index)
    return JSONResponse(
        {
            "leaf_index": row["leaf_index"],
            "leaf_hash": bytes(row["leaf_hash"]).hex(),
            "canonical": base64.b64encode(bytes(row["entry"])).decode(),
            "type": row["event_type"],
        }
    )


@router.get("/api/proofs/inclusion")
async def proof(
    request: Request,
    _principal: Session,
    leaf_index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> JSONResponse:
    """``GET /v1/audit/proofs/inclusion``'s answer, to the session (hashes only: every key)."""
    async with site_of(request).reads() as read:
        hashes = await inclusion_proof(read.log, leaf_index, tree_size)
    return JSONResponse(
        {"leaf_index": leaf_index, "tree_size": tree_size, "hashes": [h.hex() for h in hashes]}
    )


def create_console(site: ConsoleSite) -> FastAPI:
    """The console as an application of its own, mounted at ``/console`` by wiring: its own
    error pages and security headers, and no OpenAPI document (it is HTML, not the API)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.console = site
    app.include_router(router)
    app.add_exception_handler(SignInRequiredError, _sign_in_required)
    app.add_exception_handler(OtherLenderError, _not_found)
    app.add_exception_handler(LoanNotFoundError, _not_found)
    app.add_exception_handler(EntryNotFoundError, _not_found)
    app.add_exception_handler(LenderRequiredError, _invalid)
    app.add_exception_handler(OutOfRangeError, _invalid)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(FormRefusedError, _form_refused)
    app.add_middleware(SecurityHeaders)
    return app
