import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import chromium_or_skip

from labelkit.evaluate import compare_systems, drift_table, find_guardrail_failures, slice_table
from labelkit.report import render_html, render_markdown
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
        "manifest": {"seed": 0, "inputs": {"test": {"sha256": "ff"}}},
    }


EXAMPLES = {"lf_examples": {"lf_a": {"fires": [{"row_id": "1", "text": SCRIPT}], "wrong": []}}}


@pytest.fixture(scope="module")
def page():
    """The full HTML report of sample_metrics(), plots included (rendered once: the tests only read it)."""
    return render_html(sample_metrics(), EXAMPLES)


def test_render_html_escapes_data_text_and_is_self_contained(page):
    metrics = sample_metrics()
    json.dumps(metrics)  # the pipeline writes this dict as JSON
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert len(page) < 2_000_000
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 6  # headline, confusion, slices, LFs, calibration, drift
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    for title in ("Headline", "Per-class scores", "Confusion matrices", "Slices and guardrails", "Labeling functions",
                  "Label model", "Drift over date", "Data-quality audit", "Expectations", "Warnings", "Example rows"):
        assert title in page
    assert metrics["systems"]["paired_test"]["verdict"] in page
    assert '<tr class="flag"><td>country = FR</td>' in page
    assert "train 1,000 of 1,010 given" in page and "test 240" in page


def test_render_without_plots_and_with_only_systems():
    metrics = sample_metrics()
    assert "data:image/png" not in render_html(metrics, plots=False)
    minimal = BuildResults(task=TaskInfo(name="tickets", classes=metrics["task"]["classes"], rows={}),
                           systems=Systems.from_json(metrics["systems"]))
    page = render_html(minimal)
    assert "Headline" in page and "Drift" not in page and "Audit" not in page
    assert "Verdict:" in render_markdown(minimal)


def test_render_markdown_tables_are_escaped():
    text = render_markdown(sample_metrics(), EXAMPLES)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "same \\| as row 3" in text
    accuracy = sample_metrics()["systems"]["systems"]["end_model"]["accuracy"]
    assert f"| end\\_model | {100 * accuracy:.1f}% |" in text
    assert "⚠ country = FR" in text




@pytest.mark.browser
def test_report_renders_in_headless_chromium(page, tmp_path):
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    with sync_playwright() as p:  # one browser for the screenshot and the DOM
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
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
    assert "Headline" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script>alert" not in dom
