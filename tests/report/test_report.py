import base64
import html
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import chromium_or_skip, launch_chromium

from labelkit.evaluate import compare_systems, drift_table, find_guardrail_failures, slice_table
from labelkit.report import render_html, render_markdown
from labelkit.report.markdown import md_escape
from labelkit.results import BuildResults, Systems, TaskInfo

SCRIPT = "<script>alert(1)</script>"


def sample_metrics(n=240):
    rng = np.random.default_rng(0)
    classes = ["billing", "connectivity", SCRIPT]
    y = rng.integers(0, 3, n)
    country = rng.choice(["DE", "FR", SCRIPT], n)
    base = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
    model = np.where(rng.random(n) < np.where(country == "FR", 0.4, 0.95), y, rng.integers(0, 3, n))
    preds = {"rule_baseline": base, "end_model": model}
    frame = pd.DataFrame({"country": country, "date": pd.date_range("2024-01-01", periods=n, freq="D").astype(str)})
    slices = slice_table(frame, y, preds, classes, slice_columns=["country"], n_boot=100)
    return {
        "task": {"name": "tickets", "classes": classes, "rows": {"train": 1000, "dev": 100, "test": n},
                 "rows_before_audit": {"train": 1010, "dev": 100, "test": n}},
        "systems": compare_systems(y, preds, classes, n_boot=200),
        "policy": "abstains -> majority class",
        "label_models": {"chosen": "snorkel", "dev_scores": {"majority": 0.8, "snorkel": 0.83},
                         "calibration": {"bins": [0, 0.5, 1.0], "confidence": [0.4, 0.8], "accuracy": [0.35, 0.85],
                                         "count": [10, 90]}},
        "lf_summary": [{"name": f"lf_{SCRIPT}", "polarity": ["billing"], "coverage": 0.3, "overlaps": 0.1,
                        "conflicts": 0.05, "dev_accuracy": 0.9, "dev_n": 30}],
        "slices": slices,
        "guardrails": find_guardrail_failures(slices),
        "drift": drift_table(frame, "date", y, preds, classes),
        "expectations": {"end_model": {"passed": 1, "failed": 1, "total": 2, "failures": [
            {"row": 2, "text": f"{SCRIPT} refund", "expected": "billing", "got": "connectivity"}]}},
        "audit": {"summary": [{"reason": "test_in_train", "split": "test", "count": 2}],
                  "accounting": {"train": {"rows_in": 10, "kept": 8, "quarantined": 2, "flagged": 1}},
                  "before_after": {"end_model": {"before": 0.9, "after": 0.86}},
                  "examples": [{"reason": "duplicate", "split": "train", "row_id": "7", "text": SCRIPT,
                                "evidence": "same | as row 3"}]},
        "warnings": [f"warning about {SCRIPT}"],
        "manifest": {"seed": 0, "inputs": {"test": "ff"}},
    }


LONG = ("Hello team, my invoice for March shows $81 but my plan is only $247.64 and the router T5541079 keeps "
        "dropping; please sort out the connectivity and the refund before 2024-06-30. ") * 3
EXAMPLES = {"lf_examples": {
    "lf_a": {"fires": [{"row_id": "1", "text": SCRIPT, "vote": "billing"}], "wrong": []},
    "kw_billing": {"fires": [{"row_id": "T5541079", "text": LONG, "vote": "billing"}] * 3,
                   "conflicts": [{"row_id": "T1963", "text": LONG, "vote": "billing",
                                  "others": {"kw_cancel": "cancellation", "re_money": SCRIPT}}] * 3,
                   "wrong_on_dev": [{"row_id": "D19", "text": "refund?", "vote": "billing", "gold": "connectivity"}]},
}}


def assert_escaped(page: str) -> None:
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.fixture(scope="module")
def page():
    """The full HTML report of sample_metrics(), plots included (rendered once: the tests only read it)."""
    return render_html(sample_metrics(), EXAMPLES)


def test_render_html_escapes_data_text_and_is_self_contained(page):
    metrics = sample_metrics()
    json.dumps(metrics)  # the pipeline writes this dict as JSON
    assert_escaped(page)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert len(page) < 2_000_000
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 6  # headline, confusion, slices, LFs, calibration, drift
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    for title in ("Every system on the gold test rows", "Per-class scores", "Confusion matrices", "Slices and guardrails",
                  "Labeling functions", "Label model", "Drift over date", "Data-quality audit", "Expectations", "Warnings",
                  "Example rows"):
        assert title in page
    verdict = re.search(r'<p class="verdict verdict-(\w+)"><b>Verdict:</b> ([^<]*)</p>', page)
    assert verdict and page.index(verdict.group(0)) < page.index("<nav>")  # first thing under the title
    for g in metrics["guardrails"]:  # every failed guardrail is named in the verdict, escaped
        assert html.escape(f"{g['column']}={g['value']}") in verdict.group(2)
    assert '<tr class="flag"><td>country = FR</td>' in page
    assert "p = 0 " not in page and re.search(r"McNemar exact p (&lt; 0\.001|= 0\.\d{3});", page)
    # examples: one row per LF and kind, folded away; other votes read as 'LF → class', never a dict
    assert "<details><summary>One example row per labeling function and kind (4 rows)</summary>" in page
    assert "kw_cancel → cancellation" in page and "{&#x27;kw_cancel" not in page and "{'kw_cancel" not in page
    assert page.count("T5541079</td>") == 1
    assert "train 1,000 of 1,010 given" in page and "test 240" in page


def test_report_html_is_escaped_by_its_renderer_alone(monkeypatch):
    """One escaping path: with the HTML renderer's `escape` escaping nothing, report.html holds no entity at
    all and the check above fails. tests/monitor does the same for monitor.html, drawn by the same renderer."""
    import labelkit.report.html as renderer

    monkeypatch.setattr(renderer, "escape", str)
    page = render_html(sample_metrics(), EXAMPLES, plots=False)
    assert SCRIPT in page and not re.search(r"&(lt|gt|amp|quot|#x27);", page)
    with pytest.raises(AssertionError):
        assert_escaped(page)


def test_render_without_plots_and_with_only_systems():
    metrics = sample_metrics()
    assert "data:image/png" not in render_html(metrics, plots=False)
    minimal = BuildResults(task=TaskInfo(name="tickets", classes=metrics["task"]["classes"], rows={}),
                           systems=Systems.from_json(metrics["systems"]))
    page = render_html(minimal)
    assert "Every system on the gold test rows" in page and "Drift" not in page and "Audit" not in page
    assert "Verdict:" in render_markdown(minimal)
    # without charts the confusion matrices are tables, once per key system; with charts, only the chart
    bare = render_html(metrics, plots=False)
    assert bare.count("gold \\ predicted</th>") == 2  # rule_baseline and end_model
    assert "gold \\ predicted</th>" not in render_html(metrics)


def test_render_markdown_opens_with_the_verdict_and_folds_the_examples():
    metrics = sample_metrics()
    text = render_markdown(metrics, EXAMPLES)
    lines = text.splitlines()
    assert lines[0].startswith("# labelkit report") and lines[2].startswith("> ") and "**Verdict: " in lines[2]
    for g in metrics["guardrails"]:
        assert md_escape(f"{g['column']}={g['value']}") in lines[2]
    assert "McNemar exact p " in text and "p = 0 " not in text
    assert "<details><summary>One example row per labeling function and kind (4 rows)</summary>" in text
    assert "kw\\_cancel → cancellation" in text and "{" not in text.split("## Example rows")[1]
    assert "| end\\_model: gold \\\\ predicted |" in text  # the confusion matrices stand in for the chart


def test_render_markdown_tables_are_escaped():
    text = render_markdown(sample_metrics(), EXAMPLES)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "same \\| as row 3" in text
    accuracy = sample_metrics()["systems"]["systems"]["end_model"]["accuracy"]
    assert f"| end\\_model | {100 * accuracy:.1f}% |" in text
    assert "⚠ country = FR" in text




# Every word of a visible table cell on one line: a cell that is not free text must not wrap at all; free
# text (and a header) may wrap between words and at punctuation the browser breaks at ("CN-|9173336"), but
# never inside a run of letters and digits such as "support", "196", "T5541079" or "$247.64".
SPLIT_WORDS = """() => {
  const split = [];
  for (const cell of document.querySelectorAll('td, th')) {
    if (!cell.checkVisibility()) continue;
    const lines = r => new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size;
    const words = cell.tagName === 'TD' && !cell.classList.contains('t') ? /\\S(.*\\S)?/gs
                                                                       : /[\\p{L}\\p{N}]([\\p{L}\\p{N}_.,]*[\\p{L}\\p{N}])?%?/gu;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(words)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        if (lines(range) > 1) split.push(m[0]);
      }
    }
  }
  return split;
}"""

# Per chart: its <img> src and the first column of the table beside it (the previous or next table box).
CHARTS_AND_TABLES = """() => Array.from(document.querySelectorAll('img')).map(img => {
  const column = box => box && box.classList.contains('tw')
    ? Array.from(box.querySelectorAll('tbody tr')).map(tr => tr.cells[0].innerText.trim()) : null;
  return {src: img.getAttribute('src'), before: column(img.previousElementSibling), after: column(img.nextElementSibling)};
})"""


def drawn_order(src: str) -> list[str] | None:
    """The y-axis order a chart says it drew (its PNG's Description text), top to bottom."""
    from PIL import Image

    description = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).text.get("Description")
    if not description:
        return None
    return description.removeprefix("y, top to bottom: ").split(" | ")


def same_rows(drawn: list[str], table: list[str]) -> bool:
    """A chart's labels against a table's first column: slice labels end in ' (n=…)', long ones in '…'."""
    drawn = [re.sub(r" \(n=\d+\)$", "", d) for d in drawn]
    return len(drawn) == len(table) and all(
        t == d or (d.endswith("…") and t.startswith(d[:-1])) for d, t in zip(drawn, table))


@pytest.mark.browser
def test_report_layout_at_desktop_and_phone_width(page, tmp_path):
    """The report as people see it: at 1,400 px and at a phone's 390 px the verdict with every failed
    guardrail is in the first screen, no table cell breaks a word or a number (folded tables opened too),
    the page does not scroll sideways, and each chart lists its rows in the order of the table beside it."""
    chromium_or_skip()  # at once, before the page is written
    from playwright.sync_api import sync_playwright

    guardrails = [f"{g['column']}={g['value']}" for g in sample_metrics()["guardrails"]]
    assert guardrails, "the sample build should fail a guardrail"
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    with sync_playwright() as p:
        browser = launch_chromium(p, "--disable-quic")
        try:
            for width, height in ((1400, 900), (390, 844)):
                tab = browser.new_page(viewport={"width": width, "height": height})
                tab.goto(report.as_uri())
                box = tab.locator("p.verdict").bounding_box()
                verdict = tab.locator("p.verdict").inner_text()
                assert box["y"] >= 0 and box["y"] + box["height"] <= height, (width, box)
                assert verdict.startswith("Verdict:") and all(g in verdict for g in guardrails), verdict
                assert tab.evaluate("document.documentElement.scrollWidth") <= width
                assert tab.evaluate(SPLIT_WORDS) == [], width
                tab.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                assert tab.evaluate(SPLIT_WORDS) == [], f"{width} px, folded tables opened"
                assert tab.evaluate("document.documentElement.scrollWidth") <= width
                charts = tab.evaluate(CHARTS_AND_TABLES)
                tab.close()
        finally:
            browser.close()
    ordered = [(drawn_order(c["src"]), c) for c in charts]
    ordered = [(drawn, c) for drawn, c in ordered if drawn]
    assert len(ordered) == 3  # systems, slices, LFs
    for drawn, chart in ordered:
        assert any(t and same_rows(drawn, t) for t in (chart["before"], chart["after"])), (drawn, chart)


@pytest.mark.browser
def test_report_renders_in_headless_chromium(page, tmp_path):
    chromium_or_skip()  # at once, before the page is written
    from playwright.sync_api import sync_playwright

    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    with sync_playwright() as p:  # one browser for the screenshot and the DOM
        browser = launch_chromium(p, "--disable-quic")
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 2000})
            errors = []
            tab.on("pageerror", lambda e: errors.append(e))
            tab.goto(report.as_uri())
            shot = tab.screenshot()
            dom = tab.content()
            images = tab.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        finally:
            browser.close()
    assert len(shot) > 30_000 and not errors
    assert images and all(images)  # every embedded chart decodes
    assert "Every system on the gold test rows" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script>alert" not in dom


def test_repair_md_escapes_data_text_as_report_md_does():
    """repair.md goes through the report's Markdown renderer (labelkit.report.markdown.md_escape): a slice name
    or an n-gram from the data holding markup, '|' or '*' cannot break the page."""
    from types import SimpleNamespace as NS

    from labelkit.repair.render import render_markdown

    limit = NS(max_overall_dev_loss=0.005, dev_score_before=0.8, dev_floor=0.795)
    report = NS(limit=limit, metric="accuracy", from_run="runs/a|b", slices=[], search=None, reproduced=None,
                overall=NS(rows=0), label_next_rows=0,
                candidate_lfs=[NS(slice="<b>x</b>", rows=2, ngrams=[{"ngram": "a|*b*", "class": "billing"}])])
    text = render_markdown(report)
    assert "runs/a\\|b" in text and "&lt;b&gt;x&lt;/b&gt;" in text and "a\\|\\*b\\*" in text
    assert "<b>" not in text
