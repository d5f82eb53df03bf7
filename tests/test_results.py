"""The typed results schema (labelkit.results) on a real build: metrics.json round-trips, the report
renders from the results, and a file missing a required key or of an unknown version fails in one line."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from conftest import CLASSES, make_frame

import labelkit as lk
from labelkit.errors import DatasetError
from labelkit.report import render_html, render_markdown
from labelkit.results import BuildResults, load_results


@pytest.fixture(scope="module")
def result():
    """A small build through the public API, with the audit, a time column and a slice column on."""
    rng = np.random.default_rng(3)
    train, dev = make_frame(160, rng, "tr"), make_frame(90, rng, "dv")
    test = make_frame(120, rng, "te", start="2024-06-01")
    task = lk.Task.from_frames(
        train.drop(columns="label"), dev, test, classes=CLASSES, id="id", name="typed",
        time_column="created_at", group_column="customer", slice_columns=["country"],
        settings={"label_model": {"candidates": ["majority"]}, "evaluate": {"bootstrap": 50, "min_slice_size": 20},
                  "end_model": {"compare_hard": False, "C": [1.0]},
                  "audit": {"checks": ["exact_duplicate_cross_split", "group_leakage", "time_leakage"],  # the fast ones
                            "weak_label_issues": False}})
    lfs = [lk.keywords("billing", ["invoice", "refund", "bill", "charged"], name="kw_billing"),
           lk.keywords("connectivity", ["internet", "wifi", "signal", "router"], name="kw_connectivity"),
           lk.regex("cancellation", r"\bcancel|terminate", name="re_cancel")]
    return lk.run(task, lfs)


def test_results_are_typed_and_round_trip_through_metrics_json(result):
    results = result.metrics
    assert isinstance(results, BuildResults)
    assert results.task.rows == {"train": 160, "dev": 90, "test": 120}
    assert results.audit is not None and results.drift is not None and results.expectations is None
    assert set(results.systems.systems) == {"majority_class", "stratified_random", "rule_baseline", "label_model",
                                            "end_model"}
    data = results.to_json()
    assert data["schema_version"] == 1 and "expectations" not in data  # a skipped section is left out
    text = json.dumps(data, indent=2)
    again = BuildResults.from_json(json.loads(text))
    assert again == results
    assert json.dumps(again.to_json(), indent=2) == text


def test_report_renders_from_a_real_builds_results(result):
    results = result.metrics
    page, text = render_html(results, plots=False), render_markdown(results)
    for rendered in (page, text):
        assert "rows: train 160, dev 90, test 120" in rendered
        assert "Gold rows scored: dev 90 of 90, test 120 of 120." in rendered
        for name in results.systems.systems:
            assert name.replace("_", "\\_") in rendered if rendered is text else name in rendered
    end_model = results.systems.systems["end_model"]
    assert f"| end\\_model | {100 * end_model.accuracy:.1f}% |" in text
    for title in ("Slices and guardrails", "Labeling functions", "Label model", "Drift over created_at",
                  "Data-quality audit", "Reproducibility"):
        assert title in page


def test_missing_required_key_or_unknown_version_is_one_line(result, tmp_path):
    data = result.metrics.to_json()
    broken = copy.deepcopy(data)
    del broken["systems"]["systems"]["end_model"]["accuracy"]
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(DatasetError) as error:
        load_results(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "'systems.systems.end_model.accuracy'" in message
    del broken["task"]
    with pytest.raises(DatasetError, match=r"required key 'task' is missing"):
        BuildResults.from_json(broken)
    path.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(DatasetError, match=r"metrics.json: schema_version 99 is not one this labelkit reads"):
        load_results(path)
    path.write_text(json.dumps({**data, "slices": {"country": "FR"}}))
    with pytest.raises(DatasetError, match=r"slices should be a list, not dict"):
        load_results(path)


def test_old_files_and_keys_from_other_modules_still_load(result):
    data = result.metrics.to_json()
    old = {k: v for k, v in data.items() if k != "schema_version"}  # written before the schema existed
    assert BuildResults.from_json(old) == result.metrics
    # a section noting how it was computed (e.g. sampled at scale) keeps its extra keys, and the report shows them
    data["audit"]["before_after"]["note"] = "fitted on a 50,000-row sample"
    data["audit"]["before_after"]["sampled_rows"] = 50000
    data["drift"]["temporal_holdout"]["note"] = "holdout <sampled>"
    data["systems"]["systems"]["end_model"].update(sampled_rows=50000, note="end model sampled")
    data["label_models"]["candidates"][0]["threshold"] = 0.4
    loaded = BuildResults.from_json(data)
    assert loaded.audit.before_after.sampled_rows == 50000
    assert loaded.label_models.candidates[0].extra == {"threshold": 0.4}
    assert loaded.to_json() == data
    page = render_html(loaded, plots=False)
    assert "fitted on a 50,000-row sample" in page and "holdout &lt;sampled&gt;" in page
    assert loaded.systems.systems["end_model"].sampled_rows == 50000 and '<td class="t">end model sampled</td>' in page


@pytest.mark.parametrize("path, value, message", [
    (("systems", "systems", "end_model", "accuracy"), "n/a",
     r"systems\.systems\.end_model\.accuracy should be a number, not str 'n/a'"),
    (("task", "rows", "test"), 12.5, r"task\.rows\.test should be a whole number, not float 12\.5"),
    (("task", "classes", 0), 3, r"task\.classes\[0\] should be text, not int 3"),
    (("systems", "systems", "end_model", "accuracy"), True, r"should be a number, not bool True"),
])
def test_a_scalar_of_the_wrong_kind_is_one_line(result, tmp_path, path, value, message):
    """Scalars are checked, not kept as stored: "n/a" in a number field would reach the report as text."""
    data = copy.deepcopy(result.metrics.to_json())
    where = data
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    file = tmp_path / "metrics.json"
    file.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=message) as error:
        load_results(file)
    assert "\n" not in str(error.value) and str(file) in str(error.value)
