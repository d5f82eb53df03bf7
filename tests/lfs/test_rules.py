"""Rules as data: the TOML rules file, the safe condition grammar, minimal-diff atomic saving."""
from __future__ import annotations

import difflib
import textwrap

import numpy as np
import pandas as pd
import pytest

from labelkit.apply.local import apply_lfs
from labelkit.errors import LabelingFunctionError
from labelkit.lfs.condition import ConditionError, parse_condition
from labelkit.lfs.rules import Rule, RulesConflict, delete_rule, file_sha256, load_rules, read_rules, save_rule

CLASSES = ("billing", "connectivity", "cancellation")
RULES = textwrap.dedent('''\
    # Rules of the support team. Keep this comment.
    [[rule]]
    name = "kw_refund"   # money back
    class = "billing"
    kind = "keywords"
    words = ["refund", "charged twice"]

    [[rule]]
    name = "re_no_signal"
    class = "connectivity"
    kind = "regex"
    pattern = "\\\\bno (signal|internet)\\\\b"

    [[rule]]
    name = "ph_cancel"
    class = "cancellation"
    kind = "phrases"
    phrases = ["cancel my plan"]

    [[rule]]
    name = "sp_terminate"
    class = "cancellation"
    kind = "spacy"
    patterns = [[{LOWER = "terminate"}, {LOWER = "my", OP = "?"}, {LOWER = "contract"}]]

    [[rule]]
    name = "big_fr"
    class = "billing"
    kind = "column"
    condition = "amount > 100 and (country == 'FR' or country == 'BE')"
''')
FRAME = pd.DataFrame({
    "text": ["I want a REFUND now", "no signal at home", "please cancel my plan", "terminate contract", "hello",
             "charged twice!"],
    "amount": [500, 5, None, 200, 150, 1],
    "country": ["FR", "FR", "BE", "US", "BE", None],
})


@pytest.fixture
def rules_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    return path


def test_each_kind_votes_where_it_should(rules_file):
    lfs = load_rules([rules_file], classes=list(CLASSES), columns=list(FRAME.columns))
    assert [lf.name for lf in lfs] == ["kw_refund", "re_no_signal", "ph_cancel", "sp_terminate", "big_fr"]
    L = apply_lfs(lfs, FRAME, CLASSES, text_column="text").L
    expected = np.array([
        [0, -1, -1, -1, 0],
        [-1, 1, -1, -1, -1],
        [-1, -1, 2, -1, -1],
        [-1, -1, -1, 2, -1],
        [-1, -1, -1, -1, 0],
        [0, -1, -1, -1, -1],
    ])
    assert L.tolist() == expected.tolist()


def test_rule_lfs_match_snorkel_row_by_row(rules_file):
    from snorkel.labeling import PandasLFApplier

    lfs = load_rules([rules_file])
    ours = apply_lfs(lfs, FRAME, CLASSES, text_column="text").L
    theirs = PandasLFApplier([lf.to_snorkel(CLASSES) for lf in lfs]).apply(FRAME, progress_bar=False)
    assert ours.tolist() == theirs.tolist()


BAD = [
    ('class = "billing"', 'class = "biling"', "unknown class 'biling'"),
    ('pattern = "\\\\bno (signal|internet)\\\\b"', 'pattern = "(unclosed"', "bad regex '(unclosed'"),
    ("amount > 100", "amont > 100", "unknown column 'amont'"),
    ('name = "ph_cancel"', 'name = "kw_refund"', "duplicate name (also at line 2)"),
    ("amount > 100", "__import__('os').system('true')", "bad condition"),
    ('words = ["refund", "charged twice"]', 'word = ["refund"]', "'word' is not an option of kind 'keywords'"),
    ('kind = "keywords"', 'kind = "keyword"', "kind 'keyword' is not one of"),
    ('{LOWER = "terminate"}', '{LOWR = "terminate"}', "bad spaCy pattern"),
]


@pytest.mark.parametrize("old,new,message", BAD, ids=[b[2].split("'")[0].strip() or b[2] for b in BAD])
def test_errors_name_file_line_and_rule(tmp_path, old, new, message):
    path = tmp_path / "rules.toml"
    assert old in RULES
    text = RULES.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LabelingFunctionError) as info:
        read_rules(path, classes=list(CLASSES), columns=list(FRAME.columns))
    error = str(info.value)
    assert message in error and str(path) in error
    line = RULES[:RULES.index(old)].count("\n") + 1
    header = max(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("[[rule]]") and n < line)
    assert f"{path}:{header}: rule " in error


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text("[[rule]\nname = 1\n")
    with pytest.raises(Exception, match=r"rules.toml:1: invalid TOML: a rule starts with a \[\[rule\]\] line"):
        read_rules(path)


@pytest.mark.parametrize("text,expected", [
    ('[[rule]]\nname = "kw_refund"\nclass = "billing"\nkind = "keywords"\nwords = ["refund", "money back]\n',
     ':5: rule \'kw_refund\': invalid TOML: a quoted value is not closed on this line: add the closing " (column 32).'),
    ('[[rule]]\nname = "a"\nclass = "billing"\n\n[[rule]]\nname = "kw_b\nclass = "billing"\n',
     ':6: rule \'kw_b\': invalid TOML: a quoted value is not closed on this line: add the closing " (column 13).'),
    ('[[rule]]\nname = "kw_c"\nwords = ["x"\nclass = "billing"\n',
     ":4: rule 'kw_c': invalid TOML: a list opened with [ is not closed: add the closing ] (after its last item)"),
    ('[[rule]]\nname = "kw_d"\nclass = billing\n',
     ":3: rule 'kw_d': invalid TOML: a value must be quoted text, a number, true/false or a [list]"),
])
def test_a_toml_syntax_error_names_the_rule_and_what_to_fix(tmp_path, text, expected):
    """A rules file broken by hand: the message names the line and the rule, and an unclosed quote reads as
    one (tomllib says "Illegal character '\\n'")."""
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(Exception) as caught:
        read_rules(path)
    assert str(caught.value).startswith(f"{path}{expected}") and "Illegal character" not in str(caught.value)


@pytest.mark.parametrize("text,expected", [
    ("amount > 100", [True, False, False, True, True, False]),
    ("country == 'FR' or country == 'BE' and amount > 100", [True, True, False, False, True, False]),
    ("(country == 'FR' or country == 'BE') and amount > 100", [True, False, False, False, True, False]),
    ("not country in ['FR', 'BE']", [False, False, False, True, False, True]),
    ("country not in ['FR', 'BE']", [False, False, False, True, False, False]),
    ("amount is missing or country is missing", [False, False, True, False, False, True]),
    ("text contains 'CANCEL' and amount is not missing", [False, False, False, False, False, False]),
    ("text contains 'refund'", [True, False, False, False, False, False]),
    ("`amount` >= 150 and amount <= 200.5", [False, False, False, True, True, False]),
])
def test_condition_grammar(text, expected):
    condition = parse_condition(text)
    assert condition.mask(FRAME).tolist() == expected
    rows = FRAME.astype(object).where(FRAME.notna(), None).to_dict("records")
    assert [condition.row(r) for r in rows] == expected  # the row path agrees with the vectorised one


@pytest.mark.parametrize("text", [
    "__import__('os').system('echo hacked')", "amount > ", "amount >> 3", "(amount > 3", "country == FR",
    "amount in 3", "", "amount > 1 and", "open('x').read() == 1",
])
def test_condition_grammar_refuses_anything_else(text):
    with pytest.raises(ConditionError):
        parse_condition(text)


def test_save_is_a_minimal_diff_keeping_comments(rules_file):
    before = rules_file.read_text()
    rule = read_rules(rules_file)[0]
    rule.options["words"] = ["refund", "charged twice", "money back"]
    save_rule(rules_file, rule, replaces="kw_refund", expected_sha256=file_sha256(rules_file), classes=list(CLASSES))
    after = rules_file.read_text()
    changed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert changed == ['- words = ["refund", "charged twice"]', '+ words = ["refund", "charged twice", "money back"]']
    assert "# Rules of the support team. Keep this comment." in after and "# money back" in after

    sha = file_sha256(rules_file)
    save_rule(rules_file, Rule("kw_wifi", "connectivity", "keywords", {"words": ["wifi"]}), replaces=None,
              expected_sha256=sha)
    assert [r.name for r in read_rules(rules_file)][-1] == "kw_wifi"
    delete_rule(rules_file, "kw_wifi", expected_sha256=file_sha256(rules_file))
    assert rules_file.read_text().strip() == after.strip()
    assert sorted(p.name for p in rules_file.parent.iterdir()) == ["rules.toml"]  # no temp file left behind


def test_save_refuses_a_file_changed_since_it_was_read(rules_file):
    seen = file_sha256(rules_file)
    rules_file.write_text(RULES + "\n# someone else's edit\n")
    rule = Rule("kw_wifi", "connectivity", "keywords", {"words": ["wifi"]})
    with pytest.raises(RulesConflict, match="changed by someone else"):
        save_rule(rules_file, rule, replaces=None, expected_sha256=seen)
    assert rules_file.read_text().endswith("# someone else's edit\n")


def test_save_refuses_an_invalid_rule_and_leaves_the_file_alone(rules_file):
    before = rules_file.read_bytes()
    bad = Rule("kw_x", "no_such_class", "keywords", {"words": ["x"]})
    with pytest.raises(LabelingFunctionError, match="unknown class 'no_such_class'"):
        save_rule(rules_file, bad, replaces=None, expected_sha256=file_sha256(rules_file), classes=list(CLASSES))
    with pytest.raises(LabelingFunctionError, match="already exists"):
        save_rule(rules_file, Rule("big_fr", "billing", "keywords", {"words": ["x"]}), replaces=None,
                  expected_sha256=file_sha256(rules_file))
    assert rules_file.read_bytes() == before


def test_config_rules_are_loaded_beside_lf_modules(task):
    from labelkit.settings.config import load_config
    from labelkit.pipeline.lf_report import lf_report

    (task.parent / "rules.toml").write_text('[[rule]]\nname = "kw_wifi"\nclass = "connectivity"\n'
                                            'kind = "keywords"\nwords = ["wifi"]\n')
    config = load_config(task, overrides={"task.rules": '["rules.toml"]'})
    report = lf_report(config)
    names = [row["name"] for row in report["lf_summary"]]
    assert names[-1] == "kw_wifi" and "kw_billing" in names
    wifi = report["lf_summary"][-1]
    assert wifi["kind"] == "keywords" and wifi["coverage"] > 0 and wifi["polarity"] == ["connectivity"]


def test_a_rule_cannot_reuse_a_python_lf_name(task):
    from labelkit.settings.config import load_config
    from labelkit.pipeline.stages import load_labeling_functions

    (task.parent / "rules.toml").write_text('[[rule]]\nname = "kw_billing"\nclass = "billing"\n'
                                            'kind = "keywords"\nwords = ["x"]\n')
    config = load_config(task, overrides={"task.rules": '["rules.toml"]'})
    with pytest.raises(LabelingFunctionError, match=r"rules.toml:1: rule 'kw_billing': an LF module already defines"):
        load_labeling_functions(config)
