"""The studio in a real browser: real uvicorn on a free 127.0.0.1 port, Playwright driving Debian's chromium.

On a copy of the bundled example: build (fast settings) -> open the studio -> add a keyword rule and
watch the live coverage -> save -> reload and find it in the rules file -> label a gold row blind (no class
chosen for you) and find it in the corrections file -> label a label-next row into the human labels file ->
break the rules file by hand and read the build's message -> rebuild and find both in manifest.json.
Screenshots go to docs/img/ when LABELKIT_SCREENSHOTS=1.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import LoopbackServer, chromium_or_skip, launch_chromium

ROOT = Path(__file__).resolve().parents[2]
FAST = {"audit.enabled": "false", "end_model.enabled": "false", "label_model.candidates": '["weighted_majority"]',
        "evaluate.bootstrap": "50", "evaluate.expectations": '""'}
SHOTS = ROOT / "docs" / "img" if os.environ.get("LABELKIT_SCREENSHOTS") else None




def _copy_bundled_example(folder: Path, *, train_rows: int | None) -> Path:
    """The bundled example, with only its first `train_rows` train rows unless None (the docs' screenshots
    show all of them; spaCy parses every train row, in two builds and the studio)."""
    (folder / "datasets" / "support_tickets").mkdir(parents=True)
    (folder / "labeling_functions").mkdir()
    shutil.copy(ROOT / "labelkit.toml", folder)
    shutil.copy(ROOT / "labeling_functions" / "support_tickets.py", folder / "labeling_functions")
    for name in ("train.csv", "dev.csv", "test.csv"):
        shutil.copy(ROOT / "datasets" / "support_tickets" / name, folder / "datasets" / "support_tickets")
    if train_rows is not None:
        train = folder / "datasets" / "support_tickets" / "train.csv"
        pd.read_csv(train, dtype=str, keep_default_na=False).head(train_rows).to_csv(train, index=False)
    return folder / "labelkit.toml"


@pytest.mark.browser
def test_expert_loop_in_a_real_browser(tmp_path):
    chromium_or_skip()  # at once, before the task is written
    from playwright.sync_api import expect, sync_playwright

    from labelkit.settings.config import load_config
    from labelkit.data.corrections import read_corrections
    from labelkit.lfs.rules import read_rules
    from labelkit.pipeline.run import build
    from labelkit.studio.app import create_app
    from labelkit.studio.state import open_studio

    config_path = _copy_bundled_example(tmp_path / "example", train_rows=None if SHOTS else 1500)
    config = load_config(config_path, overrides=FAST)
    run = tmp_path / "example" / "runs" / "support_tickets"
    build(config, out=run)
    human_file = tmp_path / "example" / "label_next.csv"  # what `labelkit label-next` writes: blank labels
    pd.DataFrame({"ticket_id": ["NEW1", "NEW2"], "label": ["", ""], "country": ["FR", "US"],
                  "text": ["je veux résilier mon abonnement", "my router keeps dropping the wifi"]}).to_csv(human_file,
                                                                                                        index=False)
    state = open_studio(config, run_dir=run, reviewer="browser-test")
    rules_file, corrections_file = tmp_path / "example" / "rules.toml", tmp_path / "example" / "corrections.csv"

    served = LoopbackServer(create_app(state))
    state.port = served.port  # the page's origin check
    with served, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{served.url}/?token={state.token}")
        expect(page.locator("#rules tbody tr")).to_have_count(len(state.python_lfs))
        _shot(page, "studio_rules.png")

        page.click("#new-rule")
        page.fill("#name", "kw_reimburse")
        page.select_option("#class", "billing")
        page.fill("#words", "reimburse")
        coverage = page.locator("#preview-coverage")
        expect(coverage).to_have_text("0.0%")  # no train ticket says "reimburse"
        page.fill("#words", "reimburse\nrefund")
        expect(coverage).not_to_have_text("0.0%")
        shown = float(coverage.inner_text().rstrip("%"))
        assert shown > 1 and "Wrong on dev" in page.inner_text("#preview")
        _shot(page, "studio_editor.png")
        page.click("#save")
        expect(page.locator("#saved")).to_contain_text("kw_reimburse")
        page.reload()
        row = page.locator('tr[data-rule="kw_reimburse"]')
        expect(row.locator("td.coverage")).to_have_text(f"{shown:.1f}%")
        saved = read_rules(rules_file)
        assert [(r.name, r.label, r.options["words"]) for r in saved] == [("kw_reimburse", "billing", ["reimburse", "refund"])]

        expect(page.locator("#terms")).to_contain_text("another rule votes a different class")

        # gold rows are reviewed blind: no system's answer, no current label, no class chosen for you
        page.goto(f"{served.url}/review?source=gold_review")
        item = page.locator("article.item").first
        key = item.get_attribute("data-key")
        _, split, row_id = key.split(":", 2)
        gold = state.labels[split][row_id]
        expect(item.locator("select")).to_have_value("")
        assert "current label" not in item.inner_text() and "says" not in item.inner_text()
        item.locator("button.label").click()  # nothing chosen: the browser refuses to send it
        page.wait_for_timeout(300)
        assert not corrections_file.exists()
        item.locator("select").select_option(gold)
        item.locator("button.label").click()
        expect(page.locator(f'article[data-key="{key}"] .decision')).to_contain_text(f"you said {gold}")
        _shot(page, "studio_review.png")

        # rows label-next chose: labelled blind into the human labels file the next build reads
        page.goto(f"{served.url}/review?source=label_next")
        waiting = page.locator("article.item")
        expect(waiting).to_have_count(2)
        expect(waiting.first).to_contain_text("country FR")
        waiting.first.locator("select").select_option("cancellation")
        waiting.first.locator("button.label").click()
        expect(page.locator("article.item")).to_have_count(1)

        # a rules file broken by hand: the build's message on the page, not a bare HTTP 500
        rules_file.write_text(rules_file.read_text().replace('"refund"]', '"refund]'))
        page.goto(f"{served.url}/")
        expect(page.locator("#message")).to_contain_text(
            "rule 'kw_reimburse': invalid TOML: a quoted value is not closed on this line")
        browser.close()

    decisions = read_corrections(corrections_file)
    assert [(c.split, c.row_id, c.action, c.reviewer) for c in decisions] == [(split, row_id, "confirm", "browser-test")]
    assert decisions[0].old == decisions[0].new == gold and decisions[0].reason.startswith("gold_review: ")
    human = pd.read_csv(human_file, dtype=str, keep_default_na=False).set_index("ticket_id")
    assert human.loc["NEW1", "label"] == "cancellation" and human.loc["NEW2", "label"] == ""

    build(load_config(config_path, overrides=FAST), out=run)  # the next build applies and records them
    manifest = json.loads((run / "manifest.json").read_text())
    recorded = manifest["corrections"]
    assert recorded["path"] == str(corrections_file) and recorded["decisions"]["confirm"] == 1
    assert [(a["row_id"], a["action"], a["effect"]) for a in recorded["applied"]] == [(row_id, "confirm", "gold label confirmed")]
    assert "kw_reimburse" not in manifest["lf_names"]  # the rules file is not in the bundled config: numbers unchanged
    assert manifest["human_labels"]["rows"] == 1 and manifest["human_labels"]["sources"][0]["pending"] == 1


def _shot(page, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=False)


HTML_IN_SOURCE_LF = '''

@labeling_function()
def bold_claims(row):
    """Flags '<b>refund</b>' pasted from e-mails (the page must show this, not render it)."""
    return "billing" if "<b>" in row.text else ABSTAIN
'''


@pytest.mark.browser
def test_first_minutes_in_the_studio_started_from_the_cli(tmp_path):
    """`labelkit studio` as a new user starts it: the printed URL answers at once; "New rule" opens without
    an error and previews what is typed before the rule has a name; a Python LF's page shows its source
    as written in the module (escaped, with file and line), not a repr."""

    from conftest import LF_MODULE, studio_process, write_task
    from playwright.sync_api import expect, sync_playwright

    chromium_or_skip()  # at once, before the task is written
    config = write_task(tmp_path / "task", n_train=200, n_dev=80, n_test=60, lf_module=LF_MODULE + HTML_IN_SOURCE_LF)
    with studio_process(config, tmp_path / "no_build") as url:
        base = url.split("/?")[0]
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)  # right after the line was printed: the server answers
            expect(page.locator('tr[data-rule="bold_claims"]')).to_have_count(1)

            page.click("#new-rule")
            expect(page.locator("#preview-hint")).to_contain_text("to see where it fires")
            page.wait_for_timeout(600)  # the page's first preview request has come back
            expect(page.locator(".error")).to_have_count(0)
            page.fill("#words", "invoice")  # no name typed yet: the preview still works
            expect(page.locator("#preview-coverage")).not_to_be_empty()
            expect(page.locator("#preview-error")).to_have_count(0)
            page.fill("#words", "")
            expect(page.locator("#preview-hint")).to_be_visible()

            page.goto(f"{base}/rules/bold_claims")
            source = page.locator("pre.source")
            expect(source).to_contain_text("@labeling_function()\ndef bold_claims(row):")
            expect(source).to_contain_text("'<b>refund</b>'")  # shown as text ...
            expect(page.locator("pre.source b")).to_have_count(0)  # ... never rendered as markup
            assert source.inner_text().startswith(f"# {config.parent / 'lfs.py'}:")
            page.goto(f"{base}/rules/kw_billing")
            expect(page.locator("pre.source")).to_contain_text('kw_billing = keywords("billing", ["invoice"')
            browser.close()
