"""The report as data: sections of text, tables and figures built from a build's results.

Both renderers (Markdown, HTML) walk the same document, so they always show the same numbers.
Strings here are raw data; the renderers escape them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_TEXT = 280
MAX_EXAMPLE_ROWS = 15
MAX_SLICE_ROWS = 60


@dataclass
class Text:
    text: str
    style: str = "normal"  # normal | verdict | warning | muted


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    flagged: list[bool] = field(default_factory=list)  # rows to highlight (guardrail failures...)
    caption: str = ""


@dataclass
class Figure:
    kind: str  # a plot name in labelkit.report.plots.PLOTS
    data: object  # what the plot draws: results records (labelkit.results) or a dict of them
    alt: str


@dataclass
class Section:
    key: str
    title: str
    blocks: list = field(default_factory=list)


def pct(value) -> str:
    """0.8734 -> '87.3%'; None -> '–'."""
    if value is None:
        return "–"
    return f"{100 * float(value):.1f}%"


def interval(ci) -> str:
    if not ci or len(ci) != 2:
        return ""
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def points(value) -> str:
    """Signed difference in percentage points."""
    return "–" if value is None else f"{100 * float(value):+.1f} pts"


def short(text, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
