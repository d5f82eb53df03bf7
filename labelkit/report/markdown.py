"""Render the report document as Markdown (tables; no images). Data text is HTML-escaped and
pipes are escaped, so a comment holding markup or '|' cannot break the page."""
from __future__ import annotations

import html

from labelkit.report.document import Figure, Table, Text
from labelkit.report.sections import as_results, build_sections, report_title

PREFIX = {"verdict": "**", "warning": "> ⚠ ", "muted": "_", "normal": ""}
SUFFIX = {"verdict": "**", "warning": "", "muted": "_", "normal": ""}


def render_markdown(results, examples: dict | None = None) -> str:
    """`results`: labelkit.results.BuildResults (a metrics.json dict is read into one first)."""
    results = as_results(results)
    lines = [f"# {md_escape(report_title(results))}", ""]
    for section in build_sections(results, examples):
        lines += [f"## {md_escape(section.title)}", ""]
        for block in section.blocks:
            lines += _block(block)
    return "\n".join(lines).rstrip() + "\n"


def md_escape(text) -> str:
    """One line, HTML-escaped, with Markdown table/emphasis characters neutralised."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    for char in ("\\", "|", "*", "_", "`", "[", "]"):
        text = text.replace(char, "\\" + char)
    return text


def _block(block) -> list[str]:
    if isinstance(block, Text):
        return [f"{PREFIX[block.style]}{md_escape(block.text)}{SUFFIX[block.style]}", ""]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return []
    return []


def _table(table: Table) -> list[str]:
    lines = []
    if table.caption:
        lines += [f"_{md_escape(table.caption)}_", ""]
    lines.append("| " + " | ".join(md_escape(h) for h in table.headers) + " |")
    lines.append("|" + "|".join("---" for _ in table.headers) + "|")
    for i, row in enumerate(table.rows):
        cells = [md_escape(c) for c in row]
        if i < len(table.flagged) and table.flagged[i]:
            cells[0] = f"⚠ {cells[0]}"
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]
