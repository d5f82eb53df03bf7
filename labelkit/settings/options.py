"""The options of `labelkit serve`, `monitor`, `repair` and `label-next` that are settings, declared once
(labelkit/settings/declare.py): the commands' click types, defaults and help come from here (labelkit/cli/), and so
does their part of docs/settings.md, and so do the libraries' entry points behind them: serve.app.ServeSettings,
serve.server.open_service, monitor.metrics.MonitorSettings, monitor.MonitorResult.exit_code, repair.repair_run
(repair/reweight.py's constants) and human.label_next.label_next take their defaults from here and refuse a
bad value with the declared rule (declare.check_declared / check_values), as the commands do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelkit.settings.config import TaskConfig
from labelkit.settings.declare import same_as, setting

SHARE: dict[str, Any] = dict(ge=0, le=1)  # range rules, passed as setting(..., **SHARE)


@dataclass
class ServeOptions:
    host: str = setting("127.0.0.1", "Interface to bind (loopback by default).")
    port: int = setting(8000, "Port to listen on.", ge=0, le=65535)
    log_input: str = setting("full", "Log each request's fields, only their SHA-256, or nothing.",
                             choices=("full", "hash", "none"))
    shadow_sample: float = setting(1.0, "Fraction of requests sent to the shadow systems (by request id); the rest "
                                        "are counted.", **SHARE)
    shadow_queue: int = setting(1000, "Shadow jobs in flight (submitted, not yet answered) at most; beyond it requests "
                                      "are shed from shadow (and counted).", ge=1)
    shadow_timeout: float = setting(30.0, "Seconds a shadow batch may run before the worker is restarted.", gt=0)
    max_body_bytes: int = setting(1_000_000, "Larger bodies get 413.", ge=1)
    max_batch: int = setting(1000, "Rows per request at most.", ge=1)
    missing_time: str = setting("reject", "With --time-field, a request without the field is refused with 422, or "
                                          "logged at its arrival.", choices=("reject", "now"))


@dataclass
class MonitorOptions:
    window: str = setting("1d", "Window length: 30m, 6h, 1d, 1w ...")
    fail_on: str = setting("latest", "Exit 1 when an alert is active in the latest window / in any window / never.",
                           choices=("latest", "any", "never"))


@dataclass
class MonitorThresholds:
    """`labelkit monitor --threshold NAME=VALUE` (monitor.metrics.MonitorSettings)."""

    z: float = setting(3.5, "Standard errors a rate must move before it can alert.", ge=0)
    relative: float = setting(0.4, "... and by this fraction of its reference value.", ge=0)
    absolute: float = setting(0.02, "... and by at least this much.", ge=0)
    min_rows: int = setting(30, "A window or slice with fewer rows is reported, never alerted on.", ge=0)
    js_max: float = setting(0.1, "Output drift: Jensen-Shannon distance above this and above sampling noise alerts.",
                            **SHARE)
    challenger_max: float = setting(0.15, "Only for a challenger whose build folder is unknown: disagreement above "
                                          "this alerts.", **SHARE)
    accuracy_drop: float = setting(0.05, "(Estimated) accuracy this far under the reference test accuracy alerts.",
                                   **SHARE)
    min_requests: int = setting(1, "A window with fewer requests alerts (no traffic).", ge=0)
    clear_fraction: float = setting(0.5, "Hysteresis: an alert clears once back within this fraction of its band.",
                                    **SHARE)
    cooldown: int = setting(1, "Windows after an alert clears during which a new breach only warns.", ge=0)


@dataclass
class RepairOptions:
    max_overall_loss: float = setting(0.005, "Overall dev score the repair may give up (0.005 = half a point of "
                                             "accuracy).", ge=0, lt=1)
    weights: list[float] = setting([2.0, 4.0, 8.0], "Slice weights tried.", kind="list[float]", gt=1, nonempty=True)
    strategies: list[str] = setting(["slice", "errors"], "What gets the weight: slice (the slice's train rows), "
                                    "errors (the first model's error set).", kind="list[str]",
                                    choices=("slice", "errors"), nonempty=True)
    class_weights: list[str] = setting(["build", "balanced"], "Class weights tried with each slice weight: build "
                                       "(the build's choice), balanced, none.", kind="list[str]",
                                       choices=("build", "balanced", "none"), nonempty=True)
    max_candidates: int = setting(None, "Search budget: at most this many candidate fits per slice, the smallest "
                                        "weight of each strategy first (none: every candidate; larger weights of a "
                                        "strategy are skipped once one costs more than max_overall_loss).",
                                    kind="int", ge=1)
    label_next: int = setting(50, "Rows to label next, per slice.", ge=0)


@dataclass
class LabelNextOptions:
    budget: int = setting(None, "How many rows to choose (the labels you can afford now).", kind="int", ge=1,
                          required=True)
    seed: int = same_as(TaskConfig, "seed", default=None, help="Tie-break seed (none: the build's task.seed).")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# (heading, declarations, how a setting is written) for docs/settings.md
REFERENCE = [
    ("labelkit serve", ServeOptions, flag),
    ("labelkit monitor", MonitorOptions, flag),
    ("labelkit monitor --threshold NAME=VALUE", MonitorThresholds, lambda name: f"--threshold {name}=VALUE"),
    ("labelkit repair", RepairOptions, flag),
    ("labelkit label-next", LabelNextOptions, flag),
]
