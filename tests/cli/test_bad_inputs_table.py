"""Issue 12's hostile inputs, as a table: each ends in exit 1 and one `error:` line naming the
file/column/setting, no traceback, no output folder, inputs untouched - before any work is done.
The legal inputs of the same list (column names with spaces, list-valued fields, formula-like texts,
an `LFS` list of plain functions) build, and the review CSVs are safe to open in a spreadsheet."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import write_task
from labelkit.cli.main import cli


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def edit_csv(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]):
    def mutate(folder: Path) -> None:
        path = folder / name
        change(pd.read_csv(path)).to_csv(path, index=False)
    return mutate


def write_file(name: str, content: str | bytes):
    def mutate(folder: Path) -> None:
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return mutate


def jsonl_with_lists(folder: Path) -> None:
    for split in ("train", "dev", "test"):
        frame = pd.read_csv(folder / f"{split}.csv")
        frame["country"] = [[c, "x"] for c in frame["country"]]  # a list-valued slice column
        frame.to_json(folder / f"{split}.jsonl", orient="records", lines=True)


def no_text_column(folder: Path) -> None:
    pd.read_csv(folder / "train.csv").drop(columns=["text"]).to_parquet(folder / "big.parquet")


def mkdir_with_file(folder: Path) -> None:
    (folder.parent / "mine").mkdir()
    (folder.parent / "mine" / "thesis.tex").write_text("years of work")


def foreign_parquet(folder: Path) -> None:
    pd.read_csv(folder / "train.csv").to_parquet(folder / "big.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(folder.parent / "precious.parquet")


@dataclass
class Case:
    name: str
    args: list[str]  # after `build CONFIG` (or the full `label` command when it starts with "label")
    pattern: str
    mutate: Callable[[Path], None] | None = None
    extra: list[str] = field(default_factory=list)


BUILD_CASES = [
    # config ranges, checked when the config is loaded
    Case("bootstrap 0", ["--set", "evaluate.bootstrap=0"], r"\[evaluate -> bootstrap\] is 0; allowed: an integer >= 10"),
    Case("C negative", ["--set", "end_model.C=[-1.0]"], r"\[end_model -> C\] is \[-1.0\]; allowed: a non-empty list of numbers > 0"),
    Case("C not a number", ["--set", "end_model.C=abc"], r"\[end_model -> C\] must be a list of numbers > 0, got \['abc'\]"),
    Case("C empty", ["--set", "end_model.C=[]"], r"\[end_model -> C\] is \[\]; allowed"),
    Case("tolerance > 1", ["--set", "evaluate.guardrail_tolerance=2"],
         r"\[evaluate -> guardrail_tolerance\] is 2.0; allowed: a number in \[0, 1\]"),
    Case("threshold 0", ["--set", "audit.near_duplicate_threshold=0"],
         r"\[audit -> near_duplicate_threshold\] is 0.0; allowed: a number in \(0, 1\]"),
    Case("min slice 0", ["--set", "evaluate.min_slice_size=0"], r"\[evaluate -> min_slice_size\] is 0; allowed: an integer >= 1"),
    Case("seed negative", ["--seed", "-1"], r"\[task -> seed\] is -1; allowed: an integer in \[0, 2\*\*32\)"),
    Case("max_features 0", ["--set", "end_model.max_features=0"], r"\[end_model -> max_features\] is 0"),
    Case("duplicate class", ["--set", 'task.classes=["a", "a"]'], r"\[task -> classes\] is \['a', 'a'\]; allowed: unique"),
    # names from config never escape runs/
    Case("task name ../..", ["--set", 'task.name="../../x"'],
         r"\[task -> name\] is '../../x'; allowed: 1-100 letters, .* \(it names the output folder runs/NAME\)"),
    Case("task name absolute", ["--set", 'task.name="/tmp/x"'], r"\[task -> name\] is '/tmp/x'"),
    # files as users have them
    Case("latin-1 file read as utf-8", [], r"Cannot decode .*dev.csv as utf-8 \(byte 0xa3 at position \d+\); set \[data -> encoding\]",
         write_file("dev.csv", "id,text,label\nd1,costs \xa35 now,billing\n".encode("latin-1"))),
    Case("unknown encoding", ["--set", "data.encoding=latin-99"], r"\[data -> encoding\] is 'latin-99'; allowed: an encoding Python knows"),
    Case("headerless without names", ["--set", "data.header=false"], r"\[data -> header\] is false, so \[data -> column_names\] must name"),
    Case("two-character delimiter", ["--set", "data.delimiter=;;"], r"\[data -> delimiter\] is ';;'; allowed: one character"),
    Case("more fields than names", ["--set", "data.header=false", "--set", 'data.column_names=["id", "text"]'],
         r"Cannot read .*train.csv as csv: .*a row has more fields than \[data -> column_names\]"),
    Case("labeled and train both set", ["--set", "data.labeled=dev.csv"],
         r"\[data -> labeled\] splits one file .*leave \[data\] train, dev, test"),
    Case("split fractions", ["--set", "data.split_fractions=[0.5, 0.5]"],
         r"\[data -> split_fractions\] is \[0.5, 0.5\]; allowed: three fractions"),
    Case("LFS not functions", [], r"lfs.py: LFS\[1\] is 'kw_refund' \(str\); a module-level LFS must be a list of labeling functions",
         write_file("lfs.py", "from labelkit import keywords\nk = keywords('billing', ['refund'], name='k')\nLFS = [k, 'kw_refund']\n")),
    Case("LFS a lambda", [], r"LFS\[0\] is a lambda \(it has no name\)",
         write_file("lfs.py", "LFS = [lambda row: None]\n")),
    # data shape and column types, found at load
    Case("duplicate column", [], r"test.csv: column 'text' appears twice \(columns \d+ and \d+\)",
         write_file("test.csv", "id,text,label,text\nt1,a,billing,b\n")),
    Case("list-valued slice column", ["--set", 'data.train="train.jsonl"', "--set", 'data.dev="dev.jsonl"',
                                      "--set", 'data.test="test.jsonl"'],
         r"train.jsonl: column 'country' holds a list on row 1 .*data.slice_columns needs one plain value", jsonl_with_lists),
    # output folders, refused before any work
    Case("out is /", ["--out", "/", "--force"], r"refusing to write the output to /, which is the root folder"),
    Case("out is the project", ["--out", "{task}", "--force"], r"refusing to write the output to .*task, which (is|holds) input"),
    Case("out holds an input", ["--out", "{task}/..", "--force"], r"refusing to write the output to .*, which holds"),
    Case("out not made by labelkit", ["--out", "{task}/../mine", "--force"],
         r"mine exists and is not a labelkit output \(no .labelkit-output file\); labelkit only replaces folders it made, --force or not",
         mkdir_with_file),
]

LABEL_CASES = [
    Case("label: no text column", ["label", "{config}", "--input", "{task}/big.parquet", "--out", "{task}/../l.parquet"],
         r"Column 'text' not found in .*big.parquet; columns are: .*Set data.text_column", no_text_column),
    Case("label: out is the input", ["label", "{config}", "--input", "{task}/train.csv", "--out", "{task}/train.csv", "--force"],
         r"--out .*train.csv is the input file"),
    Case("label: out not written by labelkit", ["label", "{config}", "--input", "{task}/big.parquet", "--out",
                                                "{task}/../precious.parquet", "--force"],
         r"precious.parquet exists and was not written by `labelkit label`; .*--force or not", foreign_parquet),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return write_task(tmp_path_factory.mktemp("template") / "task", n_train=60, n_dev=30, n_test=30)


@pytest.fixture
def tiny(template: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(template.parent, tmp_path / "task")
    return tmp_path / "task" / template.name


@pytest.mark.parametrize("case", BUILD_CASES + LABEL_CASES, ids=lambda c: c.name)
def test_bad_input(case: Case, tiny: Path, monkeypatch):
    import labelkit.io.output_folder as output_folder

    monkeypatch.setattr(output_folder.shutil, "rmtree", lambda *a, **k: pytest.fail("rmtree called"))
    folder = tiny.parent
    if case.mutate:
        case.mutate(folder)
    before, around = digest(folder), sorted(p.name for p in folder.parent.iterdir())
    fill = {"task": str(folder), "config": str(tiny)}
    args = [a.format(**fill) for a in case.args]
    out = folder.parent / "out"
    command = args + ["-q"] if args and args[0] == "label" else ["build", str(tiny), "-q", "--no-audit", *args]
    if "--out" not in command:
        command += ["--out", str(out)]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert re.search(case.pattern, lines[0]), lines[0]
    assert digest(folder) == before, "inputs were modified"
    assert sorted(p.name for p in folder.parent.iterdir()) == around, "something was written beside the inputs"


LFS_MODULE = '''
from labelkit import ABSTAIN, keywords

kw_billing = keywords("billing", ["invoice", "refund", "bill", "charged"], name="kw_billing")
kw_connectivity = keywords("connectivity", ["internet", "wifi", "signal", "router"], name="kw_connectivity")

def cancel_words(row):                         # a plain function: LFS lists it
    return "cancellation" if "cancel" in row.text or "terminate" in row.text else ABSTAIN

def routed_to_billing(row):                    # a column name with a space, by key and by attribute
    return "billing" if row["routing code"] == "B-7" and getattr(row, "routing code") == "B-7" else ABSTAIN

def private_column(row):
    return "connectivity" if row["_source"] == "modem" else ABSTAIN

LFS = [kw_billing, kw_connectivity, cancel_words, routed_to_billing, private_column]
'''


def test_row_objects_take_any_column_name():
    from labelkit.apply.local import apply_lfs
    from labelkit.lfs.loader import _module_lfs

    namespace: dict = {}
    exec(LFS_MODULE, namespace)
    module = type("M", (), namespace)
    lfs = _module_lfs(module, Path("lfs.py"))
    assert [lf.name for lf in lfs] == ["kw_billing", "kw_connectivity", "cancel_words", "routed_to_billing", "private_column"]
    frame = pd.DataFrame({"id": ["a", "b", "c"], "text": ["please cancel", "hello", "wifi"],
                          "routing code": ["C-1", "B-7", "C-1"], "_source": ["web", "web", "modem"],
                          "class": [1, 2, 3], "spans": [[1, 2], [3, 4], [5, 6]]})
    L = apply_lfs(lfs, frame, ("billing", "connectivity", "cancellation"), text_column="text", id_column="id").L
    assert L[:, 2:].tolist() == [[2, -1, -1], [-1, 0, -1], [-1, -1, 1]]


def test_list_valued_fields_are_not_slices():
    from labelkit.evaluate.slices import auto_slice_columns

    frame = pd.DataFrame({"spans": [[1, 2], [3, 4], [1, 2]] * 5, "channel": ["web", "app", "web"] * 5})
    assert auto_slice_columns(frame) == ["channel"]


def test_review_csvs_escape_formulas_and_read_back_exactly(tmp_path):
    from labelkit.io.files import read_review_csv, write_review_csv

    cells = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-cmd|' /C calc'!A0", "@SUM(A1)", "\tTAB", "'=quoted",
             "-3.5", "plain", "1e5"]
    frame = pd.DataFrame({"text": cells, "n": range(len(cells))})
    write_review_csv(frame, tmp_path / "r.csv")
    raw = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)["text"].tolist()
    assert all(not cell.startswith(("=", "+", "@", "\t")) for cell in raw)
    assert raw[2].startswith("'-") and raw[6] == "-3.5" and raw[7] == "plain"
    back = read_review_csv(tmp_path / "r.csv", keep_default_na=False)
    assert back["text"].tolist() == cells and back["n"].tolist() == list(range(len(cells)))


@pytest.mark.slow
def test_legal_but_unusual_inputs_build(tmp_path):
    """Column names that are not identifiers, list-valued fields, formula-like texts and an LFS list of
    plain functions: the build succeeds and the review CSVs escape formulas."""
    config = write_task(tmp_path / "task", n_train=80, n_dev=40, n_test=40, lf_module=LFS_MODULE)
    folder = config.parent
    for split in ("train", "dev", "test"):
        frame = pd.read_csv(folder / f"{split}.csv")
        frame["routing code"] = ["B-7" if "invoice" in t else "C-1" for t in frame["text"]]
        frame["_source"] = ["modem" if "wifi" in t else "web" for t in frame["text"]]
        frame["spans"] = [[i, i + 3] for i in range(len(frame))]  # like WRENCH entity spans
        frame.loc[0, "text"] = '=HYPERLINK("http://evil.example","click") invoice'
        frame.loc[1, "text"] = "@SUM(A1:A9) wifi down"
        frame.to_json(folder / f"{split}.jsonl", orient="records", lines=True)
    text = config.read_text()
    for split in ("train", "dev", "test"):
        text = text.replace(f'{split} = "{split}.csv"', f'{split} = "{split}.jsonl"')
    config.write_text(text.replace("bootstrap = 200", "bootstrap = 20"))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(out), "-q", "--no-audit"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "lf_summary.json").read_text())["lf_summary"]
    coverage = {row["lf"] if "lf" in row else row["name"]: row for row in summary}
    assert {"cancel_words", "routed_to_billing", "private_column"} <= set(coverage)
    predictions = pd.read_csv(out / "test_predictions.csv", keep_default_na=False)
    assert predictions.loc[0, "text"].startswith("'=HYPERLINK(")
    assert predictions.loc[1, "text"] == "'@SUM(A1:A9) wifi down"
    train = pd.read_csv(out / "train_labels.csv", keep_default_na=False)
    assert train.loc[0, "text"].startswith("'=HYPERLINK(")
    votes = train["lf_routed_to_billing"]
    assert (votes == "billing").sum() > 0, "the LF reading `routing code` never voted"
