"""The per-agency report's charts, drawn on the server as inline SVG: horizontal bars, one per
label, with the geometry computed here and the markup in ``console_templates/chart.html``
(a ``<title>`` and ``<desc>``, and the same figures in a table beside it)."""

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 560
LABEL_WIDTH = 200
VALUE_WIDTH = 48
ROW = 28
BAR = 18


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: int  # in px, proportional to the largest value


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    description: str
    unit: str  # the table's value column
    bars: list[Bar]
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * ROW + 8


def bar_chart(chart_id: str, title: str, unit: str, values: Sequence[tuple[str, int]]) -> Chart:
    """Bars for ``values`` (label, count) in their order; the description says in words what
    the bars show, for a screen reader (the table beside it has every figure)."""
    top = max((value for _, value in values), default=0)
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = [
        Bar(label, value, 4 + row * ROW, round(span * value / top) if top else 0)
        for row, (label, value) in enumerate(values)
    ]
    if not values:
        description = "No figures in this period."
    else:
        largest = max(values, key=lambda pair: pair[1])
        description = (
            f"{len(values)} bars, one per row of the table beside it; the largest is "
            f"{largest[0]} with {largest[1]} {unit}."
        )
    return Chart(chart_id, title, description, unit, bars)
