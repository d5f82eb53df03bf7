"""Render a document (labelkit.report.document) as one self-contained HTML page: inline CSS, plots as
base64 PNG, charts as inline SVG, no scripts, no external URLs. The static pages are rendered here: the
build's report.html (`render_html`) and `labelkit monitor`'s monitor.html (`render_page`). Every piece of
data text, in the page and in its SVG, goes through `escape`, the one escaping path of HTML pages.

Layout: the verdict (or a first section without a title) comes first, above the table of contents. Table
cells never break inside a word or a number: only free-text columns wrap, between words, and a table
wider than the page scrolls sideways in its own box (phones). Long tables of examples are folded away in
<details>.
"""
from __future__ import annotations

import html
import math

from labelkit.report.document import Bullets, Charts, Figure, LineChart, Section, Table, Text
from labelkit.report.sections import as_results, build_sections, report_title

CSS = """
*{box-sizing:border-box}
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1120px;margin:20px auto;
padding:0 16px;color:#1f2328;line-height:1.45;font-size:15px}
h1{font-size:24px;margin:0 0 10px;overflow-wrap:break-word}
h2{font-size:19px;margin-top:32px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
nav{font-size:13px;color:#57606a;margin:10px 0 4px;border-top:1px solid #d0d7de;padding-top:6px}
nav a{color:#0969da;margin-right:12px;text-decoration:none;white-space:nowrap}
.tw{overflow-x:auto;margin:8px 0 16px;max-width:100%}
table{border-collapse:collapse;font-size:13.5px}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td{white-space:nowrap}
td.t{white-space:normal;min-width:14em;max-width:36em;overflow-wrap:break-word}
tr.flag td{background:#ffebe9}
caption{caption-side:bottom;text-align:left;font-size:12.5px;color:#57606a;padding-top:4px}
.verdict{font-size:17px;line-height:1.4;padding:10px 14px;margin:8px 0;border-left:5px solid}
.verdict b{margin-right:4px}
.verdict-ok{background:#dafbe1;border-color:#1a7f37}
.verdict-warning{background:#fff8c5;border-color:#bf8700}
.verdict-error{background:#ffebe9;border-color:#cf222e}
p.warning{background:#fff8c5;border-left:4px solid #bf8700;padding:6px 12px}
p.good{background:#dafbe1;border-left:4px solid #1a7f37;padding:6px 12px}
p.muted{color:#57606a}
ul{margin:6px 0;padding-left:22px}
ul.warning li::marker{color:#bf8700}ul.error li{color:#a40e26}
details{margin:8px 0 16px}
summary{cursor:pointer;color:#0969da;font-size:14px}
img{max-width:100%;height:auto;display:block;margin:8px 0}
"""


# Rules for the elements the build's report does not use (number columns, line charts), kept out of
# report.html so its bytes stay as they were; a page that uses them adds them to CSS.
EXTRA_CSS = """
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 16px}
.chart{margin:0;border:1px solid #d0d7de;padding:4px;max-width:100%}
.chart figcaption{margin:2px 0;font-size:13px;font-weight:600}
.chart svg{display:block;max-width:100%;height:auto}
"""


def escape(text) -> str:
    """Data text as HTML text or a quoted attribute value: the one escaping path of the HTML pages."""
    return html.escape(str(text))


def render_html(results, examples: dict | None = None, *, plots: bool = True) -> str:
    """`results`: labelkit.results.BuildResults (a metrics.json dict is read into one first)."""
    results = as_results(results)
    return render_page(report_title(results), build_sections(results, examples), plots=plots)


def render_page(title: str, sections: list[Section], *, css: str = CSS, nav: bool = True, plots: bool = True) -> str:
    """A document as a page: `title` heads it, `css` styles it, `nav` adds a table of contents."""
    head = escape(title)
    opens = bool(sections) and (sections[0].key == "verdict" or not sections[0].title)
    first, rest = (sections[0], sections[1:]) if opens else (None, sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{head}</title><style>{css}</style></head><body>",
        f"<h1>{head}</h1>",
    ]
    if first is not None:  # the verdict, before anything else
        parts.append(f'<section id="{escape(first.key)}">')
        parts += [_block(block, plots) for block in first.blocks]
        parts.append("</section>")
    if nav:
        parts.append("<nav>" + " ".join(f'<a href="#{escape(s.key)}">{escape(s.nav or s.title)}</a>' for s in rest)
                     + "</nav>")
    for section in rest:
        parts.append(f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>')
        parts += [_block(block, plots) for block in section.blocks]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _block(block, plots: bool) -> str:
    if isinstance(block, Text):
        label = f"<b>{escape(block.label)}</b> " if block.label else ""
        style = f"verdict {block.style}" if block.style.startswith("verdict") else block.style
        return f'<p class="{style}">{label}{escape(block.text)}</p>'
    if isinstance(block, Bullets):
        return f'<ul class="{block.style}">' + "".join(f"<li>{escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        drawn = _figure(block) if plots else ""
        return drawn or "\n".join(_table(t) for t in block.fallback)
    if isinstance(block, Charts):
        return '<div class="charts">' + "".join(
            f'<figure class="chart"><figcaption>{escape(c.title)}</figcaption>{_svg(c)}</figure>' for c in block.charts
        ) + "</div>"
    return ""


def _figure(figure: Figure) -> str:
    from labelkit.report.plots import render_plot

    encoded = render_plot(figure.kind, figure.data)
    if not encoded:
        return ""
    return f'<img alt="{escape(figure.alt)}" src="data:image/png;base64,{encoded}">'


def _table(table: Table) -> str:
    out = ['<div class="tw"><table>']
    if table.caption:
        out.append(f"<caption>{escape(table.caption)}</caption>")
    numbers = set(table.number_columns)
    out.append("<thead><tr>" + "".join(('<th class="n">' if j in numbers else "<th>") + f"{escape(h)}</th>"
                                       for j, h in enumerate(table.headers)) + "</tr></thead>")
    out.append("<tbody>")
    opening = {j: '<td class="t">' for j in table.text_columns} | {j: '<td class="n">' for j in numbers}
    for i, row in enumerate(table.rows):
        flag = ' class="flag"' if i < len(table.flagged) and table.flagged[i] else ""
        cells = [opening.get(j, "<td>") + escape(c) + "</td>" for j, c in enumerate(row)]
        out.append(f"<tr{flag}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    body = "".join(out)
    if table.collapsed:
        return f"<details><summary>{escape(table.collapsed)}</summary>{body}</details>"
    return body


def _svg(chart: LineChart, width: int = 320, height: int = 140) -> str:
    """A line chart as inline SVG: the band dashed, the values in blue, alerting points in red; the axis
    ends and each point's tooltip (its name and value) are the chart's text, escaped."""
    band = [v for v in (*chart.values, *chart.lower, *chart.upper) if math.isfinite(v)]
    lo, hi = (min(band), max(band)) if band else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad, n = 40, len(chart.values)

    def x(i: int) -> float:
        return pad + (width - pad - 8) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return height - 18 - (height - 28) * ((v - lo) / (hi - lo))

    def line(values: list[float]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if math.isfinite(v))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(chart.title)}">',
           f'<text x="2" y="12" font-size="10" fill="#777">{escape(chart.text(hi))}</text>',
           f'<text x="2" y="{height - 20}" font-size="10" fill="#777">{escape(chart.text(lo))}</text>']
    for bound in (chart.lower, chart.upper):
        if points := line(bound):
            out.append(f'<polyline points="{points}" fill="none" stroke="#bbb" stroke-dasharray="4 3"/>')
    out.append(f'<polyline points="{line(chart.values)}" fill="none" stroke="#2563eb" stroke-width="1.5"/>')
    for i, v in enumerate(chart.values):
        if math.isfinite(v):
            colour = "#dc2626" if i < len(chart.alerting) and chart.alerting[i] else "#2563eb"
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                       f"<title>{escape(chart.points[i])}: {escape(chart.text(v))}</title></circle>")
    if chart.points:
        out.append(f'<text x="{pad}" y="{height - 4}" font-size="10" fill="#777">{escape(chart.points[0])}</text>')
    out.append("</svg>")
    return "".join(out)
