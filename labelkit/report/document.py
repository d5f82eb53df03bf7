"""The report as data: sections of text, tables and figures built from a build's results.

Both renderers (Markdown, HTML) walk the same document, so they always show the same numbers.
Strings here are raw data; the renderers escape them. The static pages are documents of this model:
report.md/report.html, repair.md and `labelkit monitor`'s monitor.html (whose line charts, `Charts`,
are drawn by the HTML renderer only).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MAX_TEXT = 280
MAX_EXAMPLE_ROWS = 15
MAX_SLICE_ROWS = 60
EXAMPLE_TEXT = 160  # an example row's text is cut to this many characters


@dataclass
class Text:
    text: str
    style: str = "normal"  # normal | muted | warning | good | verdict-ok | verdict-warning | verdict-error
    label: str = ""  # a bold lead-in ("Verdict:"), not data


@dataclass
class Bullets:
    items: list[str]
    style: str = "normal"  # normal | warning | error


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    flagged: list[bool] = field(default_factory=list)  # rows to highlight (guardrail failures...)
    caption: str = ""
    text_columns: tuple[int, ...] = ()  # free-text columns: wrap between words; every other cell stays on one line
    collapsed: str = ""  # when set, the table is folded away under this summary line
    number_columns: tuple[int, ...] = ()  # numbers: right-aligned (HTML), digits in columns


@dataclass
class Figure:
    kind: str  # a plot name in labelkit.report.plots.PLOTS
    data: object  # what the plot draws: results records (labelkit.results) or a dict of them
    alt: str
    fallback: list = field(default_factory=list)  # tables shown instead where no chart is drawn (report.md)


@dataclass
class LineChart:
    """A value over named points (windows), with the band it should stay in; alerting points stand out."""
    title: str
    points: list[str]  # each point's name, in order
    values: list[float]  # nan: no value at that point
    lower: list[float] = field(default_factory=list)  # the band, per point; nan: open on that side
    upper: list[float] = field(default_factory=list)
    alerting: list[bool] = field(default_factory=list)
    text: Callable[[float], str] = str  # a value as people read it (the axis ends, each point's tooltip)


@dataclass
class Charts:
    """Line charts side by side (inline SVG in HTML; not drawn in Markdown)."""
    charts: list[LineChart]


@dataclass
class Section:
    key: str
    title: str
    blocks: list = field(default_factory=list)
    nav: str = ""  # a short name for the page's table of contents (default: the title)


def pct(value) -> str:
    """0.8734 -> '87.3%'; None -> '–'."""
    if value is None:
        return "–"
    return f"{100 * float(value):.1f}%"


def points(value) -> str:
    """Signed difference in percentage points."""
    return "–" if value is None else f"{100 * float(value):+.1f} pts"


def short(text, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
