"""Charts drawn on the server as inline SVG: no script, no web font, a data table behind each.

The SVG has no viewBox: its text keeps the page's size at any width, and only the bars (in
percent of the width) stretch. A label and its figure share a line when both fit on a phone,
else the figure goes on a line of its own, so neither is ever cut.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from html import escape

from ledger.domain.yuan import format_yuan_grouped

# The narrowest width a chart gets: a 360-pixel phone less the page's margins.
NARROW_PX = 320
LABEL_PX = 16
VALUE_PX = 15
LINE_PX = 22
BAR_PX = 14
GAP_PX = 12
# Colours with at least 4.5:1 contrast against white.
COLOURS = ("#1d4e89", "#a4461a", "#2e6b30", "#6a1b9a", "#7a5c00", "#b71c1c", "#00695c")
TRACK = "#d5deea"


@dataclass(frozen=True)
class Bar:
    label: str
    value_fen: int
    part_fen: int | None = None  # drawn inside the bar, e.g. spent within granted


def text_px(text: str, size_px: int) -> float:
    """A generous estimate of a text's width: a CJK character is a square, others about 0.6."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in {"W", "F"})
    return (wide + 0.6 * (len(text) - wide)) * size_px


def _figure(bar: Bar) -> str:
    if bar.part_fen is None:
        return format_yuan_grouped(bar.value_fen)
    return f"{format_yuan_grouped(bar.part_fen)} / {format_yuan_grouped(bar.value_fen)}"


def _percent(fen: int, scale_max: int) -> str:
    return f"{100 * max(fen, 0) / scale_max:.2f}%"


def bar_chart(bars: list[Bar], *, title: str, description: str, chart_id: str) -> str:
    """Horizontal bars, each with its label and figure above it; labelled for screen readers."""
    if not bars:
        return ""
    scale_max = max(max(b.value_fen, b.part_fen or 0) for b in bars) or 1
    one_line = all(
        text_px(b.label, LABEL_PX) + text_px(_figure(b), VALUE_PX) + GAP_PX <= NARROW_PX
        for b in bars
    )
    text_lines = 1 if one_line else 2
    row_px = text_lines * LINE_PX + BAR_PX + GAP_PX
    height = len(bars) * row_px
    parts = [
        f'<svg class="chart" width="100%" height="{height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for index, bar in enumerate(bars):
        y = index * row_px
        bar_y = y + text_lines * LINE_PX
        label_y = y + LINE_PX - 6
        if one_line:
            value = f'<text x="100%" y="{label_y}" text-anchor="end" class="chart-value">'
        else:
            value = f'<text x="0" y="{label_y + LINE_PX}" class="chart-value">'
        full = _percent(bar.value_fen, scale_max)
        if bar.part_fen is None:
            colour = COLOURS[index % len(COLOURS)]
            shapes = f'<rect x="0" y="{bar_y}" width="{full}" height="{BAR_PX}" fill="{colour}"/>'
        else:
            inner = _percent(bar.part_fen, scale_max)
            shapes = (
                f'<rect x="0" y="{bar_y}" width="{full}" height="{BAR_PX}" fill="{TRACK}"/>'
                f'<rect x="0" y="{bar_y}" width="{inner}" height="{BAR_PX}" fill="{COLOURS[0]}"/>'
            )
        parts.append(
            f'<text x="0" y="{label_y}" class="chart-label">{escape(bar.label)}</text>'
            f"{value}{escape(_figure(bar))}</text>{shapes}"
        )
    parts.append("</svg>")
    return "".join(parts)
