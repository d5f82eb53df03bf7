"""labelkit.toml: validation with clear messages, and precedence defaults < file < env < --set."""
from __future__ import annotations

import pytest

from labelkit.settings.config import load_config
from labelkit.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "labelkit.toml"
    path.write_text(text)
    return path


def test_unknown_key_names_section_and_valid_keys(tmp_path):
    path = write(tmp_path, '[task]\nclasses = ["a", "b"]\nsede = 3\n')
    with pytest.raises(ConfigError, match=r"\[task -> sede\] is not a setting; settings of \[task\] are: name, classes"):
        load_config(path, environ={})


def test_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match=r"\[modle\] is not a section"):
        load_config(write(tmp_path, "[modle]\nx = 1\n"), environ={})


def test_wrong_type_and_choice(tmp_path):
    with pytest.raises(ConfigError, match=r"\[task -> seed\] must be int, got 'x'"):
        load_config(write(tmp_path, '[task]\nseed = "x"\n'), environ={})
    with pytest.raises(ConfigError, match=r"\[lfs -> engine\] is 'spark'; allowed: local, processes, dask"):
        load_config(write(tmp_path, '[lfs]\nengine = "spark"\n'), environ={})


def test_include_uncovered_is_auto_true_or_false(tmp_path):
    assert load_config(write(tmp_path, "[task]\nseed = 1\n"), environ={}).end_model.include_uncovered == "auto"
    for text, value in (("true", True), ("false", False), ('"auto"', "auto")):
        config = load_config(write(tmp_path, f"[end_model]\ninclude_uncovered = {text}\n"), environ={})
        assert config.end_model.include_uncovered is value or config.end_model.include_uncovered == value
    assert load_config(None, environ={}, overrides={"end_model.include_uncovered": "false"}).end_model.include_uncovered is False
    with pytest.raises(ConfigError, match=r'\[end_model -> include_uncovered\] must be true, false or "auto", got \'yes\''):
        load_config(write(tmp_path, '[end_model]\ninclude_uncovered = "yes"\n'), environ={})


def test_precedence_file_env_set(tmp_path):
    path = write(tmp_path, "[task]\nseed = 1\nname = 'f'\n")
    assert load_config(path, environ={}).task.seed == 1
    assert load_config(path, environ={"LABELKIT_TASK__SEED": "2"}).task.seed == 2
    config = load_config(path, environ={"LABELKIT_TASK__SEED": "2"}, overrides={"task.seed": "3"})
    assert config.task.seed == 3 and config.task.name == "f"


def test_paths_resolve_against_the_config_folder(tmp_path):
    path = write(tmp_path, '[data]\ntrain = "sub/train.csv"\n')
    config = load_config(path, environ={})
    assert config.resolve(config.data.train) == tmp_path / "sub" / "train.csv"


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[task\n"), environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})


def test_class_balance_given_as_proportions(tmp_path):
    path = write(tmp_path, '[task]\nclasses = ["a", "b"]\n[label_model]\nclass_balance = [3, 1]\n')
    assert load_config(path, environ={}).label_model.class_balance == [3.0, 1.0]
    with pytest.raises(ConfigError, match=r"has 3 numbers for 2 classes"):
        load_config(write(tmp_path, '[task]\nclasses = ["a", "b"]\n[label_model]\nclass_balance = [1, 1, 1]\n'), environ={})
    with pytest.raises(ConfigError, match=r"class_balance\] is .magic.; allowed: .*dev, uniform, estimate"):
        load_config(write(tmp_path, '[label_model]\nclass_balance = "magic"\n'), environ={})


@pytest.mark.parametrize("setting, value, message", [
    ("evaluate.bootstrap", "5", r"\[evaluate -> bootstrap\] is 5; allowed: an integer >= 10"),
    ("end_model.C", "[0.0, 1.0]", r"\[end_model -> C\] is \[0.0, 1.0\]; allowed: a non-empty list of numbers > 0"),
    ("evaluate.guardrail_tolerance", "-0.1", r"\[evaluate -> guardrail_tolerance\] is -0.1; allowed: a number in \[0, 1\]"),
    ("audit.near_duplicate_threshold", "1.01", r"\[audit -> near_duplicate_threshold\] is 1.01; allowed: a number in \(0, 1\]"),
    ("task.seed", "4294967296", r"\[task -> seed\] is 4294967296; allowed: an integer in \[0, 2\*\*32\)"),
    ("task.name", '".hidden"', r"\[task -> name\] is '.hidden'"),
    ("task.name", '"a/b"', r"\[task -> name\] is 'a/b'"),
    ("data.split", "shuffled", r"\[data -> split\] is 'shuffled'; allowed: random, time"),
    ("data.quote", '"ab"', r"\[data -> quote\] is 'ab'; allowed: one character"),
])
def test_ranges_are_checked_when_loaded(setting, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides={setting: value}, environ={})


def test_plain_task_names_and_range_edges_load():
    config = load_config(None, overrides={"task.name": '"tickets v2.1"', "evaluate.bootstrap": "10",
                                          "evaluate.guardrail_tolerance": "0", "end_model.C": "[1e-3, 1e3]",
                                          "data.delimiter": "\\t"}, environ={})
    assert config.task.name == "tickets v2.1" and config.end_model.C == [1e-3, 1e3]
