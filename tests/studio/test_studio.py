"""The studio's logic through Starlette's TestClient, and the corrections file it writes."""
from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from labelkit.data.corrections import (
    Correction, append_correction, apply_gold, apply_train, latest, read_corrections, unquarantine,
)
from labelkit.errors import DatasetError

BASE = "http://127.0.0.1:8765"
ORIGIN = {"Origin": BASE}
EVIL_TEXT = "<img src=x onerror=alert(1)> my invoice"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A studio on a small task, with a hand-made build output folder for the review queue. Shared by
    the tests that only read: a test that saves rules or decisions takes `fresh_studio`, so no test
    depends on another having run before it in the same process (xdist splits modules)."""
    return _open_studio(tmp_path_factory.mktemp("studio") / "task")


@pytest.fixture
def fresh_studio(tmp_path):
    """A studio of its own, for a test that writes the rules or corrections file."""
    return _open_studio(tmp_path / "task")


def _open_studio(folder):
    from conftest import write_task
    from starlette.testclient import TestClient

    from labelkit.settings.config import load_config
    from labelkit.studio.app import create_app
    from labelkit.studio.state import open_studio

    config_path = write_task(folder, n_train=300, n_dev=120, n_test=100)
    dev = pd.read_csv(folder / "dev.csv")
    dev.loc[0, "text"] = EVIL_TEXT
    dev.to_csv(folder / "dev.csv", index=False)
    run = folder / "run"
    _fake_run(run, folder)
    config = load_config(config_path)
    state = open_studio(config, run_dir=run, reviewer="ana")
    client = TestClient(create_app(state), base_url=BASE)
    assert client.get(f"/?token={state.token}").status_code == 200  # sets the session cookie
    return state, client, folder


def _fake_run(run, folder):
    """The three tables of a build output folder that the review queue reads (and the build's records)."""
    run.mkdir()
    classes = ["billing", "connectivity", "cancellation"]
    (run / "metrics.json").write_text(json.dumps({"task": {"name": "t", "classes": classes, "rows": {}},
                                                  "systems": {"n": 3, "classes": classes, "systems": {}}}))
    (run / "manifest.json").write_text(json.dumps({"lf_names": []}))
    dev, test, train = (pd.read_csv(folder / f"{s}.csv") for s in ("dev", "test", "train"))
    pd.DataFrame({
        "split": ["dev", "test", "train"], "row_id": [dev.id[0], test.id[1], train.id[2]],
        "reason": ["label_issue", "test_row", "weak_label_issue"], "score": [0.9, 1.0, 0.7],
        "evidence": ["cleanlab suggests connectivity", "placeholder text", "model prefers billing"],
    }).to_csv(run / "audit_findings.csv", index=False)
    pd.DataFrame({"row_id": test.id[:3], "gold": test.label[:3], "pred_rule_baseline": ["billing"] * 3,
                  "pred_end_model": ["billing", "connectivity", "billing"]}).to_csv(run / "test_predictions.csv", index=False)
    pd.DataFrame({"id": train.id[:2], "prob_billing": [0.4, 0.9], "prob_connectivity": [0.35, 0.05],
                  "prob_cancellation": [0.25, 0.05], "weak_label": ["billing", "billing"], "covered": [True, True]}
                 ).to_csv(run / "train_labels.csv", index=False)


def _post(client, state, url, data, **headers):
    return client.post(url, data={"csrf": state.csrf, **data}, headers={**ORIGIN, **headers}, follow_redirects=False)


RULE = {"name": "kw_wifi_router", "class": "connectivity", "kind": "keywords", "words": "wifi\nrouter", "original": ""}


# ---------------------------------------------------------------- session and cross-site protection

def test_requests_need_the_session_token(studio):
    state, client, _ = studio
    from starlette.testclient import TestClient

    stranger = TestClient(client.app, base_url=BASE)
    assert stranger.get("/").status_code == 403
    assert stranger.get("/?token=wrong").status_code == 403
    assert stranger.get("/review").status_code == 403
    entered = stranger.get(f"/?token={state.token}", follow_redirects=False)
    assert entered.status_code == 303 and "httponly" in entered.headers["set-cookie"].lower()
    assert "samesite=strict" in entered.headers["set-cookie"].lower()
    assert stranger.get("/").status_code == 200
    rebinding = TestClient(client.app, base_url="http://evil.example:8765", cookies={"labelkit_studio": state.token})
    assert rebinding.get("/").status_code == 403


def test_posts_need_csrf_token_and_same_origin(studio):
    state, client, folder = studio
    form = {**RULE, "sha": state.rules_sha256}
    assert client.post("/save", data=form, headers=ORIGIN).status_code == 403  # no CSRF token
    assert _post(client, state, "/save", form, Origin="http://evil.example").status_code == 403
    assert client.post("/save", data={"csrf": state.csrf, **form}).status_code == 403  # neither Origin nor Referer
    assert client.post("/save", json={"csrf": state.csrf, **form}, headers=ORIGIN).status_code in (403, 415)
    assert not (folder / "rules.toml").exists()


def test_pages_send_a_strict_content_security_policy(studio):
    _, client, _ = studio
    response = client.get("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert client.get("/static/studio.js").status_code == 200


def test_static_files_are_only_the_listed_ones(studio):
    """Traversal out of static/: the client must send the dots (httpx turns "/static/../app.py" into "/app.py"
    before sending, so that request never reaches the studio's static route). Percent-encoded dots are sent
    as written; the server decodes them, and only the names in STATIC are served: "/static/%2e%2e" and
    "/static/app.py" reach the handler (name ".." and "app.py"), where only that list stops them (without it
    the first reads the static/ folder's parent and fails)."""
    _, client, _ = studio
    for path in ("/static/%2e%2e/app.py", "/static/%2e%2e%2fapp.py", "/static/%2e%2e", "/static/app.py"):
        response = client.get(path)
        assert response.request.url.raw_path == path.encode()  # sent as written, not normalised
        assert response.status_code == 404 and "def create_app" not in response.text, path


# ---------------------------------------------------------------- rule table and live preview

def test_rule_table_shows_python_lfs_read_only(studio):
    state, client, _ = studio
    page = client.get("/").text
    for name in ("kw_billing", "re_cancel", "slow_is_connectivity"):
        assert f'data-rule="{name}" class="readonly' in page
    assert "not used by the build yet" in page
    source = client.get("/rules/slow_is_connectivity").text
    assert "read-only" in source and "return &#34;connectivity&#34; if &#34;slow&#34; in row.text" in source
    assert "<form" not in source.split("<main>")[1]


def test_preview_figures_match_an_independent_computation(studio):
    from labelkit.apply.local import apply_lfs
    from labelkit.pipeline.baselines import rule_baseline
    from labelkit.lfs.declarative import keywords
    from labelkit.studio.engine import wilson

    state, client, _ = studio
    html = _post(client, state, "/preview", {**RULE, "sha": state.rules_sha256}).text
    ws = state.workspace
    lf = keywords("connectivity", ["wifi", "router"], name="x")
    train = apply_lfs([lf], ws.frames["train"], ws.classes, text_column="text").L[:, 0]
    dev = apply_lfs([lf], ws.frames["dev"], ws.classes, text_column="text").L[:, 0]
    fired = dev >= 0
    correct = int((dev[fired] == ws.y_dev[fired]).sum())
    low, high = wilson(correct, int(fired.sum()))
    assert f'<td id="preview-coverage">{100 * (train >= 0).mean():.1f}%</td>' in html
    assert f"{100 * correct / fired.sum():.1f}% <span class=\"ci\">[{100 * low:.1f}, {100 * high:.1f}] n={fired.sum()}" in html
    after = rule_baseline(np.column_stack([ws.votes["dev"].matrix(), dev]), ws.prior)
    assert f'<td id="after-baseline">{100 * (after == ws.y_dev).mean():.1f}%' in html


def test_preview_warns_about_high_coverage_low_accuracy_rules(studio):
    state, client, _ = studio
    html = _post(client, state, "/preview", {**RULE, "name": "kw_ref", "class": "cancellation", "words": "ref",
                                             "sha": state.rules_sha256}).text
    assert "⚠ fires on 100% of train rows but is right on only" in html


def test_preview_refuses_invalid_rules_with_the_reason_escaped(studio):
    state, client, _ = studio
    html = _post(client, state, "/preview", {**RULE, "kind": "regex", "pattern": "<b>((", "sha": ""}).text
    assert "Cannot use this rule" in html and "bad regex &#39;&lt;b&gt;((&#39;" in html and "<b>" not in html
    html = _post(client, state, "/preview", {**RULE, "kind": "column", "condition": "__import__('os') == 1"}).text
    assert "bad condition" in html
    html = _post(client, state, "/preview", {**RULE, "kind": "column", "condition": "nope > 1"}).text
    assert "unknown column &#39;nope&#39;" in html


def test_preview_shows_data_text_escaped(studio):
    state, client, _ = studio
    gold = state.workspace.classes[state.workspace.y_dev[0]]
    wrong = next(c for c in state.classes if c != gold)  # so the first dev row is "wrong on dev"
    html = _post(client, state, "/preview", {**RULE, "class": wrong, "words": "invoice"}).text
    assert "&lt;img src=x onerror=alert(1)&gt; my invoice" in html and "<img" not in html


def test_preview_refuses_the_name_of_another_lf(studio):
    state, client, _ = studio
    html = _post(client, state, "/preview", {**RULE, "name": "kw_billing"}).text
    assert "kw_billing&#39;: an LF or rule with this name already exists" in html


def test_distinct_vote_patterns_from_row_hashes_equal_numpy_unique():
    from labelkit.studio.engine import VoteMatrix

    rng = np.random.default_rng(3)
    columns = {f"lf{j}": rng.integers(-1, 3, size=2000).astype(np.int8) for j in range(12)}
    matrix = VoteMatrix(dict(columns), 3, 2000)
    matrix.replace("lf4", None)
    extra = rng.integers(-1, 3, size=2000).astype(np.int8)
    patterns, counts = matrix.distinct(("new", extra))
    expected = np.column_stack([c for n, c in columns.items() if n != "lf4"] + [extra])
    want_rows, want_counts = np.unique(expected, axis=0, return_counts=True)
    order = np.lexsort(patterns.T[::-1])
    assert (patterns[order] == want_rows).all() and (counts[order] == want_counts).all()
    assert (matrix.class_votes == np.stack([(expected[:, :-1] == c).sum(axis=1) for c in range(3)], axis=1)).all()


# ---------------------------------------------------------------- saving

def test_save_writes_the_rules_file_and_updates_the_table(fresh_studio):
    from labelkit.lfs.rules import read_rules

    state, client, folder = fresh_studio
    response = _post(client, state, "/save", {**RULE, "sha": state.rules_sha256})
    assert response.status_code == 303 and response.headers["location"] == "/?saved=kw_wifi_router"
    rules = read_rules(folder / "rules.toml")
    assert [(r.name, r.label, r.options) for r in rules] == [
        ("kw_wifi_router", "connectivity", {"words": ["wifi", "router"]})]
    page = client.get("/?saved=kw_wifi_router").text
    assert 'data-rule="kw_wifi_router" class="editable' in page
    coverage = state.workspace.figures("kw_wifi_router").coverage
    assert coverage > 0 and f"{100 * coverage:.1f}%" in page.split('data-rule="kw_wifi_router"')[1].split("</tr>")[0]


def test_a_second_tab_does_not_lose_an_edit_silently(fresh_studio):
    state, client, folder = fresh_studio
    path = folder / "rules.toml"
    assert _post(client, state, "/save", {**RULE, "sha": state.rules_sha256}).status_code == 303  # a file to edit
    stale = state.rules_sha256
    first = _post(client, state, "/save", {**RULE, "name": "kw_signal", "words": "signal", "sha": stale})
    assert first.status_code == 303
    before = path.read_bytes()
    second = _post(client, state, "/save", {**RULE, "name": "kw_modem", "words": "modem", "sha": stale})
    assert second.status_code == 409 and "changed by someone else" in second.text
    assert 'value="kw_modem"' in second.text  # the edit is still in the form
    assert path.read_bytes() == before


def test_invalid_save_is_refused_and_the_file_untouched(fresh_studio):
    state, client, folder = fresh_studio
    path = folder / "rules.toml"
    assert _post(client, state, "/save", {**RULE, "sha": state.rules_sha256}).status_code == 303
    before = path.read_bytes()
    response = _post(client, state, "/save", {**RULE, "name": "re_bad", "kind": "regex", "pattern": "((",
                                              "sha": state.rules_sha256})
    assert response.status_code == 400 and "bad regex" in response.text
    assert path.read_bytes() == before


def test_edits_made_outside_the_studio_are_picked_up(fresh_studio):
    state, client, folder = fresh_studio
    path = folder / "rules.toml"
    assert _post(client, state, "/save", {**RULE, "sha": state.rules_sha256}).status_code == 303
    path.write_text(path.read_text() + '\n[[rule]]\nname = "kw_outside"\nclass = "billing"\nkind = "keywords"\nwords = ["bill"]\n')
    assert 'data-rule="kw_outside"' in client.get("/").text
    delete = _post(client, state, "/rules/kw_outside/delete", {"sha": state.rules_sha256})
    assert delete.status_code == 303 and "kw_outside" not in path.read_text()


# ---------------------------------------------------------------- review queue -> corrections file

def test_review_queue_lists_each_source_escaped(studio):
    from labelkit.studio.review import AUDIT_ROWS, SOURCES

    state, client, _ = studio
    page = client.get("/review").text
    for title in SOURCES.values():
        assert title in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img" not in page
    # gold review: 2 flagged (a suspect gold label, a rules-vs-model disagreement) + 15 drawn; a test row, a weak
    # label, a row with p < 0.5
    assert page.count('class="item') == 2 + AUDIT_ROWS + 3
    assert "Not a test row" in page


def _articles(page: str) -> list[str]:
    return page.split("<article")[1:]


def test_gold_review_is_blind_and_mixes_flagged_rows_with_drawn_ones(studio):
    """No system's answer, no score, not the current gold label, nothing that tells a flagged row from a drawn
    one; every label form starts on "choose a class", never on the first class."""
    state, client, folder = studio
    dev, test = pd.read_csv(folder / "dev.csv"), pd.read_csv(folder / "test.csv")
    page = client.get("/review?source=gold_review").text
    articles = _articles(page)
    assert len(articles) == 17
    keys = [a.split('data-key="', 1)[1].split('"', 1)[0] for a in articles]
    assert f"gold_review:dev:{dev.id[0]}" in keys and f"gold_review:test:{test.id[1]}" in keys
    for article in articles:
        for leak in ("rules say", "says", "cleanlab", "current label", "flagged", "drawn", "p="):
            assert leak not in article
        assert '<option value="" selected disabled>choose a class…</option>' in article
        assert article.count("selected") == 1 and "required" in article
    split, row_id = keys[0].split(":")[1:]
    gold = state.labels[split][row_id]
    assert f">{gold}<" not in articles[0].split("<select")[0]  # the class names appear only in the list


def test_blind_gold_labels_are_recorded_as_confirm_or_change_with_their_queue(fresh_studio):
    from labelkit.studio.review import GOLD_QUEUES

    state, client, folder = fresh_studio
    dev, test = pd.read_csv(folder / "dev.csv"), pd.read_csv(folder / "test.csv")
    page = client.get("/review?source=gold_review").text
    drawn = next(k for k in (a.split('data-key="', 1)[1].split('"', 1)[0] for a in _articles(page))
                 if k.split(":", 2)[2] not in (dev.id[0], test.id[1]))
    other = next(c for c in state.classes if c != test.label[1])
    answers = [("dev", dev.id[0], dev.label[0]), ("test", test.id[1], other)] + [tuple(drawn.split(":")[1:]) + (
        state.labels[drawn.split(":")[1]][drawn.split(":")[2]],)]
    for split, row_id, label in answers:
        done = _post(client, state, "/review/decide", {"split": split, "row_id": row_id, "action": "label",
                                                       "item_source": "gold_review", "new": label})
        assert done.status_code == 303
    nothing = _post(client, state, "/review/decide", {"split": "dev", "row_id": dev.id[0], "action": "label",
                                                      "item_source": "gold_review", "new": ""})
    assert nothing.status_code == 400 and "Choose the row" in nothing.text
    unblind = _post(client, state, "/review/decide", {"split": "test", "row_id": test.id[2], "action": "change",
                                                      "new": other})
    assert unblind.status_code == 400  # gold labels change through the blind review only
    items = read_corrections(folder / "corrections.csv")
    assert [(c.split, c.row_id, c.action, c.old, c.new, c.reason) for c in items] == [
        ("dev", dev.id[0], "confirm", dev.label[0], dev.label[0], f"gold_review: {GOLD_QUEUES['label_issue']}"),
        ("test", test.id[1], "change", test.label[1], other, f"gold_review: {GOLD_QUEUES['rules_vs_model']}"),
        (*answers[2][:2], "confirm", answers[2][2], answers[2][2], f"gold_review: {GOLD_QUEUES['audit']}"),
    ]
    after = client.get("/review?source=gold_review").text
    assert f"you said {other}; the gold label was {test.label[1]}, so it changes" in after


def test_review_decisions_go_to_the_corrections_file(fresh_studio):
    state, client, folder = fresh_studio
    test, train = pd.read_csv(folder / "test.csv"), pd.read_csv(folder / "train.csv")
    confirm = _post(client, state, "/review/decide", {"split": "train", "row_id": train.id[2], "action": "confirm",
                                                       "reason": "weak_label_issue"})
    change = _post(client, state, "/review/decide", {"split": "train", "row_id": train.id[2], "action": "change",
                                                      "new": "cancellation", "reason": "=HYPERLINK(\"x\")"})
    not_test = _post(client, state, "/review/decide", {"split": "test", "row_id": test.id[1],
                                                        "action": "not_test_row", "reason": "test_row"})
    no_class = _post(client, state, "/review/decide", {"split": "train", "row_id": train.id[2], "action": "change",
                                                        "new": ""})
    assert [r.status_code for r in (confirm, change, not_test, no_class)] == [303, 303, 303, 400]
    items = read_corrections(folder / "corrections.csv")
    weak = ""  # the fake run has no weak label for this row
    assert [(c.split, c.row_id, c.action, c.old, c.new, c.reviewer) for c in items] == [
        ("train", train.id[2], "confirm", weak, weak, "ana"),
        ("train", train.id[2], "change", weak, "cancellation", "ana"),
        ("test", test.id[1], "not_test_row", test.label[1], "", "ana"),
    ]
    assert items[1].reason == '=HYPERLINK("x")' and all(c.time for c in items)
    raw = list(csv.reader((folder / "corrections.csv").open()))
    assert raw[0] == ["row_id", "split", "action", "old", "new", "reason", "reviewer", "time"]
    assert raw[2][5].startswith("'=")  # a spreadsheet shows it as text, not a formula
    page = client.get("/review?source=weak_label_issue").text
    assert "Decided: change → cancellation by ana" in page
    change_form = page.split('class="inline change-form"')[1].split("</form>")[0]
    assert '<option value="" selected disabled>choose a class…</option>' in change_form  # never the first class


def test_label_next_rows_are_labelled_blind_into_the_human_labels_file(fresh_studio):
    """Rows `labelkit label-next` wrote (the human labels file) and a repair's label_next.csv: shown with their
    text and slice columns only; a label goes into the human labels file, which the next build reads."""
    from labelkit.io.files import read_review_csv

    state, client, folder = fresh_studio
    human = folder / "label_next.csv"  # [data] human_labels' default, beside the config
    pd.DataFrame({"id": ["n1", "n2"], "label": ["", ""], "text": ["=cmd|' /C calc'!A0 my bill", "wifi gone"],
                  "country": ["FR", "US"], "why": ["model unsure (0.90)", "model unsure (0.80)"]}).to_csv(human, index=False)
    pd.DataFrame({"slice": ["country=FR"], "row_id": ["r9"], "text": ["résilier mon contrat"], "country": ["FR"],
                  "label": [""]}).to_csv(state.run_dir / "label_next.csv", index=False)
    page = client.get("/review?source=label_next").text
    assert page.count("<article") == 3 and "country <code>FR</code>" in page and "=cmd|" in page
    assert "(0.90)" not in page  # blind: not even why the picker chose it
    for row_id, label in (("n1", "billing"), ("r9", "cancellation")):
        done = _post(client, state, "/review/decide", {"split": "train", "row_id": row_id, "action": "label",
                                                       "item_source": "label_next", "new": label})
        assert done.status_code == 303
    table = read_review_csv(human, dtype=str, keep_default_na=False).set_index("id")
    assert table.loc["n1", "label"] == "billing" and table.loc["n1", "labelled_by"] == "ana"
    assert table.loc["n2", "label"] == "" and table.loc["r9", "label"] == "cancellation"
    assert table.loc["r9", "text"] == "résilier mon contrat" and table.loc["n1", "text"].startswith("=cmd")
    assert human.read_text().count("'=cmd") == 1  # formula-safe for a spreadsheet
    assert client.get("/review?source=label_next").text.count("<article") == 1


def test_a_rules_file_broken_by_hand_shows_the_builds_message(fresh_studio):
    state, client, folder = fresh_studio
    state.rules_path.write_text('[[rule]]\nname = "kw_refund"\nclass = "billing"\nkind = "keywords"\n'
                                'words = ["refund]\n')
    for url in ("/", "/rules/new"):
        page = client.get(url)
        assert page.status_code == 409
        assert (f"{state.rules_path}:5: rule &#39;kw_refund&#39;: invalid TOML: a quoted value is not closed on this "
                f"line: add the closing &#34;") in page.text
    state.rules_path.write_text('[[rule]]\nname = "kw_refund"\nclass = "bililng"\nkind = "keywords"\nwords = ["x"]\n')
    page = client.get("/")
    assert page.status_code == 409 and f"{state.rules_path}:1: rule &#39;kw_refund&#39;" in page.text
    state.rules_path.write_text('[[rule]]\nname = "kw_refund"\nclass = "billing"\nkind = "keywords"\nwords = ["x"]\n')
    assert client.get("/").status_code == 200


def test_rules_page_defines_overlaps_and_conflicts(studio):
    state, client, _ = studio
    terms = client.get("/").text.split('id="terms"')[1].split("</dl>")[0]
    assert "at least one other rule votes too" in terms and "another rule votes a different class" in terms


def test_review_refuses_unknown_rows_and_labels(studio):
    state, client, folder = studio
    before = (folder / "corrections.csv").read_bytes() if (folder / "corrections.csv").exists() else b""
    assert _post(client, state, "/review/decide", {"split": "dev", "row_id": "nope", "action": "confirm"}).status_code == 400
    dev = pd.read_csv(folder / "dev.csv")
    bad = _post(client, state, "/review/decide", {"split": "dev", "row_id": dev.id[1], "action": "change", "new": "spam"})
    assert bad.status_code == 400
    after = (folder / "corrections.csv").read_bytes() if (folder / "corrections.csv").exists() else b""
    assert after == before


# ---------------------------------------------------------------- applying corrections (the build's side)

def _data(folder):
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data

    config = load_config(folder / "labelkit.toml")
    return config, load_task_data(config)


def test_corrections_change_gold_labels_and_skip_stale_ones(task):
    from labelkit.data.corrections import AppliedCorrections

    config, data = _data(task.parent)
    dev = data.frames["dev"]
    first, second = dev.id.iloc[0], dev.id.iloc[1]
    other = next(c for c in data.schema.classes if c != dev.label.iloc[0])
    items = [Correction(first, "dev", "change", dev.label.iloc[0], other),
             Correction(second, "dev", "change", "not-the-current-label", other),
             Correction("missing", "dev", "confirm", "billing", "billing")]
    applied = AppliedCorrections("c.csv", "x", items)
    fixed = apply_gold(data, applied, config)
    assert fixed.frames["dev"].label.iloc[0] == other and data.frames["dev"].label.iloc[0] != other  # input untouched
    assert fixed.gold["dev"][0] == data.schema.classes.index(other)
    assert (fixed.gold["dev"][1:] == data.gold["dev"][1:]).all()
    assert [s["row_id"] for s in applied.skipped] == [second, "missing"]
    assert applied.record()["decisions"] == {"confirm": 1, "change": 2, "not_test_row": 0}


def test_not_a_test_row_removes_only_that_test_row_finding():
    from labelkit.data.corrections import AppliedCorrections

    findings = pd.DataFrame({"split": ["test", "test", "dev"], "row_id": ["a", "a", "b"],
                             "reason": ["test_row", "group_leakage", "test_row"], "score": 1.0, "evidence": ""})
    findings.attrs["id_column"] = "id"
    applied = AppliedCorrections("c.csv", "x", [Correction("a", "test", "not_test_row")])
    kept = unquarantine(findings, applied)
    assert kept[["row_id", "reason"]].values.tolist() == [["a", "group_leakage"], ["b", "test_row"]]
    assert kept.attrs["id_column"] == "id" and len(applied.applied) == 1


def test_train_corrections_become_one_hot_training_labels():
    from labelkit.data.corrections import AppliedCorrections

    proba = np.full((3, 2), 0.5)
    frame = pd.DataFrame({"id": ["t1", "t2", "t3"]})
    applied = AppliedCorrections("c.csv", "x", [Correction("t2", "train", "change", "a", "b")])
    out = apply_train(proba, frame, applied, ("a", "b"), id_column="id")
    assert out.tolist() == [[0.5, 0.5], [0.0, 1.0], [0.5, 0.5]] and proba[1].tolist() == [0.5, 0.5]


def test_gold_changes_say_how_many_per_queue_and_what_they_did_to_each_system():
    """The report's account of gold corrections: reviewed and changed per queue and split, and every system's
    test accuracy with the old gold labels and with the new ones."""
    from types import SimpleNamespace

    from labelkit.data.corrections import AppliedCorrections, gold_changes
    from labelkit.schema import LabelSchema

    schema = LabelSchema(("a", "b"))
    test = pd.DataFrame({"id": ["t1", "t2", "t3", "t4"], "label": ["a", "b", "b", "a"]})  # after the corrections
    data = SimpleNamespace(frames={"test": test}, gold={"test": np.array([0, 1, 1, 0])}, schema=schema)
    applied = AppliedCorrections("c.csv", "x", [])
    applied.applied = [
        {"row_id": "t2", "split": "test", "action": "change", "old": "a", "new": "b",
         "reason": "gold_review: flagged: rules and model disagree"},
        {"row_id": "t3", "split": "test", "action": "confirm", "old": "b", "new": "b",
         "reason": "gold_review: drawn at random for audit"},
        {"row_id": "d1", "split": "dev", "action": "change", "old": "b", "new": "a",
         "reason": "gold_review: drawn at random for audit"},
        {"row_id": "r1", "split": "train", "action": "change", "old": "a", "new": "b", "reason": "low_confidence"},
    ]
    preds = {"rules": np.array([0, 0, 1, 0]), "model": np.array([0, 1, 1, 0])}
    out = gold_changes(applied, data, preds, "id")
    assert out["by_queue"] == {
        "gold_review: flagged: rules and model disagree": {"test": {"reviewed": 1, "changed": 1}},
        "gold_review: drawn at random for audit": {"test": {"reviewed": 1, "changed": 0},
                                                   "dev": {"reviewed": 1, "changed": 1}}}
    assert out["changed"] == {"dev": 1, "test": 1} and out["test_rows_changed"] == 1
    assert out["test_effect"] == {"rules": {"with_old_gold": 1.0, "with_new_gold": 0.75},
                                  "model": {"with_old_gold": 0.75, "with_new_gold": 1.0}}


def test_corrections_file_round_trip_and_bad_rows(tmp_path):
    path = tmp_path / "corrections.csv"
    append_correction(path, Correction("-1", "dev", "change", "a", "b", "@SUM(1)", "ana", "t"))
    append_correction(path, Correction("-1", "dev", "confirm", "b", "b", "again", "bo", "t2"))
    items = read_corrections(path, classes=("a", "b"))
    assert items[0].row_id == "-1" and items[0].reason == "@SUM(1)"
    assert latest(items) == [items[1]]
    path.write_text("row_id,split,action,old,new,reason,reviewer,time\nx,dev,delete,,,,,\n")
    with pytest.raises(DatasetError, match="line 2 .*action 'delete' is not one of"):
        read_corrections(path)


@pytest.mark.slow  # a fresh interpreter importing pandas/numpy/spaCy-free labelkit: seconds
def test_cli_serves_on_localhost_with_the_printed_token(task):
    import httpx

    from conftest import studio_process

    with studio_process(task, task.parent / "no_build") as url:
        base = url.split("/?")[0]
        with httpx.Client() as client:
            assert client.get(base + "/").status_code == 403
            page = client.get(url, follow_redirects=True)
            assert page.status_code == 200 and 'data-rule="kw_billing"' in page.text
            review = client.get(base + "/review")
            assert "No build output in" in review.text


@pytest.mark.slow  # a full build (audit included); the browser test runs a build with a correction by default
def test_build_applies_corrections_and_records_them(tmp_path):
    """A real build: a "not a test row" decision keeps a row the audit would quarantine, a gold change
    reaches the scored test labels, a train change reaches the training labels; all in the manifest."""
    import json

    from conftest import write_task

    from labelkit.settings.config import load_config
    from labelkit.pipeline.run import build

    config_path = write_task(tmp_path / "task", n_train=300, n_dev=120, n_test=100)
    test = pd.read_csv(tmp_path / "task" / "test.csv")
    test.loc[0, "text"] = "test ticket pls ignore"  # placeholder text: the audit calls it a test row
    test.to_csv(tmp_path / "task" / "test.csv", index=False)
    train_id = pd.read_csv(tmp_path / "task" / "train.csv").id[5]
    new_gold = next(c for c in ("billing", "connectivity") if c != test.label[1])
    for item in (Correction(test.id[0], "test", "not_test_row", reviewer="ana"),
                 Correction(test.id[1], "test", "change", test.label[1], new_gold, reviewer="ana"),
                 Correction(train_id, "train", "change", "", "cancellation", reviewer="ana")):
        append_correction(tmp_path / "task" / "corrections.csv", item)
    fast = {"end_model.enabled": "false", "label_model.candidates": '["majority"]', "evaluate.bootstrap": "20",
            "audit.weak_label_issues": "false"}
    run = tmp_path / "run"
    build(load_config(config_path, overrides=fast), out=run)

    manifest = json.loads((run / "manifest.json").read_text())
    effects = {(a["row_id"], a["action"]): a["effect"] for a in manifest["corrections"]["applied"]}
    assert effects == {(test.id[0], "not_test_row"): "test-row finding removed (row kept)",
                       (test.id[1], "change"): f"gold label {test.label[1]} -> {new_gold}",
                       (train_id, "change"): "training label -> cancellation"}
    assert manifest["corrections"]["skipped"] == []
    predictions = pd.read_csv(run / "test_predictions.csv", dtype=str)
    assert test.id[0] in set(predictions.row_id)  # kept, not quarantined
    assert predictions.set_index("row_id").gold[test.id[1]] == new_gold
    train_labels = pd.read_csv(run / "train_labels.csv", dtype=str).set_index("id")
    assert float(train_labels.prob_cancellation[train_id]) == 1.0
    assert json.loads((run / "metrics.json").read_text())["corrections"]["decisions"]["change"] == 2
