"""Render the report document as one self-contained HTML page: inline CSS, plots as base64 PNG,
no scripts, no external URLs. Every piece of data text goes through html.escape.

Layout: the verdict comes first (above the table of contents). Table cells never break inside a word
or a number: only free-text columns wrap, between words, and a table wider than the page scrolls
sideways in its own box (phones). Long tables of examples are folded away in <details>.
"""
from __future__ import annotations

import html

from labelkit.report.document import Bullets, Figure, Table, Text
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


def render_html(results, examples: dict | None = None, *, plots: bool = True) -> str:
    """`results`: labelkit.results.BuildResults (a metrics.json dict is read into one first)."""
    results = as_results(results)
    sections = build_sections(results, examples)
    title = html.escape(report_title(results))
    first, rest = (sections[0], sections[1:]) if sections and sections[0].key == "verdict" else (None, sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
    ]
    if first is not None:  # the verdict, before anything else
        parts.append('<section id="verdict">')
        parts += [_block(block, plots) for block in first.blocks]
        parts.append("</section>")
    parts.append("<nav>" + " ".join(f'<a href="#{s.key}">{html.escape(s.nav or s.title)}</a>' for s in rest) + "</nav>")
    for section in rest:
        parts.append(f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>')
        parts += [_block(block, plots) for block in section.blocks]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _block(block, plots: bool) -> str:
    if isinstance(block, Text):
        label = f"<b>{html.escape(block.label)}</b> " if block.label else ""
        style = f"verdict {block.style}" if block.style.startswith("verdict") else block.style
        return f'<p class="{style}">{label}{html.escape(block.text)}</p>'
    if isinstance(block, Bullets):
        return f'<ul class="{block.style}">' + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        drawn = _figure(block) if plots else ""
        return drawn or "\n".join(_table(t) for t in block.fallback)
    return ""


def _figure(figure: Figure) -> str:
    from labelkit.report.plots import render_plot

    encoded = render_plot(figure.kind, figure.data)
    if not encoded:
        return ""
    return f'<img alt="{html.escape(figure.alt)}" src="data:image/png;base64,{encoded}">'


def _table(table: Table) -> str:
    out = ['<div class="tw"><table>']
    if table.caption:
        out.append(f"<caption>{html.escape(table.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in table.headers) + "</tr></thead>")
    out.append("<tbody>")
    text = set(table.text_columns)
    for i, row in enumerate(table.rows):
        flag = ' class="flag"' if i < len(table.flagged) and table.flagged[i] else ""
        cells = [('<td class="t">' if j in text else "<td>") + html.escape(str(c)) + "</td>" for j, c in enumerate(row)]
        out.append(f"<tr{flag}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    body = "".join(out)
    if table.collapsed:
        return f"<details><summary>{html.escape(table.collapsed)}</summary>{body}</details>"
    return body
