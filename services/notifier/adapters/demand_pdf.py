"""The demand letter as a PDF (ReportLab): the letter's rendered text, one paragraph per block,
Chinese set in ReportLab's built-in CID font ``STSong-Light`` (no font file needed)."""

from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

CJK_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


class ReportLabLetters:
    """``LetterPrinter``: a letter's title and text made into PDF bytes."""

    def pdf(self, title: str, text: str, locale: str) -> bytes:
        chinese = locale.lower().startswith("zh")
        font = CJK_FONT if chinese else "Helvetica"
        body = ParagraphStyle(
            "body", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK" if chinese else None
        )
        heading = ParagraphStyle("heading", parent=body, fontSize=14, leading=20)
        out = BytesIO()
        document = SimpleDocTemplate(
            out, pagesize=A4, title=title, leftMargin=20 * mm, rightMargin=20 * mm
        )
        story: list[Flowable] = [Paragraph(escape(title), heading), Spacer(1, 6 * mm)]
        for block in text.split("\n\n"):
            lines = "<br/>".join(escape(line) for line in block.strip().splitlines())
            if lines:
                story += [Paragraph(lines, body), Spacer(1, 3 * mm)]
        document.build(story)
        return out.getvalue()
