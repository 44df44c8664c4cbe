"""The statement as a PDF (ReportLab), Chinese and English side by side; Chinese in ReportLab's
built-in CID font ``STSong-Light`` (no font file)."""

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.compliance.domain.statement import Statement

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

TITLE = ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20, spaceAfter=6)
HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=11, leading=15, spaceBefore=8)
BODY = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11)
CELL = ParagraphStyle("cell", fontName=FONT, fontSize=7, leading=9)


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(text), style)


def _cells(*texts: str) -> list[Paragraph]:
    return [_p(text, CELL) for text in texts]


def render_statement(statement: Statement) -> bytes:
    """The statement's PDF bytes."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Statement of loan {statement.loan_id}",
        author="Collections compliance audit log",
    )
    story: list[Flowable] = [
        _p(f"贷款账目说明 / Statement of loan {statement.loan_id}", TITLE),
        _p(f"出借人 / Lender: {statement.lender_id}"),
        _p(f"贷款 / Loan: {statement.loan_id}"),
        _p(
            "法律程序阶段 / Legal stage: "
            + (
                f"{statement.legal_stage_zh} / {statement.legal_stage}"
                if statement.legal_stage
                else "无 / none"
            )
        ),
        _p(
            f"审计日志签名检查点 / Signed audit-log checkpoint: {statement.tree_size} 条 / "
            f"entries, root {statement.root_hash}"
        ),
        _p(
            "以下每一行均为审计日志条目（编号即 leaf index），可用 entries.jsonl 与 proofs.json "
            "离线验证，见 VERIFY.md。 / Every line below is an audit-log entry (its number is its "
            "leaf index), verifiable offline with entries.jsonl and proofs.json: see VERIFY.md."
        ),
    ]
    for section, lines in statement.sections:
        story.append(_p(f"{section.zh} / {section.en}", HEADING))
        if not lines:
            story.append(_p("无 / none"))
            continue
        rows = [[_p(h, CELL) for h in ("#", "时间 / Time", "事件 / Event", "内容 / Details")]]
        rows += [
            [_p(str(line.leaf_index), CELL), _p(line.time, CELL), *_cells(line.what, line.details)]
            for line in lines
        ]
        table = Table(rows, colWidths=[12 * mm, 38 * mm, 48 * mm, 82 * mm], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story += [Spacer(1, 2 * mm), table]
    document.build(story)
    return buffer.getvalue()
