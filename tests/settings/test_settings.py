"""Settings declared once (labelkit/settings/declare.py): every rule a setting declares is enforced wherever the
value comes from (the config file, LABELKIT_<SECTION>__<KEY>, --set, a command's option, AuditSpec), the
reference in docs/settings.md is the one made from the declarations, and the libraries' own defaults
agree with the declared ones."""
from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from labelkit.settings import options
from labelkit.cli.main import cli
from labelkit.settings.config import SECTIONS, AuditConfig, load_config
from labelkit.settings.reference import settings_markdown
from labelkit.errors import ConfigError
from labelkit.settings.declare import declared

ROOT = Path(__file__).resolve().parents[2]

# one value each setting with a rule must refuse, as TOML value text (a file, the environment and --set alike)
BAD = {
    "task.name": '"../x"', "task.classes": '["a", "a"]', "task.seed": "-1",
    "data.delimiter": '";;"', "data.encoding": '"latin-99"', "data.quote": '"ab"', "data.split": '"shuffled"',
    "data.split_fractions": "[0.5, 0.5]", "data.split_seed": "4294967296",
    "lfs.on_error": '"ignore"', "lfs.engine": '"spark"', "lfs.examples": "-1",
    "label_model.candidates": '["majority", "magic"]', "label_model.metric": '"auc"',
    "label_model.class_balance": "[1.0, -1.0]", "label_model.snorkel_max_width": "-1",
    "label_model.logistic_votes_max_parameters": "-1", "label_model.choose_by": '"dev"',
    "end_model.labels": '"fuzzy"', "end_model.C": "[1.0, 0.0]", "end_model.max_features": "0",
    "end_model.features": '["tfidf", "bert"]', "end_model.class_weight": "[]", "end_model.max_text_chars": "99",
    "end_model.stream_rows": "0", "end_model.gold_weight": "[-2.0]",
    "embeddings.lsa_dimensions": "4096",
    "audit.near_duplicate_threshold": "0.0", "audit.near_duplicate_ngram": "11", "audit.max_similarity_chars": "99",
    "audit.burst_min_rows": "1", "audit.burst_window": '"soon"', "audit.label_issue_min_confidence": "1.5",
    "audit.now": '"someday"', "audit.paraphrase_threshold": "1.01",
    "evaluate.min_slice_size": "0", "evaluate.guardrail_tolerance": "-0.1", "evaluate.bootstrap": "9",
    "evaluate.drift_freq": '"D"', "evaluate.fail_on": '["leakage", "typos"]',
}


def ruled(spec) -> bool:
    return bool(spec.choices or spec.has_range or spec.nonempty or spec.test)


def config_settings():
    return [(section, key, spec) for section, cls in SECTIONS.items() for key, spec in declared(cls).items()]


def test_every_rule_has_a_bad_value_above():
    """A rule added to a declaration gets a case here; one dropped from it fails the cases below."""
    assert set(BAD) == {f"{section}.{key}" for section, key, spec in config_settings() if ruled(spec)}


def test_every_default_passes_its_own_rules():
    holders = [*SECTIONS.values(), *(cls for _, cls, _ in options.REFERENCE)]
    for cls in holders:
        for name, spec in declared(cls).items():
            if spec.default is not None:
                assert spec.problem(spec.convert(spec.default)) is None, (cls.__name__, name)
    assert load_config(None, environ={}).to_dict() == {n: dataclasses.asdict(c()) for n, c in SECTIONS.items()}


def _expected(dotted: str) -> str:
    section, key = dotted.split(".")
    return f"[{section} -> {key}] is "


@pytest.mark.parametrize("dotted", sorted(BAD))
def test_a_bad_value_is_refused_from_the_file_the_environment_and_set(dotted, tmp_path):
    section, key = dotted.split(".")
    allowed = "; allowed: " + declared(SECTIONS[section])[key].allowed()
    path = tmp_path / "labelkit.toml"
    path.write_text(f"[{section}]\n{key} = {BAD[dotted]}\n")
    with pytest.raises(ConfigError) as from_file:
        load_config(path, environ={})
    variable = f"LABELKIT_{section.upper()}__{key.upper()}"
    with pytest.raises(ConfigError) as from_env:
        load_config(None, environ={variable: BAD[dotted]})
    with pytest.raises(ConfigError) as from_set:
        load_config(None, overrides={dotted: BAD[dotted]}, environ={})
    assert str(from_file.value).startswith(f"{path}: {_expected(dotted)}") and allowed in str(from_file.value)
    assert str(from_env.value).startswith(f"{variable}: {_expected(dotted)}") and allowed in str(from_env.value)
    assert str(from_set.value).startswith(_expected(dotted)) and allowed in str(from_set.value)


def test_text_from_the_environment_and_set_is_read_as_the_setting_reads_it(tmp_path):
    config = load_config(None, environ={"LABELKIT_END_MODEL__C": "0.5,2", "LABELKIT_TASK__NAME": "2024"},
                         overrides={"data.split_fractions": "0.8,0.1,0.1", "evaluate.expectations": "true"})
    assert config.end_model.C == [0.5, 2.0] and config.task.name == "2024"  # a text setting keeps its text
    assert config.data.split_fractions == [0.8, 0.1, 0.1] and config.evaluate.expectations == "true"
    with pytest.raises(ConfigError, match=r"^LABELKIT_TASK__SEDE: \[task -> sede\] is not a setting; settings of"):
        load_config(None, environ={"LABELKIT_TASK__SEDE": "1"})
    with pytest.raises(ConfigError, match=r"^LABELKIT_MODLE__X: \[modle\] is not a section"):
        load_config(None, environ={"LABELKIT_MODLE__X": "1"})
    with pytest.raises(ConfigError, match=r"^\[task -> seed\] must be int, got 'x'"):
        load_config(None, overrides={"task.seed": "x"}, environ={})


def test_precedence_and_tables(tmp_path):
    path = tmp_path / "labelkit.toml"
    path.write_text('[task]\nseed = 1\n[audit]\npolicies = {test_row = "flag"}\n')
    env = {"LABELKIT_TASK__SEED": "2", "LABELKIT_AUDIT__POLICIES": '{duplicate = "drop"}'}
    config = load_config(path, environ=env, overrides={"task.seed": "3"})
    assert config.task.seed == 3 and config.audit.policies == {"test_row": "flag", "duplicate": "drop"}
    assert load_config(path, environ=env).task.seed == 2 and load_config(path, environ={}).task.seed == 1


def test_audit_spec_takes_audit_defaults_and_rules_from_the_one_declaration():
    from labelkit.quality import AuditSpec

    spec_view, config_view = declared(AuditSpec), declared(AuditConfig)
    shared = set(spec_view) & set(config_view)
    assert shared == {"near_duplicate_threshold", "near_duplicate_ngram", "max_similarity_chars", "burst_min_rows",
                      "burst_window", "label_issue_min_confidence", "now", "paraphrase_model", "paraphrase_threshold"}
    made = AuditSpec("id", "text", "label", ("a", "b"))
    for name in shared - {"now"}:  # now: None in the API, "" in the file
        assert spec_view[name] == config_view[name] and getattr(made, name) == getattr(AuditConfig(), name)
    for name in shared:
        bad = BAD.get(f"audit.{name}")
        if bad is None:
            continue
        value = config_view[name].from_text(bad)
        with pytest.raises(ConfigError, match=rf"^AuditSpec\.{name} is {value!r}; allowed: "):
            AuditSpec("id", "text", "label", ("a", "b"), **{name: value})
    with pytest.raises(ConfigError, match=r"^AuditSpec\.cv_folds is 1; allowed: an integer >= 2\.$"):
        AuditSpec("id", "text", "label", ("a", "b"), cv_folds=1)


def test_the_audit_now_is_read_by_the_one_timestamp_rule():
    """`now` is checked by labelkit/io/times.py's utc_timestamp, the rule the future-timestamp check reads it with:
    what it cannot read (NaN, which pd.Timestamp took as NaT) is refused when the spec is made, not mid-audit."""
    from labelkit.io.times import utc_timestamp
    from labelkit.quality import AuditSpec

    for fine in ("2026-01-31", "2024-06-01T12:00:00+02:00", "", None):
        AuditSpec("id", "text", "label", ("a", "b"), now=fine)
    for bad in (float("nan"), "someday", "2024-13-45"):
        with pytest.raises(ValueError):
            utc_timestamp(bad)
        with pytest.raises(ConfigError, match=rf"^AuditSpec\.now is {re.escape(repr(bad))}; allowed: "):
            AuditSpec("id", "text", "label", ("a", "b"), now=bad)


# one value each command option with a rule must refuse, as typed
BAD_OPTIONS = {
    "serve": {"port": "70000", "log_input": "everything", "shadow_sample": "1.5", "shadow_queue": "0",
              "shadow_timeout": "0", "max_body_bytes": "0", "max_batch": "0", "missing_time": "later"},
    "monitor": {"fail_on": "sometimes"},
    "repair": {"max_overall_loss": "1", "weights": "2,1", "strategies": "slice,luck", "class_weights": "",
               "max_candidates": "0", "label_next": "-1"},
    "label-next": {"budget": "0", "seed": "-1"},
}
THRESHOLD_BAD = {"z": "-1", "relative": "-0.1", "absolute": "-0.1", "min_rows": "-1", "js_max": "1.5",
                 "challenger_max": "1.5", "accuracy_drop": "2", "min_requests": "-1", "clear_fraction": "2",
                 "cooldown": "-1"}
COMMANDS = {"serve": options.ServeOptions, "monitor": options.MonitorOptions, "repair": options.RepairOptions,
            "label-next": options.LabelNextOptions}


def test_every_option_rule_has_a_bad_value_above():
    for command, cls in COMMANDS.items():
        assert set(BAD_OPTIONS[command]) == {name for name, spec in declared(cls).items() if ruled(spec)}, command
    assert set(THRESHOLD_BAD) == set(declared(options.MonitorThresholds))


def _command(command: str, tmp_path: Path) -> list[str]:
    log = tmp_path / "serve.sqlite"
    log.touch()
    return {"serve": ["serve", str(tmp_path)], "monitor": ["monitor", str(log), "--reference", str(tmp_path)],
            "repair": ["repair", str(tmp_path / "run")],
            "label-next": ["label-next", str(tmp_path / "run"), "--budget", "1"]}[command]


@pytest.mark.parametrize("command, name", [(c, n) for c in BAD_OPTIONS for n in BAD_OPTIONS[c]])
def test_a_bad_option_value_is_a_usage_error(command, name, tmp_path):
    flag = options.flag(name)
    result = CliRunner().invoke(cli, [*_command(command, tmp_path), f"{flag}={BAD_OPTIONS[command][name]}"])
    assert result.exit_code == 2 and f"Invalid value for '{flag}'" in result.output, result.output
    assert not (tmp_path / "run-repaired").exists()


@pytest.mark.parametrize("name", sorted(THRESHOLD_BAD))
def test_a_bad_monitor_threshold_is_a_usage_error(name, tmp_path):
    item = f"{name}={THRESHOLD_BAD[name]}"
    result = CliRunner().invoke(cli, [*_command("monitor", tmp_path), "--threshold", item])
    allowed = declared(options.MonitorThresholds)[name].allowed()
    assert result.exit_code == 2 and f"--threshold {item!r}: {name} is " in result.output, result.output
    assert f"allowed: {allowed}." in result.output


def test_command_options_mirror_the_declarations():
    """Choices and defaults come from the declaration (`labelkit build --engine`, serve's --log-input ...)."""
    from labelkit.cli.build import build_cli
    from labelkit.cli.serve import serve_cli

    build = {p.name: p for p in build_cli.params}
    assert tuple(build["engine"].type.choices) == declared(SECTIONS["lfs"])["engine"].choices
    assert tuple(build["lf_errors"].type.choices) == declared(SECTIONS["lfs"])["on_error"].choices
    serve = {p.name: p for p in serve_cli.params}
    for name, spec in declared(options.ServeOptions).items():
        assert serve[name].default == spec.default and serve[name].help == spec.help


def test_library_defaults_are_the_declared_ones():
    """The entry points behind the commands take their defaults from options.py (no copy to drift)."""
    from labelkit.evaluate.drift import FREQUENCIES
    from labelkit.human.label_next import label_next
    from labelkit.labelmodels import LABEL_MODELS
    from labelkit.monitor import MonitorResult
    from labelkit.monitor.metrics import MonitorSettings
    from labelkit.repair import plan, reweight
    from labelkit.serve.app import ServeSettings
    from labelkit.serve.server import open_service, run_server

    def defaults(function) -> dict:
        return {n: p.default for n, p in inspect.signature(function).parameters.items()}

    serve = {n: s.default for n, s in declared(options.ServeOptions).items()}
    assert {n: s.default for n, s in declared(ServeSettings).items()} == {
        n: serve[n] for n in ("max_body_bytes", "max_batch", "log_input", "shadow_sample", "missing_time")}
    assert {n: d for n, d in defaults(open_service).items() if n in serve} == {
        n: serve[n] for n in ("shadow_queue", "shadow_timeout")}
    assert {n: d for n, d in defaults(run_server).items() if n in serve} == {n: serve[n] for n in ("host", "port")}
    monitor = {**declared(options.MonitorOptions), **declared(options.MonitorThresholds)}
    assert {n: s.default for n, s in monitor.items() if n != "fail_on"} == dataclasses.asdict(MonitorSettings())
    assert defaults(MonitorResult.exit_code)["fail_on"] == monitor["fail_on"].default
    repair = {n: s.default for n, s in declared(options.RepairOptions).items()}
    called = defaults(plan.repair_run)
    assert {n: list(v) if isinstance(v, tuple) else v for n, v in called.items() if n in repair} == repair
    assert reweight.STRATEGIES == declared(options.RepairOptions)["strategies"].choices
    assert reweight.CLASS_WEIGHTS == declared(options.RepairOptions)["class_weights"].choices
    assert defaults(label_next)["seed"] == declared(options.LabelNextOptions)["seed"].default
    label_model = declared(SECTIONS["label_model"])
    assert label_model["candidates"].choices == tuple(LABEL_MODELS) == tuple(label_model["candidates"].default)
    assert declared(SECTIONS["evaluate"])["drift_freq"].choices == ("auto", *FREQUENCIES)


class _Service:
    """A stand-in for run_server's service: a bad port is refused before uvicorn starts."""

    closed = False

    def close(self) -> None:
        self.closed = True


def _library_call(command: str, name: str, value, tmp_path: Path):
    """(what the refusal names, the call) of the library entry point behind a command's option."""
    import pandas as pd

    from labelkit.human.label_next import label_next
    from labelkit.monitor import MonitorResult
    from labelkit.monitor.metrics import MonitorSettings
    from labelkit.repair import repair_run
    from labelkit.serve.app import ServeSettings
    from labelkit.serve.server import open_service, run_server

    run = tmp_path / "run"  # never read: the value is refused first
    if command == "serve" and name in ("shadow_queue", "shadow_timeout"):
        return "open_service", lambda: open_service(run, **{name: value})
    if command == "serve" and name == "port":
        service = _Service()

        def serve():
            try:
                run_server(service, **{name: value})  # type: ignore[arg-type]
            finally:
                assert service.closed
        return "run_server", serve
    if command == "serve":
        return "ServeSettings", lambda: ServeSettings(**{name: value})
    if command == "monitor" and name == "fail_on":
        result = MonitorResult(pd.DataFrame({"window": [], "alert": []}), MonitorSettings(), run, None, 0, [])
        return "MonitorResult.exit_code", lambda: result.exit_code(value)
    if command == "monitor":
        return "MonitorSettings", lambda: MonitorSettings(**{name: value})
    if command == "repair":
        return "repair_run", lambda: repair_run(run, out=tmp_path / "out", **{name: value})
    return "label_next", lambda: label_next(run, **{"budget": 1, name: value})


LIBRARY_BAD = [(c, n, t) for c in BAD_OPTIONS for n, t in BAD_OPTIONS[c].items()] + [
    ("monitor", n, t) for n, t in THRESHOLD_BAD.items()] + [
    ("repair", "weights", "[0.5]"), ("repair", "weights", "[2.0, inf]"), ("repair", "strategies", "[]"),
    ("label-next", "budget", "-3")]


@pytest.mark.parametrize("command, name, text", LIBRARY_BAD)
def test_a_library_call_with_a_bad_value_is_refused_with_the_declared_rule(command, name, text, tmp_path):
    """repair_run(..., weights=[0.5]), label_next(..., budget=0), ServeSettings(log_input="everything") ...
    are refused as the command refuses the option: one ConfigError line, the name, the value, what is allowed."""
    holder = {**COMMANDS, "monitor": options.MonitorThresholds if name in THRESHOLD_BAD else options.MonitorOptions}
    spec = declared(holder[command])[name]
    value = spec.convert(spec.from_text(text))
    where, call = _library_call(command, name, value, tmp_path)
    with pytest.raises(ConfigError) as refused:
        call()
    assert str(refused.value) == f"{where}.{name} is {value!r}; allowed: {spec.allowed()}."
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()


def test_valid_library_values_pass_unchanged():
    from labelkit.monitor.metrics import MonitorSettings
    from labelkit.serve.app import ServeSettings

    assert ServeSettings(log_input="hash", shadow_sample=0, missing_time="now").shadow_sample == 0
    assert MonitorSettings(window="6h", js_max=1, cooldown=0).js_max == 1


def test_the_settings_reference_is_made_from_the_declarations():
    committed = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert committed == settings_markdown(), (
        "docs/settings.md differs from the declarations; regenerate it: python -c \"import labelkit.settings.reference as r; "
        "open('docs/settings.md', 'w').write(r.settings_markdown())\"")
    for section, key, spec in config_settings():
        assert f"| `{key}` |" in committed and spec.help, (section, key)
