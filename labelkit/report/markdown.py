"""Render the report document as Markdown (tables; no images: a chart's tables stand in for it). Data
text is HTML-escaped and pipes are escaped, so a comment holding markup or '|' cannot break the page.
The verdict comes first; long tables of examples are folded in <details> (GitHub and most viewers
show them as a click-to-open line)."""
from __future__ import annotations

import html

from labelkit.report.document import Bullets, Figure, Table, Text
from labelkit.report.sections import as_results, build_sections, report_title

PREFIX = {"warning": "> ⚠ ", "muted": "_", "good": "> ✓ ", "normal": ""}
SUFFIX = {"muted": "_"}
VERDICT_MARK = {"verdict-ok": "✓", "verdict-warning": "⚠", "verdict-error": "✗"}


def render_markdown(results, examples: dict | None = None) -> str:
    """`results`: labelkit.results.BuildResults (a metrics.json dict is read into one first)."""
    results = as_results(results)
    return render_document(report_title(results), build_sections(results, examples))


def render_document(title: str, sections) -> str:
    """A document (labelkit.report.document: sections of text, bullets and tables) as Markdown; every piece
    of text escaped. The build's report and `labelkit repair`'s repair.md are rendered here."""
    lines = [f"# {md_escape(title)}", ""]
    for section in sections:
        if section.key != "verdict" and section.title:  # the verdict opens the page without a heading of its own
            lines += [f"## {md_escape(section.title)}", ""]
        for block in section.blocks:
            lines += _block(block)
    return "\n".join(lines).rstrip() + "\n"


def md_escape(text) -> str:
    """One line, HTML-escaped, with Markdown table/emphasis characters neutralised."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    text = text.replace("&lt; ", "< ")  # "p < 0.001": a '<' before a space cannot open a tag
    for char in ("\\", "|", "*", "_", "`", "[", "]"):
        text = text.replace(char, "\\" + char)
    return text


def _block(block) -> list[str]:
    if isinstance(block, Text):
        label = f"**{md_escape(block.label)}** " if block.label else ""
        if block.style in VERDICT_MARK:
            return [f"> {VERDICT_MARK[block.style]} **{md_escape(f'{block.label} {block.text}'.strip())}**", ""]
        return [f"{PREFIX.get(block.style, '')}{label}{md_escape(block.text)}{SUFFIX.get(block.style, '')}", ""]
    if isinstance(block, Bullets):
        mark = {"warning": "⚠ ", "error": "✗ "}.get(block.style, "")
        return [f"- {mark}{md_escape(item)}" for item in block.items] + [""]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return [line for table in block.fallback for line in _table(table)]
    return []


def _table(table: Table) -> list[str]:
    lines = []
    if table.collapsed:
        lines += [f"<details><summary>{html.escape(' '.join(table.collapsed.split()))}</summary>", ""]
    lines.append("| " + " | ".join(md_escape(h) for h in table.headers) + " |")
    lines.append("|" + "|".join("---" for _ in table.headers) + "|")
    for i, row in enumerate(table.rows):
        cells = [md_escape(c) for c in row]
        if i < len(table.flagged) and table.flagged[i]:
            cells[0] = f"⚠ {cells[0]}"
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if table.caption:  # under the table, as in the HTML
        lines += [f"_{md_escape(table.caption)}_", ""]
    if table.collapsed:
        lines += ["</details>", ""]
    return lines
