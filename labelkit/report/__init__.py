"""A build's results (labelkit.results.BuildResults, i.e. metrics.json) -> report.md and a self-contained
report.html (plots inline, all data text escaped)."""
from labelkit.report.html import render_html
from labelkit.report.markdown import render_markdown

__all__ = ["render_html", "render_markdown"]
