"""Charts drawn on the server as inline SVG: no script, no web font, a data table behind each."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ledger.domain.yuan import format_yuan_grouped

# Drawn at phone width so the text stays legible when the chart fills a 360-pixel screen.
WIDTH_PX = 360
LINE_PX = 20
BAR_PX = 16
ROW_PX = LINE_PX + BAR_PX + 12
# Colours with at least 4.5:1 contrast against white.
COLOURS = ("#1d4e89", "#a4461a", "#2e6b30", "#6a1b9a", "#7a5c00", "#b71c1c", "#00695c")
TRACK = "#d5deea"


@dataclass(frozen=True)
class Bar:
    label: str
    value_fen: int
    part_fen: int | None = None  # drawn inside the bar, e.g. spent within granted


def bar_chart(bars: list[Bar], *, title: str, description: str, chart_id: str) -> str:
    """Horizontal bars, each with its label and figure above it; labelled for screen readers."""
    if not bars:
        return ""
    scale_max = max(max(b.value_fen, b.part_fen or 0) for b in bars) or 1
    height = len(bars) * ROW_PX + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH_PX} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for index, bar in enumerate(bars):
        y = index * ROW_PX
        full = round(WIDTH_PX * max(bar.value_fen, 0) / scale_max)
        if bar.part_fen is None:
            figure = format_yuan_grouped(bar.value_fen)
            shapes = (
                f'<rect x="0" y="{y + LINE_PX}" width="{full}" height="{BAR_PX}" '
                f'fill="{COLOURS[index % len(COLOURS)]}"/>'
            )
        else:
            inner = round(WIDTH_PX * max(bar.part_fen, 0) / scale_max)
            figure = f"{format_yuan_grouped(bar.part_fen)} / {format_yuan_grouped(bar.value_fen)}"
            shapes = (
                f'<rect x="0" y="{y + LINE_PX}" width="{full}" height="{BAR_PX}" fill="{TRACK}"/>'
                f'<rect x="0" y="{y + LINE_PX}" width="{inner}" height="{BAR_PX}" '
                f'fill="{COLOURS[0]}"/>'
            )
        parts.append(
            f'<text x="0" y="{y + LINE_PX - 5}" class="chart-label">{escape(bar.label)}</text>'
            f'<text x="{WIDTH_PX}" y="{y + LINE_PX - 5}" text-anchor="end" '
            f'class="chart-value">{escape(figure)}</text>{shapes}'
        )
    parts.append("</svg>")
    return "".join(parts)
