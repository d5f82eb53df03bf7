"""Render the report document as one self-contained HTML page: inline CSS, plots as base64 PNG,
no scripts, no external URLs. Every piece of data text goes through html.escape."""
from __future__ import annotations

import html

from labelkit.report.document import Figure, Table, Text
from labelkit.report.sections import as_results, build_sections, report_title

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:24px auto;
padding:0 16px;color:#1f2328;line-height:1.45;font-size:15px}
h1{font-size:26px;border-bottom:2px solid #d0d7de;padding-bottom:6px}
h2{font-size:20px;margin-top:36px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
nav{font-size:13px;color:#57606a}nav a{color:#0969da;margin-right:10px;text-decoration:none}
table{border-collapse:collapse;margin:10px 0 18px;font-size:13.5px}
th,td{border:1px solid #d0d7de;padding:4px 9px;text-align:left;vertical-align:top;max-width:520px;
overflow-wrap:anywhere}
th{background:#f6f8fa}tr.flag td{background:#ffebe9}
caption{caption-side:bottom;text-align:left;font-size:12.5px;color:#57606a;padding-top:4px}
p.verdict{font-size:17px;font-weight:600;background:#ddf4ff;border-left:4px solid #0969da;padding:8px 12px}
p.warning{background:#fff8c5;border-left:4px solid #bf8700;padding:8px 12px}
p.muted{color:#57606a}
img{max-width:100%;height:auto;display:block;margin:8px 0}
"""


def render_html(results, examples: dict | None = None, *, plots: bool = True) -> str:
    """`results`: labelkit.results.BuildResults (a metrics.json dict is read into one first)."""
    results = as_results(results)
    sections = build_sections(results, examples)
    title = html.escape(report_title(results))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        "<nav>" + "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections) + "</nav>",
    ]
    for section in sections:
        parts.append(f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>')
        parts += [_block(block, plots) for block in section.blocks]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _block(block, plots: bool) -> str:
    if isinstance(block, Text):
        return f'<p class="{block.style}">{html.escape(block.text)}</p>'
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure) and plots:
        return _figure(block)
    return ""


def _figure(figure: Figure) -> str:
    from labelkit.report.plots import render_plot

    encoded = render_plot(figure.kind, figure.data)
    if not encoded:
        return ""
    return f'<img alt="{html.escape(figure.alt)}" src="data:image/png;base64,{encoded}">'


def _table(table: Table) -> str:
    out = ["<table>"]
    if table.caption:
        out.append(f"<caption>{html.escape(table.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in table.headers) + "</tr></thead>")
    out.append("<tbody>")
    for i, row in enumerate(table.rows):
        flag = ' class="flag"' if i < len(table.flagged) and table.flagged[i] else ""
        out.append(f"<tr{flag}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)
