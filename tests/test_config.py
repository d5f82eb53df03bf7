"""labelkit.toml: validation with clear messages, and precedence defaults < file < env < --set."""
from __future__ import annotations

import pytest

from labelkit.config import load_config
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
    with pytest.raises(ConfigError, match=r"allowed: dev, uniform, estimate"):
        load_config(write(tmp_path, '[label_model]\nclass_balance = "magic"\n'), environ={})
